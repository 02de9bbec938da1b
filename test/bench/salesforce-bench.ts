import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { build } from 'esbuild';
import { esmRequireBanner } from '../../infra/constructs/roster-function.js';
import { startDynamoDbLocal } from '../../infra/local/dynamodb-local.js';
import { freePort } from '../../infra/local/free-port.js';
import { LOCAL_REGION, localCredentials, sdkEnvironment } from '../../infra/local/local-settings.js';
import { ensureTables } from '../../infra/local/provision.js';
import { controlTable, eventsTable, localTableName, usersTable } from '../../shared/storage/table-definitions.js';
import { startFakeSalesforce, type FakeSalesforce } from '../support/fake-salesforce/fake-salesforce.js';
import type { BenchReport } from './report.js';
import { runResultChild } from './result-child.js';

/**
 * The `salesforce` group, against the fake Salesforce (in this process) with the sync in
 * its own bundled process (like the function):
 * - API requests per 10,000 records imported (a first import: quota check, COUNT(), one
 *   Bulk API 2.0 query job and its result pages) and per 10,000 users exported (a first
 *   export into an empty org: the match index query job and a Bulk ingest job), counted by
 *   the fake's request counter;
 * - peak RSS of the sync process importing 200,000 records through the Bulk path.
 */
const tables = { CONTROL_TABLE: localTableName(controlTable, 'bench'), USERS_TABLE: localTableName(usersTable, 'bench'), EVENTS_TABLE: localTableName(eventsTable, 'bench') };

interface ChildResult {
  status: string;
  error?: { message: string };
  counts: { rows: number; created: number; failed: number };
  exportCounts?: { users: number; created: number; failed: number };
  apiCalls: number;
  seconds: number;
  peakRssMb: number;
}

async function bundleChild(): Promise<string> {
  const outfile = join(mkdtempSync(join(tmpdir(), 'roster-bench-sf-')), 'child.mjs');
  await build({
    entryPoints: ['test/bench/salesforce-sync-child.ts'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    mainFields: ['module', 'main'],
    banner: { js: esmRequireBanner },
    outfile,
    logLevel: 'error',
  });
  return outfile;
}

function contacts(count: number) {
  return Array.from({ length: count }, (_, index) => ({
    FirstName: `First${index % 997}`,
    LastName: `Last${index}`,
    Email: `contact${index}@example.com`,
    Loyalty_Tier__c: index % 3 === 0 ? 'Gold' : 'Silver',
    Lifetime_Value__c: index % 1000,
    HasOptedOutOfEmail: index % 2 === 0,
    Birthdate: '1990-01-01',
  }));
}

async function runChild(child: string, environment: Record<string, string>): Promise<ChildResult> {
  const result = await runResultChild<ChildResult>('salesforce sync child', process.execPath, [child], { ...environment, POWERTOOLS_LOG_LEVEL: 'ERROR' });
  if (result.status !== 'succeeded') throw new Error(`bench salesforce sync ${result.status}: ${result.error?.message}`);
  return result;
}

export async function salesforceBench(report: BenchReport) {
  const bulkRows = Number(process.env.BENCH_SF_ROWS ?? 200_000);
  const fake: FakeSalesforce = await startFakeSalesforce();
  const dynamo = await startDynamoDbLocal({ port: await freePort() });
  try {
    const raw = new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: localCredentials });
    await ensureTables(raw, (definition) => localTableName(definition, 'bench'));
    raw.destroy();
    const child = await bundleChild();
    const environment = (mode: string, tenant: string, orgId: string, extra: Record<string, string> = {}) => {
      const tokens = fake.login(orgId);
      return {
        ...sdkEnvironment({ dynamodb: dynamo.endpoint, s3: 'http://127.0.0.1:1', secretsManager: 'http://127.0.0.1:1', scheduler: 'http://127.0.0.1:1' }),
        ...tables,
        BENCH_SF_MODE: mode,
        BENCH_TENANT: tenant,
        BENCH_SF_SECRET: JSON.stringify({ refreshToken: tokens.refresh_token, accessToken: tokens.access_token, instanceUrl: tokens.instance_url, loginUrl: fake.url }),
        SALESFORCE_CLIENT_ID: fake.clientId,
        SALESFORCE_CLIENT_SECRET: fake.clientSecret,
        ...extra,
      };
    };
    /** API requests the org received while the child ran (the settings check's describe excluded). */
    const measure = async (orgId: string, env: Record<string, string>) => {
      const before = fake.apiCalls(orgId);
      const result = await runChild(child, env);
      const describes = fake.requests.filter((request) => request.orgId === orgId && request.path.endsWith('/describe')).length;
      return { result, calls: fake.apiCalls(orgId) - before - describes };
    };

    fake.org('bench-import-10k').insert('Contact', contacts(10_000));
    const imported = await measure('bench-import-10k', environment('import', 'bench-sf-import', 'bench-import-10k'));
    if (imported.result.counts.created !== 10_000) throw new Error(`import created ${imported.result.counts.created} of 10000`);
    report.figure('sf_calls_per_10k_import', imported.calls, `a first import of 10,000 Contacts (quota check, COUNT(), a Bulk API 2.0 query job: create, status, results by locator); the run reported ${imported.result.apiCalls}; target ≤ 10`);

    const exported = await measure('bench-export-10k', environment('export', 'bench-sf-export', 'bench-export-10k', { BENCH_SF_USERS: '10000' }));
    if (exported.result.exportCounts?.created !== 10_000) throw new Error(`export created ${exported.result.exportCounts?.created} of 10000: ${JSON.stringify(exported.result.exportCounts)}`);
    report.figure('sf_calls_per_10k_export', exported.calls, `a run exporting 10,000 users into an empty org (its import half included): the match-index query job, one Bulk API 2.0 ingest job and its results; target ≤ 60`);

    fake.org('bench-import-200k').insert('Contact', contacts(bulkRows));
    const big = await measure('bench-import-200k', environment('import', 'bench-sf-200k', 'bench-import-200k'));
    if (big.result.counts.created !== bulkRows) throw new Error(`bulk import created ${big.result.counts.created} of ${bulkRows}`);
    report.figure('sf_import_200k_peak_rss_mb', big.result.peakRssMb, `peak RSS of the sync process importing ${bulkRows} records through Bulk API 2.0 (10,000-record result pages) into the null sink; target ≤ 256`);
    report.figure('sf_import_10k_peak_rss_mb', imported.result.peakRssMb, 'the 10,000-record import above: the peak barely moves with 20 times the records (memory is flat)');
    report.figure('sf_import_200k_records_per_s', Math.round(bulkRows / big.result.seconds), `the same run: records per second, fake Salesforce on the same machine; ${big.calls} API requests`);
  } finally {
    await dynamo.stop();
    await fake.close();
  }
}
