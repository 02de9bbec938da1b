import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ReadOnlySession, type PostgresTarget, type SessionLimits } from '../../shared/integrations/postgres/read-only-session.js';
import { parseConnectionUrl } from '../../shared/integrations/postgres/connection-url.js';
import { defaultSessionLimits } from '../../shared/integrations/postgres/session-limits.js';
import { allUsers, registry, uniqueTenant, userByEmail } from '../support/import-harness.js';
import { adminQuery, createDatabase, startPostgres, type RunningPostgres } from '../support/postgres-server.js';
import { configure, drive, integrations, startSecrets, syncNow, users } from '../support/postgres-sync-harness.js';

let pg: RunningPostgres;
let secrets: Awaited<ReturnType<typeof startSecrets>>;
let databaseCount = 0;

beforeAll(async () => {
  [pg, secrets] = await Promise.all([startPostgres(), startSecrets()]);
}, 120_000);
afterAll(async () => {
  await secrets?.close();
  await pg?.stop();
});

/** Runs `action` with stdout and stderr captured (what the function's log would hold). */
async function captureOutput<T>(action: () => Promise<T>): Promise<{ result: T; written: string }> {
  const chunks: string[] = [];
  const spies = [process.stdout, process.stderr].map((stream) =>
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      chunks.push(String(chunk));
      return true;
    }),
  );
  try {
    return { result: await action(), written: chunks.join('') };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

/** A fresh database with a read-only role `reader_<n>` (what a tenant should give Roster). */
async function tenantDatabase(setup: string) {
  const name = `tenant_${(databaseCount += 1)}`;
  await createDatabase(pg.url(), name);
  const role = `reader_${databaseCount}`;
  const password = `pw_${Math.random().toString(36).slice(2)}`;
  await adminQuery(pg.url(name), setup);
  await adminQuery(pg.url(name), `CREATE ROLE ${role} LOGIN PASSWORD '${password}'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
  return {
    name,
    admin: (sql: string, values: unknown[] = []) => adminQuery(pg.url(name), sql, values),
    url: `postgresql://${role}:${password}@127.0.0.1:${pg.port}/${name}?sslmode=disable`,
    password,
  };
}

const customersTable = `
  CREATE TABLE customers (id integer PRIMARY KEY, email text, plan text, visits integer, updated_at timestamptz);
`;

describe('first run and incremental runs', () => {
  it('imports 50,000 rows on the first run, then only the ~25 touched rows (plus null updated_at rows)', async () => {
    const db = await tenantDatabase(`${customersTable}
      INSERT INTO customers SELECT g, 'user' || g || '@example.com', CASE WHEN g % 2 = 0 THEN 'pro' ELSE 'free' END, g % 100, now() - interval '2 days' FROM generate_series(1, 50000) g;
      UPDATE customers SET updated_at = NULL WHERE id IN (7, 8);`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT email, plan, visits, updated_at FROM customers', enabled: true });

    const first = await syncNow(secrets.store, tenant);
    expect(first.results).toEqual(['succeeded']);
    expect(first.run).toMatchObject({ status: 'succeeded', errorCount: 0 });
    expect(first.run.counts).toEqual({ rows: 50_000, created: 50_000, updated: 0, unchanged: 0, skipped: 0, failed: 0, nullUpdatedAt: 2 });
    const all = await allUsers(tenant);
    expect(all).toHaveLength(50_000);
    expect(all.find((user) => user.email === 'user42@example.com')?.properties).toEqual({ plan: 'pro', visits: 42 });
    // Integer columns register number properties, not strings.
    expect((await registry.types(tenant)).get('visits')).toBe('number');

    await db.admin(`UPDATE customers SET plan = 'gold', updated_at = now() WHERE id BETWEEN 101 AND 125`);
    const second = await syncNow(secrets.store, tenant);
    expect(second.run.counts).toEqual({ rows: 27, created: 0, updated: 25, unchanged: 2, skipped: 0, failed: 0, nullUpdatedAt: 2 });
    expect((await allUsers(tenant)).filter((user) => user.properties.plan === 'gold')).toHaveLength(25);
  }, 120_000);

  it('binds $LAST_SYNC_TIMESTAMP as a timestamptz parameter: the epoch first, then the last start minus the overlap', async () => {
    const db = await tenantDatabase(`${customersTable}
      INSERT INTO customers VALUES (1, 'old@example.com', 'free', 1, now() - interval '1 day'), (2, 'new@example.com', 'pro', 2, now() - interval '1 day');`);
    const tenant = uniqueTenant('pg');
    // A tenant-written filter on another column name; Roster adds none of its own.
    await configure(secrets.store, tenant, {
      connectionUrl: db.url,
      query: `SELECT email, plan, updated_at AS changed FROM customers WHERE updated_at >= $LAST_SYNC_TIMESTAMP -- '$LAST_SYNC_TIMESTAMP' in a comment stays`,
      enabled: true,
    });
    expect((await syncNow(secrets.store, tenant)).run.counts.rows).toBe(2);
    expect((await syncNow(secrets.store, tenant)).run.counts.rows).toBe(0);
    await db.admin(`UPDATE customers SET plan = 'gold', updated_at = now() WHERE id = 2`);
    const third = await syncNow(secrets.store, tenant);
    expect(third.run.counts).toMatchObject({ rows: 1, updated: 1 });
  }, 60_000);

  it('picks up in the next run a row committed during a run by a transaction that began before it (the overlap window)', async () => {
    const db = await tenantDatabase(`${customersTable} INSERT INTO customers VALUES (1, 'a@example.com', 'free', 1, now() - interval '1 day');`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT email, plan, updated_at FROM customers', enabled: true });
    // While the run reads (its snapshot taken), a row arrives stamped a minute before the run began.
    const openSession = async (target: PostgresTarget, limits: SessionLimits) => {
      const session = await ReadOnlySession.open(target, limits);
      const snapshotStartedAt = session.snapshotStartedAt.bind(session);
      session.snapshotStartedAt = async () => {
        const at = await snapshotStartedAt();
        await db.admin(`INSERT INTO customers VALUES (2, 'late@example.com', 'pro', 2, $1::timestamptz - interval '1 minute')`, [at]);
        return at;
      };
      return session;
    };
    const first = await syncNow(secrets.store, tenant, { openSession });
    expect(first.run.counts.rows).toBe(1);
    const second = await syncNow(secrets.store, tenant);
    expect(second.run.counts).toMatchObject({ rows: 1, created: 1 });
    expect((await allUsers(tenant)).map((user) => user.email).sort()).toEqual(['a@example.com', 'late@example.com']);
    // A row stamped exactly at the watermark is read too (the comparison is inclusive).
    const item = (await integrations.get(tenant, 'postgres'))!;
    await db.admin(`INSERT INTO customers VALUES (3, 'edge@example.com', 'pro', 3, $1::timestamptz)`, [item.watermark]);
    expect((await syncNow(secrets.store, tenant)).run.counts).toMatchObject({ created: 1 });
  }, 60_000);

  it('a failed run does not move the watermark', async () => {
    const db = await tenantDatabase(`${customersTable} INSERT INTO customers VALUES (1, 'a@example.com', 'free', 1, now() - interval '1 day');`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT email, plan, updated_at FROM customers', enabled: true });
    await syncNow(secrets.store, tenant);
    const before = (await integrations.get(tenant, 'postgres'))!.watermark;
    expect(before).toEqual(expect.any(String));
    await db.admin(`REVOKE SELECT ON customers FROM ${new URL(db.url).username}`);
    const failed = await syncNow(secrets.store, tenant);
    expect(failed.run).toMatchObject({ status: 'failed', error: { code: 'query_failed', message: expect.stringMatching(/permission denied for table customers/) } });
    expect((await integrations.get(tenant, 'postgres'))!.watermark).toBe(before);
  }, 60_000);
});

describe('values and time zones', () => {
  it('converts timestamptz written in several zones to ISO UTC, whatever the role’s TimeZone; types map to properties', async () => {
    const db = await tenantDatabase(`
      CREATE TABLE people (email text, seen timestamptz, local_seen timestamp, born date, score numeric, big bigint, vip boolean, tags text[], prefs jsonb, updated_at timestamptz);
      INSERT INTO people VALUES
        ('east@example.com', '2024-03-01 12:00:00+05:30', '2024-03-01 12:00:00', '1990-02-28', 12.5, 9007199254740991, true, '{a,"b c"}', '{"x": 1}', now() - interval '1 day'),
        ('west@example.com', '2024-03-01 12:00:00-08:00', '2024-11-03 01:30:00', '2000-01-01', -3, 1, false, '{}', '[]', now() - interval '1 day');`);
    const role = new URL(db.url).username;
    await db.admin(`ALTER ROLE ${role} SET timezone = 'America/New_York'; ALTER ROLE ${role} SET datestyle = 'SQL, DMY'`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT * FROM people', enabled: true });
    const { run } = await syncNow(secrets.store, tenant);
    expect(run).toMatchObject({ status: 'succeeded', errorCount: 0 });
    const byEmail = new Map((await allUsers(tenant)).map((user) => [user.email, user.properties]));
    expect(byEmail.get('east@example.com')).toEqual({
      seen: '2024-03-01T06:30:00.000Z',
      local_seen: '2024-03-01T12:00:00.000Z',
      born: '1990-02-28',
      score: 12.5,
      big: 9007199254740991,
      vip: true,
      tags: ['a', 'b c'],
      prefs: '{"x": 1}',
    });
    expect(byEmail.get('west@example.com')).toMatchObject({ seen: '2024-03-01T20:00:00.000Z', born: '2000-01-01', score: -3, vip: false });
    expect(byEmail.get('west@example.com')!.tags).toBeUndefined();
    const types = await registry.types(tenant);
    expect(Object.fromEntries(['seen', 'born', 'score', 'big', 'vip', 'tags', 'prefs'].map((name) => [name, types.get(name)]))).toEqual({
      seen: 'date',
      born: 'date',
      score: 'number',
      big: 'number',
      vip: 'boolean',
      tags: 'list',
      prefs: 'string',
    });
  }, 60_000);

  it('filters on an updated_at of type timestamp (no zone) read as UTC, and always reads null updated_at rows', async () => {
    const db = await tenantDatabase(`
      CREATE TABLE accounts (email text, plan text, updated_at timestamp);
      INSERT INTO accounts VALUES ('old@example.com', 'a', (now() AT TIME ZONE 'UTC') - interval '3 days'), ('null@example.com', 'b', NULL);`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT email, plan, updated_at FROM accounts', enabled: true });
    expect((await syncNow(secrets.store, tenant)).run.counts).toMatchObject({ rows: 2, created: 2, nullUpdatedAt: 1 });
    const again = await syncNow(secrets.store, tenant);
    expect(again.run.counts).toMatchObject({ rows: 1, unchanged: 1, nullUpdatedAt: 1 });
  }, 60_000);

  it('a value that cannot be coerced is a row error naming the column, the value as written (NaN too) and the row by its key', async () => {
    const db = await tenantDatabase(`
      CREATE TABLE scores (email text, score text, ratio double precision);
      INSERT INTO scores VALUES ('ok@example.com', '1', 0.5), ('bad@example.com', 'many', 0.5), ('nan@example.com', '2', 'NaN');`);
    const tenant = uniqueTenant('pg');
    await registry.define(tenant, 'score', 'number');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT email, score, ratio FROM scores', enabled: true });
    const { run } = await syncNow(secrets.store, tenant);
    expect(run.counts).toMatchObject({ rows: 3, created: 1, failed: 2 });
    expect(run.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ column: 'score', value: 'many', message: expect.stringMatching(/^row with email bad@example\.com: /) }),
        expect.objectContaining({ column: 'ratio', value: 'NaN', message: expect.stringMatching(/^row with email nan@example\.com: /) }),
      ]),
    );
  }, 60_000);

  it('filters on an updated_at of type date by whole days: a row touched today is read by the next run, not lost', async () => {
    const db = await tenantDatabase(`
      CREATE TABLE members (email text, plan text, updated_at date);
      INSERT INTO members VALUES ('old@example.com', 'a', current_date - 10), ('today@example.com', 'b', current_date - 10);`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT email, plan, updated_at FROM members', enabled: true });
    expect((await syncNow(secrets.store, tenant)).run.counts).toMatchObject({ rows: 2, created: 2 });
    await db.admin(`UPDATE members SET plan = 'changed', updated_at = current_date WHERE email = 'today@example.com'`);
    const again = await syncNow(secrets.store, tenant);
    expect(again.run.counts).toMatchObject({ rows: 1, updated: 1 });
    expect((await userByEmail(tenant, 'today@example.com'))?.properties.plan).toBe('changed');
  }, 60_000);
});

describe('identity', () => {
  it('external ID first, email fallback when it is null, merge when an ID appears for a user created by email; email changes follow the ID', async () => {
    const db = await tenantDatabase(`
      CREATE TABLE crm (crm_id text, email text, name text, updated_at timestamptz);
      INSERT INTO crm VALUES ('c-1', 'one@example.com', 'One', now()), (NULL, 'two@example.com', 'Two', now());`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT crm_id, email, name FROM crm', idColumn: 'crm_id', fallbackToEmail: true, enabled: true });
    const first = await syncNow(secrets.store, tenant);
    expect(first.run.counts).toMatchObject({ rows: 2, created: 2, failed: 0 });
    const created = new Map((await allUsers(tenant)).map((user) => [user.email, user]));
    expect(created.get('one@example.com')).toMatchObject({ externalId: 'c-1', properties: { name: 'One' } });
    expect(created.get('two@example.com')?.externalId).toBeUndefined();
    // The CRM now gives "two" an ID (merge onto the same user) and changes one's email (followed by ID).
    await db.admin(`UPDATE crm SET crm_id = 'c-2' WHERE email = 'two@example.com'; UPDATE crm SET email = 'one.new@example.com' WHERE crm_id = 'c-1'`);
    const second = await syncNow(secrets.store, tenant);
    expect(second.run.counts).toMatchObject({ rows: 2, created: 0, updated: 2, failed: 0 });
    const after = await allUsers(tenant);
    expect(after).toHaveLength(2);
    const byId = new Map(after.map((user) => [user.userId, user]));
    expect(byId.get(created.get('two@example.com')!.userId)).toMatchObject({ externalId: 'c-2', email: 'two@example.com' });
    expect(byId.get(created.get('one@example.com')!.userId)).toMatchObject({ externalId: 'c-1', email: 'one.new@example.com' });
    // The released email is free again: a new row may take it.
    expect((await users.findUserIdsByEmail(tenant, ['one@example.com'])).size).toBe(0);
  }, 60_000);

  it('without fallbackToEmail a row without an ID is a row error naming the column; a new user needs an email', async () => {
    const db = await tenantDatabase(`
      CREATE TABLE crm (crm_id integer, email text, name text);
      INSERT INTO crm VALUES (1, 'one@example.com', 'One'), (NULL, 'two@example.com', 'Two'), (3, NULL, 'Three'), (4, 'not-an-email', 'Four');`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT * FROM crm ORDER BY crm_id', idColumn: 'crm_id', enabled: true });
    const { run } = await syncNow(secrets.store, tenant);
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ rows: 4, created: 1, failed: 3 });
    expect(run.errors.map((error) => error.column).sort()).toEqual(['crm_id', 'email', 'email']);
    for (const error of run.errors) expect(error.line).toBeGreaterThanOrEqual(1);
    expect((await allUsers(tenant)).map((user) => user.externalId)).toEqual(['1']);
  }, 60_000);

  it('update_only updates users that exist and skips the rest', async () => {
    const db = await tenantDatabase(`CREATE TABLE t (email text, plan text); INSERT INTO t VALUES ('known@example.com', 'pro'), ('stranger@example.com', 'pro');`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: `SELECT 'known@example.com' AS email, 'free' AS plan`, enabled: true });
    await syncNow(secrets.store, tenant);
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT * FROM t', mode: 'update_only', enabled: true });
    const { run } = await syncNow(secrets.store, tenant);
    expect(run.counts).toMatchObject({ rows: 2, updated: 1, skipped: 1, created: 0 });
    expect((await allUsers(tenant)).map((user) => [user.email, user.properties.plan])).toEqual([['known@example.com', 'pro']]);
  }, 60_000);
});

describe('read-only on the server too', () => {
  it('whatever the parser let through, the server refuses to write: DELETE, multi-statement, DDL, locks; the table is intact', async () => {
    const db = await tenantDatabase(`CREATE TABLE t (email text); INSERT INTO t VALUES ('a@example.com'), ('b@example.com');`);
    const parsed = parseConnectionUrl(db.url.replace(/reader_\d+:[^@]+/, `postgres:${encodeURIComponent(pg.password)}`));
    if (!parsed.ok) throw new Error(parsed.message);
    // Even as the superuser, through the session and cursor the sync uses, with the query guard bypassed.
    for (const [sql, message] of [
      ['DELETE FROM t RETURNING *', /cannot execute DELETE in a read-only transaction/],
      // PostgreSQL names the outer statement here, but still refuses it.
      ['WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', /cannot execute SELECT in a read-only transaction/],
      ['SELECT 1; DROP TABLE t', /cannot insert multiple commands into a prepared statement/],
      ['DROP TABLE t', /cannot execute DROP TABLE in a read-only transaction/],
      ['SELECT * FROM t FOR UPDATE', /cannot execute SELECT FOR UPDATE in a read-only transaction/],
      ['SELECT * INTO copy_of_t FROM t', /cannot execute SELECT INTO in a read-only transaction/],
    ] as const) {
      const session = await ReadOnlySession.open({ parts: parsed.parts }, { ...defaultSessionLimits, allowPrivateHosts: true });
      try {
        const error = await session.batches(sql, [], 10, new Set()).next().then(() => undefined, (caught: Error) => caught);
        expect(error?.message).toMatch(message);
      } finally {
        await session.close();
      }
    }
    expect(await db.admin('SELECT count(*)::int AS n FROM t')).toEqual([{ n: 2 }]);
    expect(await db.admin(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'copy_of_t'`)).toEqual([{ n: 0 }]);
  }, 60_000);
});

describe('failures', () => {
  it('a wrong password fails the run clearly, without the password in the run record or the logs', async () => {
    const db = await tenantDatabase(`CREATE TABLE t (email text);`);
    const tenant = uniqueTenant('pg');
    const wrong = 'Wr0ng-Secret-Value-123';
    await configure(secrets.store, tenant, { connectionUrl: db.url.replace(db.password, wrong), query: 'SELECT * FROM t', enabled: true });
    const { result: { run }, written } = await captureOutput(() => syncNow(secrets.store, tenant));
    expect(run).toMatchObject({ status: 'failed', error: { code: 'authentication_failed', message: expect.stringMatching(/password authentication failed/) } });
    expect(JSON.stringify(run)).not.toContain(wrong);
    expect(written).toContain('postgres sync failed');
    expect(written).not.toContain(wrong);
  }, 60_000);

  it('a full successful run, logged at DEBUG, writes neither the password nor the connection URL anywhere', async () => {
    const db = await tenantDatabase(`CREATE TABLE t (email text, plan text); INSERT INTO t SELECT 'log' || g || '@example.com', 'p' FROM generate_series(1, 50) g;`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT email, plan FROM t', enabled: true });
    const { logger } = await import('../../shared/logging/logger.js');
    const level = logger.getLevelName();
    logger.setLogLevel('DEBUG');
    const { result: { run }, written } = await captureOutput(() => syncNow(secrets.store, tenant)).finally(() => logger.setLogLevel(level));
    expect(run.status).toBe('succeeded');
    const logs = written;
    expect(logs).toContain('postgres sync succeeded');
    expect(logs).toContain('"counts"');
    for (const secret of [db.password, encodeURIComponent(db.password), db.url]) expect(logs).not.toContain(secret);
    expect(JSON.stringify(run)).not.toContain(db.password);
  }, 60_000);

  it('an unreachable host fails the run with the uniform message (no port-scan oracle)', async () => {
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: 'postgresql://u:secret-pw@127.0.0.1:1/db?sslmode=disable', query: 'SELECT 1 AS email', enabled: true });
    const { run } = await syncNow(secrets.store, tenant);
    expect(run).toMatchObject({ status: 'failed', error: { code: 'connection_failed', message: expect.stringMatching(/^could not connect to the database server at 127\.0\.0\.1:1/) } });
    expect(JSON.stringify(run)).not.toContain('secret-pw');
  }, 60_000);

  it('a query without an email column, or a mapped column it lacks, fails the run naming the columns', async () => {
    const db = await tenantDatabase(`CREATE TABLE t (mail_address text, plan text); INSERT INTO t VALUES ('a@example.com', 'x');`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT * FROM t', enabled: true });
    expect((await syncNow(secrets.store, tenant)).run.error).toEqual({ code: 'no_email_column', message: expect.stringMatching(/mail_address, plan/) });
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT * FROM t', emailColumn: 'mail_address', mapping: { tier: 'tier' }, enabled: true });
    expect((await syncNow(secrets.store, tenant)).run.error).toEqual({ code: 'mapping_column_missing', message: expect.stringMatching(/"tier"/) });
    expect(await allUsers(tenant)).toEqual([]);
  }, 60_000);
});

describe('a connection dropped mid-cursor', () => {
  it('the attempt throws (Lambda retries), the retry resumes from the saved key, and the run completes with exact counts', async () => {
    const db = await tenantDatabase(`CREATE TABLE t (email text, n integer); INSERT INTO t SELECT 'd' || lpad(g::text, 4, '0') || '@example.com', g FROM generate_series(1, 500) g;`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT email, n FROM t', enabled: true });
    const item = (await integrations.get(tenant, 'postgres'))!;
    const { newSyncRun } = await import('../../shared/integrations/postgres/postgres-sync-run.js');
    const run = newSyncRun(tenant, 'manual', item.configVersion);
    await integrations.startRun(run, 60_000, new Date());
    // The server kills the session after the first batch was handed out.
    let killed = false;
    const openSession = async (target: PostgresTarget, limits: SessionLimits) => {
      const session = await ReadOnlySession.open(target, limits);
      const batches = session.batches.bind(session);
      session.batches = async function* (...args: Parameters<typeof batches>) {
        for await (const batch of batches(...args)) {
          yield batch;
          if (!killed) {
            killed = true;
            await db.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'roster-sync' AND datname = current_database()`);
          }
        }
      };
      return session;
    };
    const settings = { batchSize: 100, heartbeatMs: 0 };
    const invocation = { kind: 'postgres-sync' as const, tenantId: tenant, runId: run.runId };
    await expect(drive(secrets.store, invocation, { openSession, settings })).rejects.toMatchObject({ name: 'SourceInterruptedError', message: expect.stringMatching(/terminating connection/) });
    const between = (await integrations.getRun(tenant, 'postgres', run.runId))!;
    expect(between.status).toBe('running');
    expect(between.counts.rows).toBeGreaterThanOrEqual(99);
    expect(between.counts.rows).toBeLessThan(500);
    // Lambda's retry of the same event.
    expect(await drive(secrets.store, invocation, { openSession, settings })).toEqual(['succeeded']);
    const finished = (await integrations.getRun(tenant, 'postgres', run.runId))!;
    expect(finished.counts).toMatchObject({ rows: 500, created: 500, failed: 0 });
    expect(await allUsers(tenant)).toHaveLength(500);
  }, 60_000);

  it('after three lost connections the run fails with a readable error and the watermark stays', async () => {
    const db = await tenantDatabase(`CREATE TABLE t (email text); INSERT INTO t SELECT 'x' || g || '@example.com' FROM generate_series(1, 300) g;`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT email FROM t', enabled: true });
    const item = (await integrations.get(tenant, 'postgres'))!;
    const { newSyncRun } = await import('../../shared/integrations/postgres/postgres-sync-run.js');
    const run = newSyncRun(tenant, 'manual', item.configVersion);
    await integrations.startRun(run, 60_000, new Date());
    const openSession = async (target: PostgresTarget, limits: SessionLimits) => {
      const session = await ReadOnlySession.open(target, limits);
      const batches = session.batches.bind(session);
      session.batches = async function* (...args: Parameters<typeof batches>) {
        await db.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'roster-sync' AND datname = current_database()`);
        yield* batches(...args);
      };
      return session;
    };
    const invocation = { kind: 'postgres-sync' as const, tenantId: tenant, runId: run.runId };
    for (let attempt = 1; attempt < 3; attempt += 1) await expect(drive(secrets.store, invocation, { openSession })).rejects.toMatchObject({ name: 'SourceInterruptedError' });
    expect(await drive(secrets.store, invocation, { openSession })).toEqual(['failed']);
    expect(await integrations.getRun(tenant, 'postgres', run.runId)).toMatchObject({ status: 'failed', error: { code: 'connection_lost', message: expect.stringMatching(/lost 3 times/) } });
    expect((await integrations.get(tenant, 'postgres'))!.watermark).toBeUndefined();
    expect(JSON.stringify(await integrations.getRun(tenant, 'postgres', run.runId))).not.toContain(new URL(db.url).password);
  }, 60_000);
});

describe('long runs and concurrency', () => {
  it('continues across invocations near the time limit with exact counts, also when one email spans the cut', async () => {
    const db = await tenantDatabase(`
      CREATE TABLE t (email text, n integer);
      INSERT INTO t SELECT 'u' || lpad(g::text, 5, '0') || '@example.com', g FROM generate_series(1, 1000) g;
      INSERT INTO t SELECT 'u00100@example.com', 100000 + g FROM generate_series(1, 30) g;`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT email, n FROM t', enabled: true });
    // Every invocation is "out of time" after its first batch of 50.
    const { run, results } = await syncNow(secrets.store, tenant, { settings: { batchSize: 50 }, remainingMs: () => 0 });
    expect(results.length).toBeGreaterThan(15);
    expect(results.slice(0, -1).every((result) => result === 'continued')).toBe(true);
    expect(results.at(-1)).toBe('succeeded');
    expect(run.invocations).toBe(results.length);
    expect(run.counts).toMatchObject({ rows: 1030, created: 1000, failed: 0 });
    expect(run.counts.updated + run.counts.unchanged).toBe(30);
    expect(await allUsers(tenant)).toHaveLength(1000);
  }, 120_000);

  it('statement_timeout bounds the whole cursor of an invocation: a read that outlives it fails the run readably, and no timer outlives the run', async () => {
    const db = await tenantDatabase(`CREATE TABLE t (email text); INSERT INTO t SELECT 'slow' || g || '@example.com' FROM generate_series(1, 400) g;`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT email FROM t', enabled: true });
    const slow = Object.assign(Object.create(users) as typeof users, {
      write: async (...args: Parameters<typeof users.write>) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return users.write(...args);
      },
    });
    const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
    const before = timers();
    // 20 batches written at 100 ms each: the portal lives ~2 s, beyond a 500 ms statement_timeout.
    const { run } = await syncNow(secrets.store, tenant, { settings: { batchSize: 20 }, sessionLimits: { statementTimeoutMs: 500, clientGraceMs: 0 }, users: slow });
    expect(run).toMatchObject({ status: 'failed', error: { code: 'query_failed', message: 'PostgreSQL: canceling statement due to statement timeout' } });
    // Nothing of the session is left armed (pg would keep a client-wide query_timeout timer for a cursor forever).
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(timers()).toBeLessThanOrEqual(before);
  }, 60_000);

  it('refuses a second run while one runs (the scheduled trigger is ignored as busy), and lets a lapsed run be replaced', async () => {
    const db = await tenantDatabase(`CREATE TABLE t (email text); INSERT INTO t VALUES ('a@example.com');`);
    const tenant = uniqueTenant('pg');
    await configure(secrets.store, tenant, { connectionUrl: db.url, query: 'SELECT email FROM t', enabled: true });
    const item = (await integrations.get(tenant, 'postgres'))!;
    const { newSyncRun } = await import('../../shared/integrations/postgres/postgres-sync-run.js');
    const running = newSyncRun(tenant, 'manual', item.configVersion);
    expect(await integrations.startRun(running, 60_000, new Date())).toEqual({ started: true });
    expect(await drive(secrets.store, { kind: 'postgres-sync', tenantId: tenant, trigger: 'schedule' })).toEqual(['busy']);
    expect(await integrations.startRun(newSyncRun(tenant, 'manual', item.configVersion), 60_000, new Date())).toMatchObject({ started: false, reason: 'busy', activeRunId: running.runId });
    // Two invocations of the same run at once: only one holds the lease.
    const [a, b] = await Promise.allSettled([
      drive(secrets.store, { kind: 'postgres-sync', tenantId: tenant, runId: running.runId }),
      drive(secrets.store, { kind: 'postgres-sync', tenantId: tenant, runId: running.runId }),
    ]);
    const outcomes = [a, b].map((outcome) => (outcome.status === 'fulfilled' ? outcome.value[0] : (outcome.reason as Error).name));
    expect(outcomes.filter((outcome) => outcome === 'succeeded')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === 'SyncBusyError' || outcome === 'ignored')).toHaveLength(1);
    expect((await integrations.getRun(tenant, 'postgres', running.runId))!.counts.created).toBe(1);
    // A run whose invocations vanished: a later start replaces it once its lease lapsed, and marks it failed.
    const lost = newSyncRun(tenant, 'manual', item.configVersion);
    expect(await integrations.startRun(lost, 1, new Date())).toEqual({ started: true });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await integrations.startRun(newSyncRun(tenant, 'manual', item.configVersion), 60_000, new Date())).toMatchObject({ started: true, interrupted: lost.runId });
    expect(await integrations.getRun(tenant, 'postgres', lost.runId)).toMatchObject({ status: 'failed', error: { code: 'run_interrupted' } });
  }, 60_000);

  it('a run of one tenant cannot be driven under another tenant’s ID; each tenant reads only its own database', async () => {
    const dbA = await tenantDatabase(`CREATE TABLE t (email text); INSERT INTO t VALUES ('a@example.com');`);
    const dbB = await tenantDatabase(`CREATE TABLE t (email text); INSERT INTO t VALUES ('b@example.com');`);
    const [tenantA, tenantB] = [uniqueTenant('pga'), uniqueTenant('pgb')];
    await configure(secrets.store, tenantA, { connectionUrl: dbA.url, query: 'SELECT email FROM t', enabled: true });
    await configure(secrets.store, tenantB, { connectionUrl: dbB.url, query: 'SELECT email FROM t', enabled: true });
    const itemA = (await integrations.get(tenantA, 'postgres'))!;
    const { newSyncRun } = await import('../../shared/integrations/postgres/postgres-sync-run.js');
    const runA = newSyncRun(tenantA, 'manual', itemA.configVersion);
    await integrations.startRun(runA, 60_000, new Date());
    expect(await drive(secrets.store, { kind: 'postgres-sync', tenantId: tenantB, runId: runA.runId })).toEqual(['ignored']);
    expect(await drive(secrets.store, { kind: 'postgres-sync', tenantId: tenantA, runId: runA.runId })).toEqual(['succeeded']);
    await syncNow(secrets.store, tenantB);
    expect((await allUsers(tenantA)).map((user) => user.email)).toEqual(['a@example.com']);
    expect((await allUsers(tenantB)).map((user) => user.email)).toEqual(['b@example.com']);
    expect((await integrations.listRuns(tenantB, 'postgres', 10)).items.map((run) => run.runId)).not.toContain(runA.runId);
  }, 60_000);
});
