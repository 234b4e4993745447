/**
 * What the apply sends for a batch under the local platform's hosted model: the statements around
 * (or in place of) each file statement, each mapped back to it (`of`), so a failure located in the
 * one message names the file's statement. The SQL itself runs in test/integration/hosted-privileges.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";

import { hostedRun, sentStatements } from "../../components/migrations/hosted-privileges";
import { initParser, splitStatements } from "../../components/migrations/split";

const statements = (sql: string) => splitStatements(sql, { file: "x.sql", lineOffset: 0 });

beforeAll(async () => {
  await initParser();
});

describe("sentStatements", () => {
  const policy = "create policy p on storage.objects for select using (true)";
  const batch = `create table t (a int);\n${policy};\nselect 1;\n`;

  it("sends the file's statements as they are without the hosted model", () => {
    expect(sentStatements(statements(batch), false)).toEqual([
      { sql: "create table t (a int)", of: 0 },
      { sql: policy, of: 1 },
      { sql: "select 1", of: 2 },
    ]);
  });

  it("puts the role switch around granted policy DDL, each part mapped to its statement", () => {
    const run = hostedRun(statements(`${policy};`)[0]!);
    expect(run.before).toBeDefined();
    expect(run.after).toBeDefined();
    expect(sentStatements(statements(batch), true)).toEqual([
      { sql: "create table t (a int)", of: 0 },
      { sql: run.before, of: 1 },
      { sql: policy, of: 1 },
      { sql: run.after, of: 1 },
      { sql: "select 1", of: 2 },
    ]);
  });

  it("sends a refusal in place of a statement hosted would refuse", () => {
    const sent = sentStatements(statements("alter role supabase_admin nologin;\n"), true);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.of).toBe(0);
    expect(sent[0]!.sql).toMatch(/"supabase_admin" is a reserved role/);
  });
});
