import { ConflictError, NotFoundError, SourceRejectedError, ValidationError } from '../../errors/domain-errors.js';
import { nextFireTime } from '../../scheduling/schedule-expression.js';
import { syncScheduleName, type SyncScheduler } from '../../scheduling/sync-scheduler.js';
import { integrationSecretName, type SecretStore } from '../../secrets/secret-store.js';
import type { IntegrationStore } from '../integration-store.js';
import { publicRun, type IntegrationKind, type RunTrigger } from '../sync-run.js';
import type { ConnectionParts } from './connection-url.js';
import {
  changesWhatIsRead,
  MASK,
  parseSecret,
  publicSettings,
  resolveConnection,
  toSecret,
  toStoredSettings,
  type PostgresSettings,
  type PutPostgresSettings,
} from './postgres-settings.js';
import { incrementalMode, newSyncRun, type PostgresSyncInvocation } from './postgres-sync-run.js';
import { checkQuery } from './query-guard.js';
import { PostgresConnectionError, PostgresQueryError, ReadOnlySession, type SessionLimits } from './read-only-session.js';

/**
 * The API side of integrations (API.md, Integrations): settings, preview, run now, run
 * history. Secrets go to the secret store only; DynamoDB and answers hold them masked.
 */
export interface IntegrationServiceDependencies {
  integrations: IntegrationStore;
  secrets: SecretStore;
  scheduler: SyncScheduler;
  sessionLimits: SessionLimits;
  /** Starts the sync function asynchronously (deployed: a Lambda `Event` invocation). */
  launch: (invocation: PostgresSyncInvocation) => Promise<void>;
  now?: () => Date;
}

const PREVIEW_ROWS = 10;
const UNCLAIMED_RUN_LEASE_MS = 10 * 60_000;
const CONNECTION_FAILURES = new Set(['connection_failed', 'authentication_failed', 'tls_failed']);

async function savedConnection(deps: IntegrationServiceDependencies, tenantId: string) {
  const text = await deps.secrets.get(integrationSecretName(tenantId, 'postgres'));
  return text ? parseSecret(text) : undefined;
}

function queryProblem(message: string): ValidationError {
  return new ValidationError(`invalid query: ${message}`, [{ field: 'body.query', message }]);
}

export async function putPostgresIntegration(deps: IntegrationServiceDependencies, tenantId: string, body: PutPostgresSettings) {
  const checked = await checkQuery(body.query);
  if (!checked.ok) throw queryProblem(checked.message);
  const saved = body.connectionUrl === undefined || body.connectionUrl.includes(`:${MASK}@`) || body.sslCa === undefined || body.sslCa === MASK ? await savedConnection(deps, tenantId) : undefined;
  const connection = resolveConnection(body.connectionUrl, saved?.parts);
  if ('missing' in connection) throw new ValidationError(connection.missing, [{ field: 'body.connectionUrl', message: connection.missing }]);
  const sslCa = body.sslCa === null ? undefined : body.sslCa === undefined || body.sslCa === MASK ? saved?.sslCa : body.sslCa;
  if (body.sslCa === MASK && !saved?.sslCa) {
    throw new ValidationError('sslCa is masked (****) but no certificate is saved', [{ field: 'body.sslCa', message: 'no certificate is saved' }]);
  }
  const settings = toStoredSettings(body, connection.parts, sslCa !== undefined);
  const before = await deps.integrations.get<PostgresSettings>(tenantId, 'postgres');
  await deps.secrets.put(integrationSecretName(tenantId, 'postgres'), JSON.stringify(toSecret(connection.parts, body.schema, sslCa)), `Roster: PostgreSQL connection of tenant ${tenantId}`);
  const now = (deps.now?.() ?? new Date()).toISOString();
  const item = await deps.integrations.saveSettings(tenantId, 'postgres', settings, { resetWatermark: changesWhatIsRead(before?.settings, settings), now });
  await applySchedule(deps, tenantId, 'postgres', settings);
  return describeIntegration(deps, item.settings, item.lastRunId ? await deps.integrations.getRun(tenantId, 'postgres', item.lastRunId) : undefined);
}

async function applySchedule(deps: IntegrationServiceDependencies, tenantId: string, kind: IntegrationKind, settings: { enabled: boolean; schedule: string }) {
  const name = syncScheduleName(tenantId, kind);
  if (settings.enabled) {
    const input: PostgresSyncInvocation = { kind: 'postgres-sync', tenantId, trigger: 'schedule' };
    await deps.scheduler.put(name, { expression: settings.schedule, input: { ...input } });
  } else {
    await deps.scheduler.delete(name);
  }
}

function describeIntegration(deps: IntegrationServiceDependencies, settings: PostgresSettings, lastRun: Awaited<ReturnType<IntegrationStore['getRun']>>) {
  const now = deps.now?.() ?? new Date();
  const next = settings.enabled ? nextFireTime(settings.schedule, 'UTC', now) : undefined;
  return {
    kind: 'postgres' as const,
    ...publicSettings(settings),
    connected: !(lastRun?.status === 'failed' && lastRun.error && CONNECTION_FAILURES.has(lastRun.error.code)),
    nextRunAt: next ? next.toISOString() : null,
    ...(lastRun ? { lastRun: publicRun(lastRun) } : {}),
  };
}

export async function getIntegration(deps: IntegrationServiceDependencies, tenantId: string, kind: IntegrationKind) {
  const item = kind === 'postgres' ? await deps.integrations.get<PostgresSettings>(tenantId, kind) : undefined;
  if (!item) throw new NotFoundError(`no ${kind} integration is configured`);
  return describeIntegration(deps, item.settings, item.lastRunId ? await deps.integrations.getRun(tenantId, kind, item.lastRunId) : undefined);
}

