import { randomUUID } from 'node:crypto';
import { clipErrorValue, MAX_INLINE_ERRORS, type RowError } from '../../imports/import-record.js';
import { ImportSetupError, planColumns, type ColumnPlan } from '../../imports/column-plan.js';
import { logger } from '../../logging/logger.js';
import { recordRows, recordSyncRun } from '../../observability/metrics.js';
import { coerceValue } from '../../properties/property-coercion.js';
import type { PropertyRegistry } from '../../properties/property-registry.js';
import type { PropertyType } from '../../properties/property.js';
import type { SecretStore } from '../../secrets/secret-store.js';
import { integrationSecretName } from '../../secrets/secret-store.js';
import type { UserStore } from '../../users/user-store.js';
import { upsertUsers, type UpsertContext, type UserChange } from '../../users/user-upsert.js';
import type { IntegrationItem, IntegrationStore } from '../integration-store.js';
import { LeaseLostError, runSyncInvocation, type SyncInvocationResult } from '../sync-run-lifecycle.js';
import { newRun, type RunTrigger, type SyncCheckpoint, type SyncRun } from '../sync-run.js';
import { checkQuery } from './query-guard.js';
import { parseSecret, type PostgresSettings } from './postgres-settings.js';
import { propertyTypeOf } from './postgres-values.js';
import { PostgresConnectionError, PostgresQueryError, ReadOnlySession, type ColumnInfo, type PostgresTarget, type SessionLimits } from './read-only-session.js';

/**
 * One PostgreSQL sync run: reads the tenant's SELECT through a server-side cursor inside a
 * read-only transaction, maps and coerces each row, and sends batches through the shared
 * upsert path (`source: "postgres"`).
 *
 * Incremental: `$LAST_SYNC_TIMESTAMP` (or Roster's own filter on an `updated_at` column)
 * is the watermark, compared inclusively (`>=`); rows with a null `updated_at` are read
 * every run and counted. The next watermark is the source's clock when this run's snapshot
 * began, minus an overlap window, so rows committed by transactions that were in flight
 * while the run read are read again next time (unchanged users cost nothing).
 *
 * Long runs: rows come ordered by (external ID or email, email) as text in byte order
 * (`COLLATE "C"`), so near the Lambda time limit the run saves the key it reached and a new
 * invocation resumes there with a fresh snapshot. One run per tenant and integration: the
 * integration store's lock and lease.
 */
export interface PostgresSyncInvocation {
  kind: 'postgres-sync';
  tenantId: string;
  /** Absent when a schedule fires: the invocation starts a run itself. */
  runId?: string;
  /** A continuation: the lease the previous invocation hands over. */
  leaseId?: string;
  trigger?: RunTrigger;
}

export interface PostgresSyncDependencies {
  integrations: IntegrationStore;
  secrets: Pick<SecretStore, 'get'>;
  users: UserStore;
  registry: Pick<PropertyRegistry, 'types' | 'ensure'>;
  sessionLimits: SessionLimits;
  continueLater: (invocation: PostgresSyncInvocation) => Promise<void>;
  /** Opens the read-only session (a test may wrap it to drop the connection mid-run). */
  openSession?: (target: PostgresTarget, limits: SessionLimits) => Promise<ReadOnlySession>;
}

export interface PostgresSyncSettings {
  batchSize: number;
  leaseMs: number;
  heartbeatMs: number;
  /** Hand over to a new invocation when less than this is left. */
  stopWhenRemainingMs: number;
  /** Attempts (of unexpected failures) before the run is marked failed. */
  maxFailures: number;
  /** Subtracted from the snapshot time to get the next watermark. */
  overlapMs: number;
}

export const defaultPostgresSyncSettings: PostgresSyncSettings = {
  batchSize: 2000,
  leaseMs: 120_000,
  heartbeatMs: 20_000,
  stopWhenRemainingMs: 120_000,
  maxFailures: 3,
  overlapMs: 5 * 60_000,
};

export type PostgresSyncResult = SyncInvocationResult;

/** The epoch: `$LAST_SYNC_TIMESTAMP` of a first run. */
export const EPOCH = '1970-01-01T00:00:00.000Z';

