import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { processSingleton } from '../runtime/process-singleton.js';

/**
 * The one metrics buffer of the process (Powertools, CloudWatch embedded metric format in
 * the function's log): namespace `Roster`, dimension `service` = the function. Handlers
 * flush it at the end of each invocation (`flushMetrics`). Tenants are never a dimension
 * (unbounded cardinality); the logs carry the tenant of each line.
 */
export const METRICS_NAMESPACE = 'Roster';

export const metrics = processSingleton('metrics', () => new Metrics({ namespace: METRICS_NAMESPACE, serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'roster' }));

/** Names the dashboards and alarms use (infra/constructs/monitoring.ts). */
export const metricNames = {
  rowsImported: 'RowsImported',
  rowsFailed: 'RowsFailed',
  importsFailed: 'ImportsFailed',
  syncRunsSucceeded: 'SyncRunsSucceeded',
  syncRunsFailed: 'SyncRunsFailed',
  syncRunDuration: 'SyncRunDuration',
  apiServerErrors: 'ApiServerErrors',
  apiClientErrors: 'ApiClientErrors',
} as const;

/** Rows a finished import or sync run wrote (created, updated or unchanged) and rows it refused, by source. */
export function recordRows(source: 'csv' | 'postgres' | 'salesforce', counts: { created: number; updated: number; unchanged: number; failed: number }): void {
  withDimension('source', source, metricNames.rowsImported, MetricUnit.Count, counts.created + counts.updated + counts.unchanged);
  withDimension('source', source, metricNames.rowsFailed, MetricUnit.Count, counts.failed);
}

/** A single metric is written at once and forgets its dimensions after one value: one per value. */
function withDimension(name: string, value: string, metric: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], amount: number): void {
  const single = metrics.singleMetric();
  single.addDimension(name, value);
  single.addMetric(metric, unit, amount);
}

export function recordImportFailed(): void {
  metrics.addMetric(metricNames.importsFailed, MetricUnit.Count, 1);
}

/** One finished sync run: its outcome and how long it took from start to end (all invocations). */
export function recordSyncRun(integration: 'postgres' | 'salesforce', status: 'succeeded' | 'failed', durationMs: number): void {
  withDimension('integration', integration, status === 'succeeded' ? metricNames.syncRunsSucceeded : metricNames.syncRunsFailed, MetricUnit.Count, 1);
  withDimension('integration', integration, metricNames.syncRunDuration, MetricUnit.Milliseconds, Math.max(0, durationMs));
}

export function recordApiError(status: number): void {
  metrics.addMetric(status >= 500 ? metricNames.apiServerErrors : metricNames.apiClientErrors, MetricUnit.Count, 1);
}

/** Writes what the invocation buffered (nothing when it recorded nothing). */
export function flushMetrics(): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}
