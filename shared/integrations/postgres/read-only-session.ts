import { isIP } from 'node:net';
import pg from 'pg';
import Cursor from 'pg-cursor';
import type { ConnectionParts } from './connection-url.js';
import { resolveAllowedAddress, UnreachableHostError } from './network-guard.js';
import { syncTypeParsers } from './postgres-values.js';

/**
 * A connection to a tenant's PostgreSQL that cannot change anything: one transaction,
 * `BEGIN … READ ONLY` with a repeatable-read snapshot (the describe and the cursor see the
 * same data), statement, lock and idle timeouts, `search_path` set to the chosen schema,
 * `TimeZone` UTC; the tenant's query only ever goes over the extended protocol (one
 * statement per Parse: `SELECT 1; DROP …` is refused by the server itself), and the
 * transaction always ends in ROLLBACK.
 */
export interface PostgresTarget {
  parts: ConnectionParts;
  schema?: string;
  /** PEM; when given, the server's certificate must chain to it and match the host name (verify-full). */
  sslCa?: string;
}

export { defaultSessionLimits, type SessionLimits } from './session-limits.js';
import type { SessionLimits } from './session-limits.js';

export interface ColumnInfo {
  name: string;
  oid: number;
  /** `format_type` of the column, e.g. `integer`, `timestamp with time zone`, `text[]`. */
  type: string;
  isArray: boolean;
}

/** The server refused the query (syntax, missing table, permission, timeout…): its own message. */
export class PostgresQueryError extends Error {
  override readonly name = 'PostgresQueryError';
  constructor(
    message: string,
    readonly sqlState?: string,
  ) {
    super(message);
  }
}

/** Connecting failed: unreachable (uniform message), authentication, TLS, or the server said no. */
export class PostgresConnectionError extends Error {
  override readonly name = 'PostgresConnectionError';
  constructor(
    readonly reason: 'unreachable' | 'authentication' | 'tls' | 'refused',
    message: string,
  ) {
    super(message);
  }
}

const CURSOR_CLOSE_TIMEOUT_MS = 2_000;
const CLIENT_GRACE_MS = 5_000;
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EADDRNOTAVAIL']);

export class ReadOnlySession {
  private constructor(
    private readonly client: pg.Client,
    private readonly password: string,
    private readonly readTimeoutMs: number,
  ) {}

  static async open(target: PostgresTarget, limits: SessionLimits): Promise<ReadOnlySession> {
    const { parts } = target;
    let address: string;
    try {
      address = await resolveAllowedAddress(parts.host, parts.port, { allowPrivate: limits.allowPrivateHosts, resolve: limits.resolve });
    } catch (error) {
      // A name that does not resolve, or resolves to a refused address: the same uniform failure as a refused port.
      throw connectionError(error, parts, target);
    }
    const attempt = async (ssl: pg.ClientConfig['ssl']) => {
      const client = new pg.Client({
        host: address,
        port: parts.port,
        database: parts.database,
        user: parts.user,
        password: parts.password,
        ssl,
        connectionTimeoutMillis: limits.connectTimeoutMs,
        // No client-wide query_timeout: pg would arm it for the cursor too and never clear it
        // (pg-cursor does not call back), failing any run longer than it. Each plain query
        // gets its own (`timed`), each FETCH `withTimeout`.
        keepAlive: true,
        application_name: 'roster-sync',
      });
      // A connection dropped later surfaces through the query that was running; never as a crash.
      client.on('error', () => undefined);
      await client.connect();
      return client;
    };
    let client: pg.Client;
    try {
      const ssl = tlsOptions(target);
      try {
        client = await attempt(ssl);
      } catch (error) {
        // sslmode=prefer: a server without TLS is still reachable in plain text (libpq's rule).
        if (parts.sslmode === 'prefer' && !target.sslCa && /does not support SSL/i.test((error as Error).message)) client = await attempt(false);
        else throw error;
      }
    } catch (error) {
      throw connectionError(error, parts, target);
    }
    const session = new ReadOnlySession(client, parts.password, limits.statementTimeoutMs + (limits.clientGraceMs ?? CLIENT_GRACE_MS));
    try {
      await client.query(timed('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY', limits));
      const settings = [
        `SET LOCAL statement_timeout = ${Math.max(1, Math.floor(limits.statementTimeoutMs))}`,
        `SET LOCAL lock_timeout = ${Math.max(1, Math.floor(limits.lockTimeoutMs))}`,
        `SET LOCAL idle_in_transaction_session_timeout = ${Math.max(1, Math.floor(limits.idleInTransactionMs))}`,
        `SET LOCAL TimeZone = 'UTC'`,
        `SET LOCAL DateStyle = 'ISO, YMD'`,
        ...(target.schema ? [`SET LOCAL search_path = ${client.escapeIdentifier(target.schema)}`] : []),
      ];
      // Roster's own statements only (numbers and a quoted identifier): never the tenant's SQL.
      await client.query(timed(settings.join('; '), limits));
    } catch (error) {
      await session.close();
      throw session.queryError(error);
    }
    return session;
  }