/** A run that cannot work with these settings (no email column, a mapped column missing…): failed, not retried. */
export class SyncSetupError extends Error {
  override readonly name = 'SyncSetupError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The connection dropped while the run read (server restart, failover, network): worth a
 * retry, which resumes from the last saved key; the run fails only after `maxFailures`.
 */
export class SourceInterruptedError extends Error {
  override readonly name = 'SourceInterruptedError';
}

/** SQLSTATE classes of a lost connection or a server going away (08 connection exception, 57P01–57P03 shutdown). */
const isConnectionLoss = (error: unknown) =>
  error instanceof PostgresConnectionError || (error instanceof PostgresQueryError && (/^08/.test(error.sqlState ?? '') || /^57P0[123]$/.test(error.sqlState ?? '')));

/** A fresh run record (the API's "run now" and a firing schedule both start one). */
export function newSyncRun(tenantId: string, trigger: RunTrigger, configVersion: number, now = new Date()): SyncRun {
  return newRun('postgres', tenantId, trigger, configVersion, now, randomUUID().replace(/-/g, '').slice(0, 10));
}

export async function runPostgresSync(
  deps: PostgresSyncDependencies,
  invocation: PostgresSyncInvocation,
  remainingMs: () => number,
  settings: PostgresSyncSettings = defaultPostgresSyncSettings,
): Promise<PostgresSyncResult> {
  return runSyncInvocation<PostgresSettings, SyncCheckpoint>(
    {
      kind: 'postgres',
      integrations: deps.integrations,
      leaseMs: settings.leaseMs,
      maxFailures: settings.maxFailures,
      runnable: (item) => item.settings.enabled,
      newRun: (tenantId, trigger, configVersion) => newSyncRun(tenantId, trigger, configVersion),
      execute: (run, leaseId) => new PostgresSyncRun(deps, run, leaseId, settings, remainingMs).execute(),
      readableFailure,
      exhaustedFailure: (error, failures) =>
        error instanceof SourceInterruptedError
          ? { code: 'connection_lost', message: `the connection to the database was lost ${failures} times during the run (last: ${error.message}); the watermark did not move` }
          : { code: 'sync_failed', message: `the run failed ${failures} times on an internal error; the watermark did not move` },
    },
    invocation,
  );
}

/** Failures the tenant can act on: the run ends `failed` with this, at once (a retry would fail the same way). */
function readableFailure(error: unknown): { code: string; message: string } | undefined {
  if (error instanceof PostgresConnectionError) {
    const code = { unreachable: 'connection_failed', authentication: 'authentication_failed', tls: 'tls_failed', refused: 'connection_failed' }[error.reason];
    return { code, message: error.message };
  }
  if (error instanceof PostgresQueryError) return { code: 'query_failed', message: `PostgreSQL: ${error.message}` };
  if (error instanceof SyncSetupError || error instanceof ImportSetupError) return { code: error.code, message: error.message };
  return undefined;
}


interface ReadPlan {
  sql: string;
  params: unknown[];
  columns: ColumnInfo[];
  plan: ColumnPlan;
  idIndex: number | undefined;
  updatedAtIndex: number | undefined;
  keyWidth: number;
  types: Map<string, PropertyType>;
  arrayOids: Set<number>;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
const TIMESTAMP_TYPES = new Set(['timestamp with time zone', 'timestamp without time zone', 'date']);

/**
 * How a run reads this query: `variable` (the query filters on `$LAST_SYNC_TIMESTAMP`),
 * `updated_at` (Roster filters on the result's date/time `updated_at` column), or `full`
 * (every run reads every row). The preview shows it, so the choice is never a surprise.
 */
export function incrementalMode(usesLastSync: boolean, columns: Pick<ColumnInfo, 'name' | 'type'>[]): 'variable' | 'updated_at' | 'full' {
  if (usesLastSync) return 'variable';
  const updatedAt = columns.find((column) => column.name.toLowerCase() === 'updated_at');
  return updatedAt && TIMESTAMP_TYPES.has(updatedAt.type) ? 'updated_at' : 'full';
}

class PostgresSyncRun {
  private lastSave = Date.now();
  private checkpoint!: SyncCheckpoint;

  constructor(
    private readonly deps: PostgresSyncDependencies,
    private readonly run: SyncRun,
    private readonly leaseId: string,
    private readonly settings: PostgresSyncSettings,
    private readonly remainingMs: () => number,
  ) {}

