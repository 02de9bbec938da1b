import { dynamoDocumentClient } from '../../shared/aws/clients.js';
import { DynamoIntegrationStore } from '../../shared/integrations/integration-store.js';
import { DynamoOAuthStateStore } from '../../shared/integrations/salesforce/oauth-state-store.js';
import { environmentSalesforceApp } from '../../shared/integrations/salesforce/salesforce-app.js';
import type { SalesforceServiceDependencies } from '../../shared/integrations/salesforce/salesforce-integration-service.js';
import { SalesforceOAuth } from '../../shared/integrations/salesforce/salesforce-oauth.js';
import type { PutSalesforceSettings } from '../../shared/integrations/salesforce/salesforce-settings.js';
import { putSalesforceSettingsBody } from '../../shared/integrations/salesforce/salesforce-settings.js';
import {
  defaultSalesforceSyncSettings,
  newSalesforceRun,
  runSalesforceSync,
  type SalesforceSyncDependencies,
  type SalesforceSyncInvocation,
  type SalesforceSyncResult,
  type SalesforceSyncSettings,
} from '../../shared/integrations/salesforce/salesforce-sync-run.js';
import { DynamoRefreshLease, TokenKeeper, type SalesforceTokenSecret } from '../../shared/integrations/salesforce/salesforce-tokens.js';
import type { SyncScheduler } from '../../shared/scheduling/sync-scheduler.js';
import { integrationSecretName, type SecretStore } from '../../shared/secrets/secret-store.js';
import { exportSource, userStore } from '../../shared/wiring/stores.js';
import type { FakeSalesforce } from './fake-salesforce/fake-salesforce.js';
import { env, registry } from './import-harness.js';

/**
 * Runs Salesforce syncs the way the sync function does, against the real stores (DynamoDB
 * Local), the local Secrets Manager endpoint and the fake Salesforce. Continuations run one
 * after the other, as Lambda would run the self-invocations.
 */
export const integrations = new DynamoIntegrationStore(dynamoDocumentClient(), env.CONTROL_TABLE);
export const users = userStore(env);
export const refreshLease = new DynamoRefreshLease(dynamoDocumentClient(), env.CONTROL_TABLE);

export function oauthFor(fake: FakeSalesforce) {
  return new SalesforceOAuth(environmentSalesforceApp({ SALESFORCE_CLIENT_ID: fake.clientId, SALESFORCE_CLIENT_SECRET: fake.clientSecret }));
}

export function tokensFor(fake: FakeSalesforce, secrets: SecretStore) {
  const oauth = oauthFor(fake);
  return (tenantId: string) =>
    new TokenKeeper(
      { secrets, lease: refreshLease, refresher: oauth, markDisconnected: (reason) => integrations.markDisconnected(tenantId, 'salesforce', reason, new Date().toISOString()) },
      tenantId,
    );
}

/** A recording scheduler: what the service would have scheduled. */
export function recordingScheduler(): SyncScheduler & { schedules: Map<string, unknown> } {
  const schedules = new Map<string, unknown>();
  return { schedules, put: async (name, spec) => void schedules.set(name, spec), delete: async (name) => void schedules.delete(name) };
}

export function serviceDependencies(fake: FakeSalesforce, secrets: SecretStore, overrides: Partial<SalesforceServiceDependencies> = {}): SalesforceServiceDependencies {
  const oauth = oauthFor(fake);
  return {
    integrations,
    secrets,
    scheduler: recordingScheduler(),
    states: new DynamoOAuthStateStore(dynamoDocumentClient(), env.CONTROL_TABLE),
    oauth,
    tokens: tokensFor(fake, secrets),
    allowPrivateHosts: true,
    launch: async () => undefined,
    syncFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:roster-salesforce-sync',
    apiOptions: { retryDelaysMs: [10, 20, 40] },
    ...overrides,
  };
}

