import { randomUUID } from 'node:crypto';
import { logger } from '../logging/logger.js';
import { recordSyncRun } from '../observability/metrics.js';
import type { IntegrationItem, IntegrationStore } from './integration-store.js';
import type { IntegrationKind, RunTrigger, SyncRun } from './sync-run.js';

/**
 * What every sync invocation does around the work itself, the same for PostgreSQL and
 * Salesforce: a schedule firing starts a run (refused while one runs: one run per tenant and
 * integration); the invocation takes the run's lease (fresh, handed over by a continuation,
 * or lapsed); a failure the tenant can act on ends the run `failed` at once; any other
 * failure is counted and rethrown for Lambda's retry, and the run fails after `maxFailures`.
 */
export interface SyncInvocation {
  tenantId: string;
  /** Absent when a schedule fires: the invocation starts a run itself. */
  runId?: string;
  /** A continuation: the lease the previous invocation hands over. */
  leaseId?: string;
  trigger?: RunTrigger;
}

const TENANT_ID = /^[a-z0-9-]{3,40}$/;

/** Whether an event is a well-formed invocation of the `<kind>` sync function (anything else is ignored, never run). */
export function isSyncInvocationOf<K extends string>(kind: K) {
  return (event: unknown): event is SyncInvocation & { kind: K } => {
    const candidate = event as (Partial<SyncInvocation> & { kind?: unknown }) | undefined;
    return (
      candidate?.kind === kind &&
      typeof candidate.tenantId === 'string' &&
      TENANT_ID.test(candidate.tenantId) &&
      (candidate.runId === undefined || typeof candidate.runId === 'string') &&
      (candidate.leaseId === undefined || typeof candidate.leaseId === 'string')
    );
  };
}

export type SyncInvocationResult = 'succeeded' | 'failed' | 'continued' | 'busy' | 'ignored' | 'lease_lost';

/** The run's lease went to another invocation: this one stops without touching the run. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

/** Another invocation holds a live lease on this run: thrown, so Lambda retries later. */
export class SyncBusyError extends Error {
  override readonly name = 'SyncBusyError';
}

export interface SyncLifecycle<S, C> {
  kind: IntegrationKind;
  integrations: IntegrationStore;
  leaseMs: number;
  maxFailures: number;
  /** Whether a firing schedule should start a run with these settings. */
  runnable(item: IntegrationItem<S>): boolean;
  newRun(tenantId: string, trigger: RunTrigger, configVersion: number): SyncRun<C>;
  /** Does the work of one invocation on `run` (updated in place, so a failure records what it reached). */
  execute(run: SyncRun<C>, leaseId: string): Promise<SyncInvocationResult>;
  /** A failure the tenant can act on (a retry would fail the same way): the run ends with it at once. */
  readableFailure(error: unknown): { code: string; message: string } | undefined;
  /** Why the run failed after `failures` attempts of an unexpected error. */
  exhaustedFailure(error: unknown, failures: number): { code: string; message: string };
  /** Last touches on a run about to be recorded as failed (e.g. the API calls it sent). */
  beforeFail?(run: SyncRun<C>): void;
}

export async function runSyncInvocation<S, C>(lifecycle: SyncLifecycle<S, C>, invocation: SyncInvocation): Promise<SyncInvocationResult> {
  const { kind, integrations } = lifecycle;
  const { tenantId } = invocation;
  let runId = invocation.runId;
  if (!runId) {
    const item = await integrations.get<S>(tenantId, kind);
    if (!item || !lifecycle.runnable(item)) {
      logger.info(`scheduled ${kind} sync ignored: the integration is not configured or not enabled`);
      return 'ignored';
    }
    const run = lifecycle.newRun(tenantId, invocation.trigger ?? 'schedule', item.configVersion);
    const started = await integrations.startRun(run, lifecycle.leaseMs, new Date());
    if (!started.started) {
      // A second trigger while a run is running is refused (never two runs at once); the running one carries on.
      logger.warn(`${kind} sync not started: another run is in progress`, { activeRunId: started.activeRunId, reason: started.reason });
      return started.reason === 'busy' ? 'busy' : 'ignored';
    }
    runId = run.runId;
  }
  const leaseId = randomUUID();
  const run = await integrations.claimRun<C>(tenantId, kind, runId, { leaseId, continuing: invocation.leaseId, leaseMs: lifecycle.leaseMs, now: new Date() });
  if (!run) {
    const current = await integrations.getRun(tenantId, kind, runId);
    if (current?.status === 'running') throw new SyncBusyError(`run ${runId} is being worked on by another invocation`);
    logger.info(`${kind} sync invocation ignored: no such run, or it has finished`, { runId, status: current?.status });
    return 'ignored';
  }
  logger.appendKeys({ runId });
  try {
    return await lifecycle.execute(run, leaseId);
  } catch (error) {
    if (error instanceof LeaseLostError) {
      logger.warn(`${kind} sync stopped: its lease was taken over`, { runId });
      return 'lease_lost';
    }
    lifecycle.beforeFail?.(run);
    const readable = lifecycle.readableFailure(error);
    if (readable) {
      await finishFailed(lifecycle, { ...run, status: 'failed', finishedAt: new Date().toISOString(), error: readable }, leaseId);
      logger.warn(`${kind} sync failed`, { runId, code: readable.code, reason: readable.message });
      return 'failed';
    }
    const failures = await integrations.recordFailure(tenantId, kind, runId, leaseId).catch(() => undefined);
    logger.error(`${kind} sync attempt failed`, { runId, failures, error: error as Error });
    if (failures !== undefined && failures >= lifecycle.maxFailures) {
      await finishFailed(lifecycle, { ...run, status: 'failed', finishedAt: new Date().toISOString(), error: lifecycle.exhaustedFailure(error, failures) }, undefined);
      return 'failed';
    }
    throw error;
  } finally {
    logger.removeKeys(['runId']);
  }
}

/** Ends a run as failed (its record says why) and counts it for the failed-runs alarm. */
async function finishFailed<S, C>(lifecycle: SyncLifecycle<S, C>, run: SyncRun<C>, leaseId: string | undefined) {
  await lifecycle.integrations.finishRun(run, leaseId);
  recordSyncRun(lifecycle.kind, 'failed', Date.parse(run.finishedAt ?? new Date().toISOString()) - Date.parse(run.startedAt));
}