  async execute(): Promise<PostgresSyncResult> {
    const { tenantId } = this.run;
    const item = await this.deps.integrations.get<PostgresSettings>(tenantId, 'postgres');
    if (!item) throw new SyncSetupError('not_configured', 'the PostgreSQL integration was deleted while the run was starting');
    const secretText = await this.deps.secrets.get(integrationSecretName(tenantId, 'postgres'));
    if (!secretText) throw new SyncSetupError('not_configured', 'the connection settings are missing; PUT /integrations/postgres again');
    const secret = parseSecret(secretText);
    const checked = await checkQuery(item.settings.query);
    if (!checked.ok) throw new SyncSetupError('invalid_query', checked.message);

    this.run.invocations += 1;
    const open = this.deps.openSession ?? ((target, limits) => ReadOnlySession.open(target, limits));
    const session = await open({ parts: secret.parts, schema: secret.schema, sslCa: secret.sslCa }, this.deps.sessionLimits);
    try {
      this.checkpoint = this.run.checkpoint ?? { since: this.since(item), sourceStartedAt: await session.snapshotStartedAt(), rowsRead: 0 };
      const read = await this.plan(session, item.settings, checked.sql, checked.usesLastSync);
      const outcome = await this.stream(session, read, item.settings).catch((error: unknown) => {
        throw isConnectionLoss(error) ? new SourceInterruptedError((error as Error).message) : error;
      });
      if (outcome === 'stopped') {
        if (!(await this.save())) throw new LeaseLostError('lease lost');
        await this.deps.continueLater({ kind: 'postgres-sync', tenantId, runId: this.run.runId, leaseId: this.leaseId });
        logger.info('postgres sync continues in a new invocation', { rowsRead: this.checkpoint.rowsRead });
        return 'continued';
      }
    } finally {
      await session.close();
    }
    const watermark = new Date(Date.parse(this.checkpoint.sourceStartedAt) - this.settings.overlapMs).toISOString();
    const finished: SyncRun = { ...this.run, status: 'succeeded', finishedAt: new Date().toISOString(), checkpoint: this.checkpoint };
    if (!(await this.deps.integrations.finishRun(finished, this.leaseId, watermark))) throw new LeaseLostError('lease lost');
    logger.info('postgres sync succeeded', { counts: this.run.counts, errorCount: this.run.errorCount, watermark });
    recordRows('postgres', this.run.counts);
    recordSyncRun('postgres', 'succeeded', Date.parse(finished.finishedAt!) - Date.parse(this.run.startedAt));
    return 'succeeded';
  }

  private since(item: IntegrationItem<PostgresSettings>): string {
    return item.configVersion === this.run.configVersion && item.watermark ? item.watermark : EPOCH;
  }

