import { createHmac } from "node:crypto";

const base64url = (data: string | Buffer): string => Buffer.from(data).toString("base64url");

/**
 * Signs an HS256 JWT the way Supabase's anon and service-role keys are signed
 * (the project's JWT secret, `role` claim, issuer, issued-at and expiry).
 */
export function signJwt(claims: Record<string, unknown>, secret: string): string {
  const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = base64url(JSON.stringify(claims));
  const signature = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

/** Verifies an HS256 JWT and returns its claims; throws when the signature does not match. */
export function verifyJwt(token: string, secret: string): Record<string, unknown> {
  const [header, payload, signature] = token.split(".");
  if (!header || !payload || !signature)
    throw new Error("not a JWT: expected three dot-separated parts");
  const expected = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
  if (expected !== signature) throw new Error("JWT signature does not match the secret");
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
}

/** The anon and service-role keys of a project with this JWT secret and ref. */
export function mintProjectKeys(
  jwtSecret: string,
  ref: string,
  issuedAt: number,
): { anonKey: string; serviceRoleKey: string } {
  // Ten years, like the keys of a Supabase project.
  const exp = issuedAt + 10 * 365 * 24 * 3600;
  const claims = (role: string) => ({ iss: "supabase", ref, role, iat: issuedAt, exp });
  return {
    anonKey: signJwt(claims("anon"), jwtSecret),
    serviceRoleKey: signJwt(claims("service_role"), jwtSecret),
  };
}
