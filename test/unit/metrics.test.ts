import { afterEach, describe, expect, it, vi } from 'vitest';

/** The metrics module writes CloudWatch embedded-metric-format lines that the alarms and dashboard read. */
async function freshMetrics() {
  vi.resetModules();
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'roster-postgres-sync');
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  const module = await import('../../shared/observability/metrics.js');
  return { module, lines, restore: () => spy.mockRestore() };
}

const emf = (lines: string[]) =>
  lines
    .flatMap((line) => line.split('\n'))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, any>);

afterEach(() => vi.unstubAllEnvs());

describe('metrics', () => {
  it('a sync run writes its outcome and duration under namespace Roster with the integration as dimension, never the tenant', async () => {
    const { module, lines, restore } = await freshMetrics();
    try {
      module.recordSyncRun('postgres', 'failed', 1234);
      module.recordRows('postgres', { created: 3, updated: 2, unchanged: 5, failed: 1 });
      module.flushMetrics();
    } finally {
      restore();
    }
    const records = emf(lines);
    const failed = records.find((record) => 'SyncRunsFailed' in record)!;
    expect(failed._aws.CloudWatchMetrics[0].Namespace).toBe('Roster');
    expect(failed._aws.CloudWatchMetrics[0].Dimensions[0]).toEqual(expect.arrayContaining(['service', 'integration']));
    expect(failed).toMatchObject({ service: 'roster-postgres-sync', integration: 'postgres', SyncRunsFailed: 1 });
    expect(records.find((record) => 'SyncRunDuration' in record)).toMatchObject({ SyncRunDuration: 1234, integration: 'postgres' });
    expect(records.find((record) => 'RowsImported' in record)).toMatchObject({ RowsImported: 10, source: 'postgres' });
    expect(records.find((record) => 'RowsFailed' in record)).toMatchObject({ RowsFailed: 1 });
    expect(JSON.stringify(records)).not.toMatch(/tenant/i);
  });

  it('API errors are counted by class; an invocation that recorded nothing writes nothing', async () => {
    const { module, lines, restore } = await freshMetrics();
    try {
      module.flushMetrics();
      expect(emf(lines)).toEqual([]);
      module.recordApiError(500);
      module.recordApiError(503);
      module.recordApiError(404);
      module.flushMetrics();
    } finally {
      restore();
    }
    const [record] = emf(lines);
    expect(record).toMatchObject({ ApiServerErrors: [1, 1], ApiClientErrors: 1 });
  });
});
