import type { ImportCounts, RowError } from '../imports/import-record.js';

/**
 * Sync runs (PostgreSQL now, Salesforce later): one record per run in the control table,
 * newest first, with the counts, the first row errors and a readable error (API.md).
 */
export type IntegrationKind = 'postgres' | 'salesforce';
export type RunTrigger = 'schedule' | 'manual';
export type RunStatus = 'running' | 'succeeded' | 'failed';

export interface SyncRunCounts extends ImportCounts {
  /** Rows whose `updated_at` was null: processed on every run (they cannot be filtered), counted here. */
  nullUpdatedAt: number;
}

/** Where a run stopped, so the next invocation continues after the last committed row. */
export interface SyncCheckpoint {
  /** The `$LAST_SYNC_TIMESTAMP` / `updated_at` bound of this run (fixed for all its invocations). */
  since: string;
  /** The source's clock when the run's first snapshot began: the next watermark is this minus the overlap. */
  sourceStartedAt: string;
  /** Where the next invocation resumes: the sort key (`[key, email]` as text) and whether rows equal to it are still to do. */
  resume?: { key: string[]; inclusive: boolean };
  /** Rows read so far (row numbers of errors continue from it). */
  rowsRead: number;
}

export interface SyncRun<C = SyncCheckpoint> {
  runId: string;
  tenantId: string;
  kind: IntegrationKind;
  trigger: RunTrigger;
  status: RunStatus;
  startedAt: string;
  finishedAt?: string;
  counts: SyncRunCounts;
  errors: RowError[];
  errorCount: number;
  error?: { code: string; message: string };
  /** The settings version this run started with (a PUT that changes the query bumps it). */
  configVersion: number;
  checkpoint?: C;
  invocations: number;
  /** Salesforce: what the export half of the run did (its own counts), and the API requests the run sent. */
  exportCounts?: ExportCounts;
  apiCalls?: number;
}

/** The export half of a Salesforce run: users examined, records created / updated in the org, unchanged, skipped (mode `existing`), failed. */
export interface ExportCounts {
  users: number;
  created: number;
  updated: number;
  unchanged: number;
  skipped: number;
  failed: number;
}

export const emptyExportCounts = (): ExportCounts => ({ users: 0, created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0 });

export const emptyRunCounts = (): SyncRunCounts => ({ rows: 0, created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0, nullUpdatedAt: 0 });

/** Run IDs sort by start time (the sort key of the run history), newest last. */
export function newRunId(now: Date, random: string): string {
  return `run_${now.getTime().toString(36).padStart(9, '0')}${random}`;
}

/** A fresh run record (the API's "run now" and a firing schedule both start one). */
export function newRun(kind: IntegrationKind, tenantId: string, trigger: RunTrigger, configVersion: number, now: Date, random: string): SyncRun<never> {
  return {
    runId: newRunId(now, random),
    tenantId,
    kind,
    trigger,
    status: 'running',
    startedAt: now.toISOString(),
    counts: emptyRunCounts(),
    errors: [],
    errorCount: 0,
    configVersion,
    invocations: 0,
  };
}

/** What the API shows of a run (no checkpoint, no internals). */
export function publicRun(run: SyncRun<unknown>) {
  return {
    runId: run.runId,
    trigger: run.trigger,
    status: run.status,
    startedAt: run.startedAt,
    ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
    counts: run.counts,
    ...(run.errors.length > 0 ? { errors: run.errors } : {}),
    errorCount: run.errorCount,
    ...(run.error ? { error: run.error } : {}),
    ...(run.exportCounts ? { exportCounts: run.exportCounts } : {}),
    ...(run.apiCalls !== undefined ? { apiCalls: run.apiCalls } : {}),
  };
}