  /** The server's clock when this transaction (its snapshot) began, ISO UTC: the source of watermarks, so clock skew cannot lose rows. */
  async snapshotStartedAt(): Promise<string> {
    const { rows } = await this.client.query<{ at: string }>({
      text: `SELECT to_char(transaction_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at`,
      query_timeout: this.readTimeoutMs,
    } as pg.QueryConfig);
    return rows[0]!.at;
  }

  /** The columns the query returns (runs it with LIMIT 0), with their type names. */
  async describe(sql: string, params: unknown[]): Promise<ColumnInfo[]> {
    const result = await this.run(`SELECT * FROM (${sql}\n) AS roster_source LIMIT 0`, params);
    return this.columnInfo(result.fields);
  }

  /** Up to `limit` rows as objects, with the columns. */
  async preview(sql: string, params: unknown[], limit: number): Promise<{ columns: ColumnInfo[]; rows: unknown[][] }> {
    const described = await this.describe(sql, params);
    const arrays = new Set(described.filter((column) => column.isArray).map((column) => column.oid));
    const result = await this.run(`SELECT * FROM (${sql}\n) AS roster_source LIMIT ${Math.floor(limit)}`, params, arrays);
    return { columns: described, rows: result.rows as unknown[][] };
  }

  /** Streams the rows in batches through a server-side cursor (portal): memory holds one batch. */
  async *batches(sql: string, params: unknown[], batchSize: number, arrayOids: ReadonlySet<number>): AsyncGenerator<unknown[][]> {
    const cursor = this.client.query(new Cursor(sql, params, { rowMode: 'array', types: syncTypeParsers(arrayOids) } as Cursor.CursorQueryConfig));
    try {
      for (;;) {
        let rows: unknown[][];
        try {
          rows = (await withTimeout(cursor.read(batchSize), this.readTimeoutMs)) as unknown[][];
        } catch (error) {
          throw this.queryError(error);
        }
        if (rows.length === 0) return;
        yield rows;
      }
    } finally {
      // Closing waits for the server's ReadyForQuery, which a dropped connection never sends.
      await settleWithin(cursor.close(), CURSOR_CLOSE_TIMEOUT_MS);
    }
  }

  /** ROLLBACK (nothing was written anyway) and disconnect; safe to call twice. */
  async close(): Promise<void> {
    await settleWithin(this.client.query('ROLLBACK'), CURSOR_CLOSE_TIMEOUT_MS);
    await this.client.end().catch(() => undefined);
  }

  /** The tenant's query over the extended protocol only (`queryMode: 'extended'`). */
  private async run(text: string, values: unknown[], arrayOids: ReadonlySet<number> = new Set()) {
    try {
      return await this.client.query({ text, values, rowMode: 'array', queryMode: 'extended', types: syncTypeParsers(arrayOids), query_timeout: this.readTimeoutMs } as pg.QueryArrayConfig);
    } catch (error) {
      throw this.queryError(error);
    }
  }