  /** Describes the result, checks the columns the settings name, registers new properties, and builds the ordered, resumable query. */
  private async plan(session: ReadOnlySession, settings: PostgresSettings, sql: string, usesLastSync: boolean): Promise<ReadPlan> {
    const since = this.checkpoint.since;
    const columns = await session.describe(sql, usesLastSync ? [since] : []);
    const names = columns.map((column) => column.name);
    const duplicate = names.find((name, index) => names.indexOf(name) !== index);
    if (duplicate) throw new SyncSetupError('duplicate_column', `the query returns two columns named "${duplicate}"; give them distinct names with AS`);
    const plan = planColumns(names, { mapping: settings.mapping, emailColumn: settings.emailColumn });
    let idIndex: number | undefined;
    if (settings.idColumn) {
      idIndex = names.indexOf(settings.idColumn);
      if (idIndex < 0) throw new SyncSetupError('id_column_missing', `the query returns no column "${settings.idColumn}" (idColumn); columns: ${names.join(', ')}`);
      plan.properties = plan.properties.filter((column) => column.index !== idIndex);
    }
    const updatedIndex = names.findIndex((name) => name.toLowerCase() === 'updated_at');
    const updatedAtIndex = updatedIndex >= 0 ? updatedIndex : undefined;
    const filterOnUpdatedAt = incrementalMode(usesLastSync, columns) === 'updated_at';

    const known = await this.deps.registry.types(this.run.tenantId);
    const suggested = new Map(plan.properties.map((column) => [column.property, propertyTypeOf(columns[column.index]!.oid, columns[column.index]!.isArray)]));
    const types = plan.properties.some((column) => !known.has(column.property))
      ? await this.deps.registry.ensure(this.run.tenantId, plan.properties.map((column) => column.property), 'postgres', known, suggested)
      : known;

    const params: unknown[] = usesLastSync || filterOnUpdatedAt ? [since] : [];
    const ref = (index: number) => `roster_source.${quote(names[index]!)}`;
    const keyExpressions = [...(idIndex !== undefined ? [idIndex] : []), plan.emailIndex].map((index) => `(COALESCE(${ref(index)}::text, '') COLLATE "C")`);
    const conditions: string[] = [];
    if (filterOnUpdatedAt && updatedAtIndex !== undefined) {
      // A `date` has no time of day: compare whole days, one day back (the tenant's dates may be
      // in a zone ahead of UTC), else a row touched today would sort before the watermark for good.
      const lowerBound = columns[updatedAtIndex]!.type === 'date' ? `(($1::timestamptz AT TIME ZONE 'UTC')::date - 1)` : '$1::timestamptz';
      conditions.push(`(${ref(updatedAtIndex)} >= ${lowerBound} OR ${ref(updatedAtIndex)} IS NULL)`);
    }
    const resume = this.checkpoint.resume;
    if (resume) {
      const placeholders = resume.key.map((value) => {
        params.push(value);
        return `($${params.length}::text COLLATE "C")`;
      });
      conditions.push(rowAfter(keyExpressions, placeholders, resume.inclusive));
    }
    // The sort key comes back as PostgreSQL's own text of it (extra trailing columns), so a resume compares exactly what the server sorted.
    const keyColumns = keyExpressions.map((expression, index) => `${expression} AS "roster_key_${index}"`).join(', ');
    const text =
      `SELECT roster_source.*, ${keyColumns} FROM (${sql}\n) AS roster_source` +
      (conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '') +
      ` ORDER BY ${keyExpressions.join(', ')}`;
    const arrayOids = new Set(columns.filter((column) => column.isArray).map((column) => column.oid));
    return { sql: text, params, columns, plan, idIndex, updatedAtIndex, keyWidth: keyExpressions.length, types, arrayOids };
  }

  /** Reads batch after batch (the next one is fetched while the current one is written), until done or out of time. */
  private async stream(session: ReadOnlySession, read: ReadPlan, settings: PostgresSettings): Promise<'done' | 'stopped'> {
    const batches = session.batches(read.sql, read.params, this.settings.batchSize, read.arrayOids);
    const context: UpsertContext = {
      tenantId: this.run.tenantId,
      mode: settings.mode,
      source: 'postgres',
      identity: settings.idColumn ? { by: 'externalId', fallbackToEmail: settings.fallbackToEmail } : { by: 'email' },
    };
    try {
      // The trailing rows that share the last key of a batch wait for the next one, so every
      // saved position is a key boundary: a resume (`>=` that key) neither skips nor repeats a row.
      let carry: unknown[][] = [];
      let next = batches.next();
      for (;;) {
        const result = await next;
        if (result.done) {
          if (carry.length > 0) await this.apply(carry, read, context);
          return 'done';
        }
        const outOfTime = this.remainingMs() < this.settings.stopWhenRemainingMs;
        if (!outOfTime) {
          next = batches.next();
          // The prefetch may fail while this batch is written: mark it handled now (the await
          // above still sees the error), or Node would count an unhandled rejection and exit.
          next.catch(() => undefined);
        }
        const rows = carry.length > 0 ? carry.concat(result.value) : result.value;
        const lastKey = this.keyOf(rows[rows.length - 1]!, read);
        let cut = rows.length;
        while (cut > 0 && sameKey(this.keyOf(rows[cut - 1]!, read), lastKey)) cut -= 1;
        if (cut === 0) {
          // One key fills the whole batch (a pathological duplicate): take it all and resume after it.
          await this.apply(rows, read, context);
          carry = [];
          this.checkpoint = { ...this.checkpoint, resume: { key: lastKey, inclusive: false } };
        } else {
          carry = rows.slice(cut);
          await this.apply(rows.slice(0, cut), read, context);
          this.checkpoint = { ...this.checkpoint, resume: { key: this.keyOf(carry[0]!, read), inclusive: true } };
        }
        if (outOfTime) return 'stopped';
        if (Date.now() - this.lastSave >= this.settings.heartbeatMs && !(await this.save())) throw new LeaseLostError('lease lost');
      }
    } finally {
      await batches.return(undefined);
    }
  }