/**
 * Removes the schedule first (so it cannot fire into a half-deleted integration), then the
 * secret, then the settings. Idempotent: deleting what is not there is a 204 too (API.md).
 */
export async function deleteIntegration(deps: IntegrationServiceDependencies, tenantId: string, kind: IntegrationKind) {
  await deps.scheduler.delete(syncScheduleName(tenantId, kind));
  await deps.secrets.delete(integrationSecretName(tenantId, kind));
  await deps.integrations.delete(tenantId, kind);
}

export interface PreviewInput {
  connectionUrl?: string;
  schema?: string;
  sslCa?: string;
  query: string;
}

/** Runs the query (read-only, as a run would) and returns the columns with their types and the first rows. */
export async function previewPostgres(deps: IntegrationServiceDependencies, tenantId: string, input: PreviewInput) {
  const checked = await checkQuery(input.query);
  if (!checked.ok) {
    // A syntax error is a query error like one the server reports (422 with PostgreSQL's message,
    // from its own parser); a query Roster will not run (DDL, writes, several statements) is a bad request.
    if (checked.kind === 'syntax') throw new SourceRejectedError('query_failed', `PostgreSQL: ${checked.message.replace(/^the query is not valid SQL: /, '')}`);
    throw queryProblem(checked.message);
  }
  const saved = input.connectionUrl === undefined || input.connectionUrl.includes(`:${MASK}@`) ? await savedConnection(deps, tenantId) : undefined;
  const connection = resolveConnection(input.connectionUrl, saved?.parts);
  if ('missing' in connection) throw new ValidationError(connection.missing, [{ field: 'body.connectionUrl', message: connection.missing }]);
  // Omitted connection: the saved one with its schema and certificate; a given one stands alone,
  // except that a masked password (from the saved secret) keeps the saved certificate too: it
  // goes only to a server that certificate verifies.
  const usesSaved = input.connectionUrl === undefined;
  const usesSavedPassword = usesSaved || input.connectionUrl!.includes(`:${MASK}@`);
  const schema = input.schema ?? (usesSaved ? saved?.schema : undefined);
  const sslCa = input.sslCa ?? (usesSavedPassword ? saved?.sslCa : undefined);
  return withSession(connection.parts, schema, sslCa, deps.sessionLimits, async (session) => {
    // The preview of a query with $LAST_SYNC_TIMESTAMP reads as a first run would (the epoch).
    const { columns, rows } = await session.preview(checked.sql, checked.usesLastSync ? ['1970-01-01T00:00:00.000Z'] : [], PREVIEW_ROWS);
    return {
      columns: columns.map((column) => ({ name: column.name, type: column.type })),
      rows: rows.map((row) => Object.fromEntries(columns.map((column, index) => [column.name, row[index] ?? null]))),
      incremental: incrementalMode(checked.usesLastSync, columns),
    };
  });
}

async function withSession<T>(parts: ConnectionParts, schema: string | undefined, sslCa: string | undefined, limits: SessionLimits, use: (session: ReadOnlySession) => Promise<T>): Promise<T> {
  let session: ReadOnlySession | undefined;
  try {
    session = await ReadOnlySession.open({ parts, schema, sslCa }, limits);
    return await use(session);
  } catch (error) {
    if (error instanceof PostgresQueryError) throw new SourceRejectedError('query_failed', `PostgreSQL: ${error.message}`);
    if (error instanceof PostgresConnectionError) {
      const code = error.reason === 'authentication' ? 'authentication_failed' : error.reason === 'tls' ? 'tls_failed' : 'connection_failed';
      throw new SourceRejectedError(code, error.message);
    }
    throw error;
  } finally {
    await session?.close();
  }
}

/** `POST /integrations/{kind}/runs`: starts a run now (409 while one is running). */
export async function startIntegrationRun(deps: IntegrationServiceDependencies, tenantId: string, kind: IntegrationKind, trigger: RunTrigger = 'manual') {
  const item = await deps.integrations.get(tenantId, kind);
  if (!item) throw new NotFoundError(`no ${kind} integration is configured`);
  const run = newSyncRun(tenantId, trigger, item.configVersion, deps.now?.() ?? new Date());
  // The lock waits this long for the launched invocation to claim the run (Lambda may queue it behind reserved concurrency).
  const started = await deps.integrations.startRun(run, UNCLAIMED_RUN_LEASE_MS, deps.now?.() ?? new Date());
  if (!started.started) {
    if (started.reason === 'missing') throw new NotFoundError(`no ${kind} integration is configured`);
    throw new ConflictError(`a run is already in progress (${started.activeRunId}); one run at a time`);
  }
  try {
    await deps.launch({ kind: 'postgres-sync', tenantId, runId: run.runId, trigger });
  } catch (error) {
    // Never leave a run that nothing will execute looking alive (or holding the lock).
    await deps.integrations.abandonRun(run, { code: 'not_started', message: 'the run could not be started; try again' });
    throw error;
  }
  return { runId: run.runId, status: 'running' as const };
}

export async function listIntegrationRuns(deps: IntegrationServiceDependencies, tenantId: string, kind: IntegrationKind, limit: number, cursor?: string) {
  const page = await deps.integrations.listRuns(tenantId, kind, limit, cursor);
  return { items: page.items.map(publicRun), nextCursor: page.nextCursor };
}