  private async columnInfo(fields: pg.FieldDef[]): Promise<ColumnInfo[]> {
    const oids = [...new Set(fields.map((field) => field.dataTypeID))];
    const { rows } = await this.client.query<{ oid: number; name: string; category: string }>({
      text: "SELECT oid::int AS oid, format_type(oid, NULL) AS name, typcategory AS category FROM pg_catalog.pg_type WHERE oid = ANY($1::oid[])",
      values: [oids],
      query_timeout: this.readTimeoutMs,
    } as pg.QueryConfig);
    const types = new Map(rows.map((row) => [Number(row.oid), row]));
    return fields.map((field) => ({
      name: field.name,
      oid: field.dataTypeID,
      type: types.get(field.dataTypeID)?.name ?? String(field.dataTypeID),
      isArray: types.get(field.dataTypeID)?.category === 'A',
    }));
  }

  queryError(error: unknown): Error {
    if (error instanceof PostgresQueryError || error instanceof PostgresConnectionError) return error;
    const pgError = error as { code?: string; message?: string; position?: string; hint?: string };
    if (pgError.code && /^[0-9A-Z]{5}$/.test(pgError.code)) {
      const hint = pgError.hint ? ` (hint: ${pgError.hint})` : '';
      return new PostgresQueryError(scrub(`${pgError.message ?? 'query failed'}${hint}`, this.password), pgError.code);
    }
    return new PostgresConnectionError('refused', scrub(`the connection to the database failed: ${pgError.message ?? String(error)}`, this.password));
  }
}

/** Waits for `promise` to settle, but no longer than `ms` (its outcome does not matter: cleanup on a maybe-dead connection). */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** A plain query with the client-side timeout (a little after the server's statement_timeout). */
function timed(text: string, limits: SessionLimits): pg.QueryConfig {
  return { text, query_timeout: limits.statementTimeoutMs + (limits.clientGraceMs ?? CLIENT_GRACE_MS) } as pg.QueryConfig;
}

/** A cursor FETCH has no client-side timeout of its own: one that never answers becomes a lost connection. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new PostgresConnectionError('refused', `the database did not answer within ${Math.round(ms / 1000)} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function tlsOptions(target: PostgresTarget): pg.ClientConfig['ssl'] {
  const { parts, sslCa } = target;
  if (parts.sslmode === 'disable') return false;
  const servername = isIP(parts.host) ? undefined : parts.host;
  if (sslCa || parts.sslmode === 'verify-full') return { rejectUnauthorized: true, ...(sslCa ? { ca: sslCa } : {}), ...(servername ? { servername } : {}) };
  if (parts.sslmode === 'verify-ca') return { rejectUnauthorized: true, checkServerIdentity: () => undefined, ...(servername ? { servername } : {}) };
  // require / prefer without a CA: encrypted, not verified (libpq's meaning of these modes).
  return { rejectUnauthorized: false, ...(servername ? { servername } : {}) };
}

function connectionError(error: unknown, parts: ConnectionParts, target: PostgresTarget): Error {
  if (error instanceof UnreachableHostError) return new PostgresConnectionError('unreachable', error.message);
  const failure = error as { code?: string; message?: string };
  const message = failure.message ?? String(error);
  if (failure.code === '28P01' || failure.code === '28000') return new PostgresConnectionError('authentication', scrub(message, parts.password));
  if (failure.code && /^[0-9A-Z]{5}$/.test(failure.code)) return new PostgresConnectionError('refused', scrub(message, parts.password));
  if (/certificate|self[- ]signed|altnames|SSL|TLS/i.test(message) && !NETWORK_ERRORS.has(failure.code ?? '')) {
    const hint = target.sslCa ? '' : ' (give the server’s CA certificate as sslCa, or use sslmode=require to encrypt without verifying)';
    return new PostgresConnectionError('tls', scrub(`TLS: ${message}${hint}`, parts.password));
  }
  // Refused, timed out, reset, not PostgreSQL: one message for all, like the guard's.
  return new PostgresConnectionError('unreachable', new UnreachableHostError(parts.host, parts.port).message);
}

/** Belt and braces: no server or driver message may carry the password. */
function scrub(message: string, password: string): string {
  if (!password) return message;
  return message.replaceAll(password, '****').replaceAll(encodeURIComponent(password), '****');
}
