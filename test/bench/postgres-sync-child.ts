import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoJsonTransport } from '../../shared/aws/dynamo-json-transport.js';
import { DynamoIntegrationStore } from '../../shared/integrations/integration-store.js';
import { parseConnectionUrl } from '../../shared/integrations/postgres/connection-url.js';
import { toSecret, toStoredSettings } from '../../shared/integrations/postgres/postgres-settings.js';
import { newSyncRun, runPostgresSync, type PostgresSyncInvocation } from '../../shared/integrations/postgres/postgres-sync-run.js';
import { defaultSessionLimits } from '../../shared/integrations/postgres/session-limits.js';
import { PropertyRegistry } from '../../shared/properties/property-registry.js';
import { DynamoUserStore } from '../../shared/users/dynamo-user-store.js';
import { NullSinkUserStore } from './bench-support.js';

/**
 * One sync-function process, run by the bench as a bundle (like the deployed function): a
 * first run of BENCH_PG_QUERY on BENCH_PG_URL for tenant BENCH_TENANT, into the null sink
 * or DynamoDB Local (BENCH_SINK), with the control table on DynamoDB Local. Prints one
 * `RESULT <json>` line with rows, seconds and peak RSS.
 */
const env = process.env as Record<string, string>;
const raw = new DynamoDBClient({});
const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
const integrations = new DynamoIntegrationStore(client, env.CONTROL_TABLE!);
const tenantId = env.BENCH_TENANT!;
const parsed = parseConnectionUrl(env.BENCH_PG_URL!);
if (!parsed.ok) throw new Error(parsed.message);
const body = { connectionUrl: env.BENCH_PG_URL!, query: env.BENCH_PG_QUERY!, enabled: true };
const secret = JSON.stringify(toSecret(parsed.parts, undefined, undefined));
const item = await integrations.saveSettings(tenantId, 'postgres', toStoredSettings(body, parsed.parts, false), { resetWatermark: true, now: new Date().toISOString() });
const users =
  env.BENCH_SINK === 'dynamo'
    ? new DynamoUserStore(new DynamoJsonTransport(raw), { usersTable: env.USERS_TABLE!, eventsTable: env.EVENTS_TABLE! })
    : new NullSinkUserStore();

if (env.BENCH_SINK === 'read') {
  // The driver's own ceiling: the same ordered query through the session and cursor, rows parsed, nothing else.
  const { ReadOnlySession } = await import('../../shared/integrations/postgres/read-only-session.js');
  const session = await ReadOnlySession.open({ parts: parsed.parts }, { ...defaultSessionLimits, allowPrivateHosts: true, statementTimeoutMs: 15 * 60_000 });
  const start = process.hrtime.bigint();
  let rows = 0;
  for await (const batch of session.batches(`SELECT * FROM (${env.BENCH_PG_QUERY}) AS s ORDER BY (COALESCE(s.email::text, '') COLLATE "C")`, [], 2000, new Set())) rows += batch.length;
  await session.close();
  console.log(`RESULT ${JSON.stringify({ status: 'succeeded', counts: { rows, created: rows, failed: 0 }, seconds: Number(process.hrtime.bigint() - start) / 1e9, peakRssMb: Math.round((process.resourceUsage().maxRSS * 1024) / 1024 / 1024) })}`);
  process.exit(0);
}

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);
const start = process.hrtime.bigint();
const run = newSyncRun(tenantId, 'manual', item.configVersion);
await integrations.startRun(run, 60_000, new Date());
const queue: PostgresSyncInvocation[] = [{ kind: 'postgres-sync', tenantId, runId: run.runId }];
const results: string[] = [];
while (queue.length > 0) {
  results.push(
    await runPostgresSync(
      {
        integrations,
        secrets: { get: async () => secret },
        users,
        registry: new PropertyRegistry(client, env.CONTROL_TABLE!),
        sessionLimits: { ...defaultSessionLimits, allowPrivateHosts: true, statementTimeoutMs: 15 * 60_000 },
        continueLater: async (next) => {
          queue.push(next);
        },
      },
      queue.shift()!,
      () => 15 * 60_000,
    ),
  );
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
const finished = (await integrations.getRun(tenantId, 'postgres', run.runId))!;
console.log(`RESULT ${JSON.stringify({ results, status: finished.status, error: finished.error, counts: finished.counts, seconds, peakRssMb: Math.round(peakRss / 1024 / 1024) })}`);
raw.destroy();