  private keyOf(row: unknown[], read: ReadPlan): string[] {
    return Array.from({ length: read.keyWidth }, (_, index) => String(row[read.columns.length + index] ?? ''));
  }

  private async apply(rows: unknown[][], read: ReadPlan, context: UpsertContext): Promise<void> {
    const counts = this.run.counts;
    const errors: RowError[] = [];
    const changes: UserChange[] = [];
    const rowOf: number[] = [];
    const emailColumn = read.columns[read.plan.emailIndex]!.name;
    const first = this.checkpoint.rowsRead;
    const columnTypes = read.plan.properties.map((column) => read.types.get(column.property) ?? 'string');
    // `line` counts rows in the run's (resumable) read order, not the query's: a row error about
    // a value also names the row by its key, so the tenant can find it in their own table.
    const keyIndex = read.idIndex ?? read.plan.emailIndex;
    const keyName = read.columns[keyIndex]!.name;
    const rowKey = (key: unknown) => `row with ${keyName} ${clipErrorValue(key) ?? 'null'}: `;
    rows.forEach((row, index) => {
      const line = first + index + 1;
      counts.rows += 1;
      if (read.updatedAtIndex !== undefined && row[read.updatedAtIndex] === null) counts.nullUpdatedAt += 1;
      const properties: UserChange['properties'] = {};
      for (let at = 0; at < columnTypes.length; at += 1) {
        const column = read.plan.properties[at]!;
        const raw = row[column.index];
        const coerced = coerceValue(raw, columnTypes[at]!);
        if (!coerced.ok) {
          errors.push({ line, column: column.column, value: clipErrorValue(raw), message: rowKey(row[keyIndex]) + coerced.message });
          return;
        }
        if (coerced.value !== undefined) properties[column.property] = coerced.value;
      }
      const rawId = read.idIndex !== undefined ? row[read.idIndex] : undefined;
      const externalId = rawId === null || rawId === undefined ? undefined : String(rawId).trim() || undefined;
      const email = row[read.plan.emailIndex];
      changes.push({ email: email === null ? undefined : email, properties, ref: `${this.run.runId}:${line}`, ...(externalId ? { externalId } : {}) });
      rowOf.push(line);
    });
    const outcomes = changes.length > 0 ? await upsertUsers(this.deps.users, context, changes) : [];
    outcomes.forEach((outcome, index) => {
      if (outcome.status === 'failed') {
        const change = changes[index]!;
        if (outcome.field !== 'email' && outcome.field !== 'externalId') {
          // A property (the user would outgrow one item): its column, no value (it is the large one).
          const column = read.plan.properties.find((planned) => planned.property === outcome.field)?.column ?? outcome.field;
          const key = read.idIndex !== undefined ? change.externalId : change.email;
          errors.push({ line: rowOf[index]!, column, message: rowKey(key) + outcome.message });
          return;
        }
        const column = outcome.field === 'email' ? emailColumn : (read.columns[read.idIndex ?? -1]?.name ?? outcome.field);
        errors.push({ line: rowOf[index]!, column, value: clipErrorValue(outcome.field === 'email' ? change.email : change.externalId), message: outcome.message });
        return;
      }
      counts[outcome.status] += 1;
    });
    counts.failed += errors.length;
    errors.sort((a, b) => a.line - b.line);
    for (const error of errors) if (this.run.errors.length < MAX_INLINE_ERRORS) this.run.errors.push(error);
    this.run.errorCount += errors.length;
    this.checkpoint = { ...this.checkpoint, rowsRead: first + rows.length };
  }

  private async save(): Promise<boolean> {
    this.lastSave = Date.now();
    this.run.checkpoint = this.checkpoint;
    return this.deps.integrations.saveProgress(this.run, this.leaseId, Date.now() + this.settings.leaseMs);
  }
}

/** `(k1, k2) > (v1, v2)` (or `>=`), spelled out so each side keeps its collation. */
function rowAfter(keys: string[], values: string[], inclusive: boolean): string {
  const [key, ...restKeys] = keys;
  const [value, ...restValues] = values;
  if (restKeys.length === 0) return `${key} ${inclusive ? '>=' : '>'} ${value}`;
  return `(${key} > ${value} OR (${key} = ${value} AND ${rowAfter(restKeys, restValues, inclusive)}))`;
}

const sameKey = (a: string[], b: string[]) => a.length === b.length && a.every((part, index) => part === b[index]);

