/**
 * How the program refuses a stack: a plain message on the engine's log, before any resource
 * registers (in preview already), never a stack trace for our own validation errors.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./config";
import { BundleError, MigrationsFolderError } from "./migrations/bundle";

/** A refusal whose message is complete as it stands (the promotion gate's, the buckets'). */
export class Refusal extends Error {
  override name = "Refusal";
}

/** Our own validation errors print as plain messages, without a stack trace. */
export async function userErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (
      err instanceof ConfigError ||
      err instanceof BundleError ||
      err instanceof Refusal ||
      err instanceof pulumi.RunError
    )
      return refuse(err.message);
    if (err instanceof MigrationsFolderError) {
      const stack = pulumi.getStack();
      return refuse(
        `stack ${stack}: ${err.message}\n  Set it with \`npm run pulumi -- config set --stack ${stack} migrationsDir <folder>\` ` +
          `(stored in Pulumi.${stack}.yaml; relative to the project; default sql/migrations).`,
      );
    }
    throw err;
  }
}

/**
 * Reports a refusal and ends the program at once. A thrown error would be
 * reported too, but the program's gRPC channels then keep node alive for
 * about twenty seconds; exit code 32 tells the engine the error is reported.
 */
export async function refuse(message: string): Promise<never> {
  await pulumi.log.error(message);
  process.exit(32);
}
