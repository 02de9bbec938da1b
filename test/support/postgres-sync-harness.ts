import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { LOCAL_REGION, localCredentials } from '../../infra/local/local-settings.js';
import { startLocalSecretsManager } from '../../infra/local/secrets-manager-emulator.js';
import { dynamoDocumentClient } from '../../shared/aws/clients.js';
import { DynamoIntegrationStore } from '../../shared/integrations/integration-store.js';
import { parseConnectionUrl } from '../../shared/integrations/postgres/connection-url.js';
import { toSecret, toStoredSettings, type PutPostgresSettings } from '../../shared/integrations/postgres/postgres-settings.js';
import {
  defaultPostgresSyncSettings,
  runPostgresSync,
  type PostgresSyncDependencies,
  type PostgresSyncInvocation,
  type PostgresSyncResult,
  type PostgresSyncSettings,
} from '../../shared/integrations/postgres/postgres-sync-run.js';
import { newSyncRun } from '../../shared/integrations/postgres/postgres-sync-run.js';
import { defaultSessionLimits } from '../../shared/integrations/postgres/session-limits.js';
import { integrationSecretName } from '../../shared/secrets/secret-store.js';
import { SecretsManagerSecretStore } from '../../shared/secrets/secrets-manager-secret-store.js';
import { userStore } from '../../shared/wiring/stores.js';
import { env, registry } from './import-harness.js';

/**
 * Runs PostgreSQL syncs the way the sync function does, against the real stores (DynamoDB
 * Local), the local Secrets Manager endpoint and a real PostgreSQL. Continuations are run
 * one after the other, as Lambda would run the self-invocations.
 */
export const integrations = new DynamoIntegrationStore(dynamoDocumentClient(), env.CONTROL_TABLE);
export const users = userStore(env);

export async function startSecrets() {
  const server = await startLocalSecretsManager({ port: 0 });
  const client = new SecretsManagerClient({ endpoint: server.endpoint, region: LOCAL_REGION, credentials: localCredentials });
  return { server, store: new SecretsManagerSecretStore(client), close: async () => (client.destroy(), server.close()) };
}

export async function configure(secrets: SecretsManagerSecretStore, tenantId: string, body: PutPostgresSettings & { connectionUrl: string }, resetWatermark = true) {
  const parsed = parseConnectionUrl(body.connectionUrl);
  if (!parsed.ok) throw new Error(parsed.message);
  await secrets.put(integrationSecretName(tenantId, 'postgres'), JSON.stringify(toSecret(parsed.parts, body.schema, typeof body.sslCa === 'string' ? body.sslCa : undefined)));
  return integrations.saveSettings(tenantId, 'postgres', toStoredSettings(body, parsed.parts, false), { resetWatermark, now: new Date().toISOString() });
}

export interface SyncOptions {
  settings?: Partial<PostgresSyncSettings>;
  remainingMs?: () => number;
  openSession?: PostgresSyncDependencies['openSession'];
  trigger?: 'manual' | 'schedule';
  sessionLimits?: Partial<PostgresSyncDependencies['sessionLimits']>;
  users?: PostgresSyncDependencies['users'];
}

/** Starts a run (as "run now" does), runs it and its continuations to the end; returns the run record and each invocation's result. */
export async function syncNow(secrets: SecretsManagerSecretStore, tenantId: string, options: SyncOptions = {}) {
  const item = await integrations.get(tenantId, 'postgres');
  if (!item) throw new Error('not configured');
  const run = newSyncRun(tenantId, options.trigger ?? 'manual', item.configVersion);
  const started = await integrations.startRun(run, 60_000, new Date());
  if (!started.started) throw new Error(`not started: ${started.reason}`);
  const results = await drive(secrets, { kind: 'postgres-sync', tenantId, runId: run.runId }, options);
  return { run: (await integrations.getRun(tenantId, 'postgres', run.runId))!, results };
}

export async function drive(secrets: SecretsManagerSecretStore, first: PostgresSyncInvocation, options: SyncOptions = {}) {
  const queue: PostgresSyncInvocation[] = [first];
  const deps: PostgresSyncDependencies = {
    integrations,
    secrets,
    users: options.users ?? users,
    registry,
    // The sync function allows 14 min per statement; the tests' default 60 s made the 50,000-row run
    // fail under a loaded CI machine (its cursor lives as long as the whole invocation).
    sessionLimits: { ...defaultSessionLimits, allowPrivateHosts: true, statementTimeoutMs: 5 * 60_000, ...options.sessionLimits },
    continueLater: async (invocation) => {
      queue.push(invocation);
    },
    openSession: options.openSession,
  };
  const results: PostgresSyncResult[] = [];
  while (queue.length > 0) {
    results.push(await runPostgresSync(deps, queue.shift()!, options.remainingMs ?? (() => 15 * 60_000), { ...defaultPostgresSyncSettings, ...options.settings }));
  }
  return results;
}