/** Connects a tenant to an org of the fake without the browser round trip (the API tests do the real OAuth flow). */
export async function connectOrg(fake: FakeSalesforce, secrets: SecretStore, tenantId: string, orgId: string): Promise<SalesforceTokenSecret> {
  const tokens = fake.login(orgId);
  const secret: SalesforceTokenSecret = {
    refreshToken: tokens.refresh_token!,
    accessToken: tokens.access_token,
    instanceUrl: tokens.instance_url,
    loginUrl: fake.url,
    orgId,
  };
  await secrets.put(integrationSecretName(tenantId, 'salesforce'), JSON.stringify(secret));
  await integrations.saveConnection(tenantId, 'salesforce', { orgId, instanceUrl: fake.url, loginUrl: fake.url, connectedAt: new Date().toISOString() }, { resetWatermark: false, now: new Date().toISOString() });
  return secret;
}

/** Saves settings through the service (checked against the org, as the API does). */
export async function configureSalesforce(fake: FakeSalesforce, secrets: SecretStore, tenantId: string, body: Record<string, unknown>) {
  const { putSalesforceIntegration } = await import('../../shared/integrations/salesforce/salesforce-integration-service.js');
  return putSalesforceIntegration(serviceDependencies(fake, secrets), tenantId, putSalesforceSettingsBody.parse(body) as PutSalesforceSettings);
}

export interface SalesforceSyncOptions {
  settings?: Partial<Omit<SalesforceSyncSettings, 'import' | 'export'>> & { import?: Partial<SalesforceSyncSettings['import']>; export?: Partial<SalesforceSyncSettings['export']> };
  remainingMs?: () => number;
  trigger?: 'manual' | 'schedule';
  users?: SalesforceSyncDependencies['users'];
}

export function syncSettings(options: SalesforceSyncOptions = {}): SalesforceSyncSettings {
  return {
    ...defaultSalesforceSyncSettings,
    // Tests do not wait for real polling intervals.
    import: { ...defaultSalesforceSyncSettings.import, pollMs: 5, ...options.settings?.import },
    export: { ...defaultSalesforceSyncSettings.export, pollMs: 5, ...options.settings?.export },
    ...(options.settings ? Object.fromEntries(Object.entries(options.settings).filter(([key]) => key !== 'import' && key !== 'export')) : {}),
  } as SalesforceSyncSettings;
}

/** Starts a run (as "run now" does) and drives it and its continuations to the end. */
export async function syncSalesforce(fake: FakeSalesforce, secrets: SecretStore, tenantId: string, options: SalesforceSyncOptions = {}) {
  const item = await integrations.get(tenantId, 'salesforce');
  if (!item) throw new Error('not configured');
  const run = newSalesforceRun(tenantId, options.trigger ?? 'manual', item.configVersion);
  const started = await integrations.startRun(run, 60_000, new Date());
  if (!started.started) throw new Error(`not started: ${started.reason}`);
  const results = await driveSalesforce(fake, secrets, { kind: 'salesforce-sync', tenantId, runId: run.runId }, options);
  return { run: (await integrations.getRun(tenantId, 'salesforce', run.runId))!, results };
}

export async function driveSalesforce(fake: FakeSalesforce, secrets: SecretStore, first: SalesforceSyncInvocation, options: SalesforceSyncOptions = {}) {
  const queue: SalesforceSyncInvocation[] = [first];
  const deps: SalesforceSyncDependencies = {
    integrations,
    users: options.users ?? users,
    registry,
    exportSource: exportSource(env),
    tokens: tokensFor(fake, secrets),
    continueLater: async (invocation) => void queue.push(invocation),
    apiOptions: { retryDelaysMs: [10, 20, 40] },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 5))),
  };
  const results: SalesforceSyncResult[] = [];
  while (queue.length > 0) results.push(await runSalesforceSync(deps, queue.shift()!, options.remainingMs ?? (() => 15 * 60_000), syncSettings(options)));
  return results;
}
