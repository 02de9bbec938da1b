import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoJsonTransport } from '../../shared/aws/dynamo-json-transport.js';
import { DynamoExportSource } from '../../shared/exports/export-sources.js';
import { DynamoIntegrationStore } from '../../shared/integrations/integration-store.js';
import { environmentSalesforceApp } from '../../shared/integrations/salesforce/salesforce-app.js';
import { SalesforceOAuth } from '../../shared/integrations/salesforce/salesforce-oauth.js';
import { resolveSalesforceSettings, putSalesforceSettingsBody } from '../../shared/integrations/salesforce/salesforce-settings.js';
import { newSalesforceRun, runSalesforceSync, type SalesforceSyncInvocation } from '../../shared/integrations/salesforce/salesforce-sync-run.js';
import { DynamoRefreshLease, TokenKeeper } from '../../shared/integrations/salesforce/salesforce-tokens.js';
import { SalesforceApi } from '../../shared/integrations/salesforce/salesforce-api.js';
import { PropertyRegistry } from '../../shared/properties/property-registry.js';
import { DynamoUserStore } from '../../shared/users/dynamo-user-store.js';
import { upsertUsers } from '../../shared/users/user-upsert.js';
import { NullSinkUserStore } from './bench-support.js';

/**
 * One Salesforce sync-function process, run by the bench as a bundle (like the deployed
 * function) against the fake Salesforce the bench runs in its own process:
 * - BENCH_SF_MODE=import: a first import of the org's Contacts into the null sink (the
 *   process's own memory is what is measured);
 * - BENCH_SF_MODE=export: BENCH_SF_USERS users are written to DynamoDB Local first, then a
 *   run exports them into the (empty) org.
 * Prints one `RESULT <json>` line with the run's counts, API calls, seconds and peak RSS.
 */
const env = process.env as Record<string, string>;
const raw = new DynamoDBClient({});
const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
const integrations = new DynamoIntegrationStore(client, env.CONTROL_TABLE!);
const tenantId = env.BENCH_TENANT!;
const mode = env.BENCH_SF_MODE;
let secret = env.BENCH_SF_SECRET!;
const secrets = { get: async () => secret, put: async (_name: string, value: string) => void (secret = value), delete: async () => undefined };
const oauth = new SalesforceOAuth(environmentSalesforceApp(env));
const lease = new DynamoRefreshLease(client, env.CONTROL_TABLE!);
const tokens = (tenant: string) => new TokenKeeper({ secrets, lease, refresher: oauth, markDisconnected: async () => undefined }, tenant);
const dynamoUsers = new DynamoUserStore(new DynamoJsonTransport(raw), { usersTable: env.USERS_TABLE!, eventsTable: env.EVENTS_TABLE! });

const parsed = JSON.parse(secret) as { instanceUrl: string; loginUrl: string };
await integrations.saveConnection(tenantId, 'salesforce', { instanceUrl: parsed.instanceUrl, loginUrl: parsed.loginUrl, connectedAt: new Date().toISOString() }, { resetWatermark: true, now: new Date().toISOString() });
const body = putSalesforceSettingsBody.parse(
  mode === 'export'
    ? { import: { enabled: true, object: 'Contact', emailField: 'Email', fields: [] }, export: { enabled: true, userIdField: 'Roster_Id__c', mode: 'all', mapping: { last_name: 'LastName', plan: 'Description' } }, maxApiShare: 1 }
    : { import: { enabled: true, object: 'Contact', emailField: 'Email', fields: ['FirstName', 'LastName', 'Loyalty_Tier__c', 'Lifetime_Value__c', 'HasOptedOutOfEmail', 'Birthdate'] }, maxApiShare: 1 },
);
// Settings are checked against the org's describe, as PUT does (that request is not part of the run's count).
const described = await (await SalesforceApi.open(tokens(tenantId))).describe('Contact');
const checked = resolveSalesforceSettings(body, described?.fields);
if (!checked.ok) throw new Error(JSON.stringify(checked.details));
const item = await integrations.saveSettings(tenantId, 'salesforce', checked.settings, { resetWatermark: true, now: new Date().toISOString() });

if (mode === 'export') {
  const count = Number(env.BENCH_SF_USERS);
  for (let start = 0; start < count; start += 1000) {
    const changes = Array.from({ length: Math.min(1000, count - start) }, (_, index) => ({
      email: `export${start + index}@example.com`,
      properties: { last_name: `Last${start + index}`, plan: (start + index) % 2 === 0 ? 'gold' : 'free' },
      ref: `seed:${start + index}`,
    }));
    await upsertUsers(dynamoUsers, { tenantId, mode: 'upsert', source: 'api' }, changes);
  }
}

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);
const start = process.hrtime.bigint();
const run = newSalesforceRun(tenantId, 'manual', item.configVersion);
await integrations.startRun(run, 60_000, new Date());
const queue: SalesforceSyncInvocation[] = [{ kind: 'salesforce-sync', tenantId, runId: run.runId }];
const results: string[] = [];
while (queue.length > 0) {
  results.push(
    await runSalesforceSync(
      {
        integrations,
        users: mode === 'export' ? dynamoUsers : new NullSinkUserStore(),
        registry: new PropertyRegistry(client, env.CONTROL_TABLE!),
        exportSource: new DynamoExportSource(client, { usersTable: env.USERS_TABLE!, eventsTable: env.EVENTS_TABLE! }),
        tokens,
        continueLater: async (next) => void queue.push(next),
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 50))),
      },
      queue.shift()!,
      () => 15 * 60_000,
    ),
  );
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
const finished = (await integrations.getRun(tenantId, 'salesforce', run.runId))!;
console.log(
  `RESULT ${JSON.stringify({ results, status: finished.status, error: finished.error, counts: finished.counts, exportCounts: finished.exportCounts, apiCalls: finished.apiCalls, seconds, peakRssMb: Math.round(peakRss / 1024 / 1024) })}`,
);
raw.destroy();
