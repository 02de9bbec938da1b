import { ConflictError, NotFoundError, SourceRejectedError, UnprocessableError, ValidationError } from '../../errors/domain-errors.js';
import { logger } from '../../logging/logger.js';
import { nextFireTime } from '../../scheduling/schedule-expression.js';
import { syncScheduleName, type SyncScheduler } from '../../scheduling/sync-scheduler.js';
import { integrationSecretName, type SecretStore } from '../../secrets/secret-store.js';
import type { IntegrationItem, IntegrationStore } from '../integration-store.js';
import { publicRun, type RunTrigger } from '../sync-run.js';
import { checkInstanceUrl, checkLoginUrl, DEFAULT_LOGIN_URL } from './login-url.js';
import { pkcePair, type OAuthStateStore } from './oauth-state-store.js';
import { SalesforceApi, SalesforceApiError, type ApiOptions } from './salesforce-api.js';
import { SalesforceAppMissingError, type SalesforceOAuth } from './salesforce-oauth.js';
import { changesWhatIsImported, publicSalesforceSettings, resolveSalesforceSettings, type PutSalesforceSettings, type SalesforceSettings } from './salesforce-settings.js';
import { newSalesforceRun, type SalesforceSyncInvocation } from './salesforce-sync-run.js';
import { parseTokenSecret, SalesforceDisconnectedError, type SalesforceTokenSecret, type TokenKeeper } from './salesforce-tokens.js';

/**
 * The API side of the Salesforce integration (API.md, Integrations): connect (OAuth 2.0
 * web-server flow with PKCE and a single-use state), the callback, discovery, settings,
 * run now, delete (revoking the token at Salesforce first).
 */
export interface SalesforceServiceDependencies {
  integrations: IntegrationStore;
  secrets: SecretStore;
  scheduler: SyncScheduler;
  states: OAuthStateStore;
  oauth: SalesforceOAuth;
  tokens: (tenantId: string) => TokenKeeper;
  allowPrivateHosts: boolean;
  /** The Salesforce sync function: "run now" invokes it; schedules target it. */
  launch: (invocation: SalesforceSyncInvocation) => Promise<void>;
  syncFunctionArn: string;
  apiOptions?: ApiOptions;
  now?: () => Date;
}

const STATE_TTL_MS = 10 * 60_000;
const UNCLAIMED_RUN_LEASE_MS = 10 * 60_000;

const noApp = () => new UnprocessableError('Salesforce is not set up on this Roster: no connected app is configured (deployed: the platform secret; locally: SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET)');

export async function connectSalesforce(deps: SalesforceServiceDependencies, tenantId: string, body: { loginUrl?: string } | undefined, redirectUri: string) {
  const login = checkLoginUrl(body?.loginUrl ?? DEFAULT_LOGIN_URL, deps.allowPrivateHosts);
  if (!login.ok) throw new ValidationError(login.message, [{ field: 'body.loginUrl', message: login.message }]);
  const { verifier, challenge } = pkcePair();
  const now = (deps.now?.() ?? new Date()).getTime();
  // The app is checked before a state is stored: without one there is nothing to connect with.
  if (!(await deps.oauth.configured())) throw noApp();
  let authorizeUrl: string;
  try {
    const state = await deps.states.create({ tenantId, codeVerifier: verifier, loginUrl: login.url, redirectUri }, STATE_TTL_MS, now);
    authorizeUrl = await deps.oauth.authorizeUrl(login.url, redirectUri, state, challenge);
  } catch (error) {
    if (error instanceof SalesforceAppMissingError) throw noApp();
    throw error;
  }
  return { authorizeUrl, expiresAt: new Date(now + STATE_TTL_MS).toISOString() };
}

/** Why a callback was refused: shown on the 400 page (never a token, never the verifier). */
export class CallbackRefusedError extends Error {
  override readonly name = 'CallbackRefusedError';
}

/**
 * The OAuth callback (no API key: the state names and proves the tenant). The state is
 * consumed first, so it is single-use whatever happens next; nothing is stored unless the
 * code exchange succeeds.
 */
export async function completeSalesforceConnect(deps: SalesforceServiceDependencies, query: Record<string, string | undefined>) {
  const state = query.state;
  if (!state) throw new CallbackRefusedError('the request has no state; start again from Roster (POST /integrations/salesforce/connect)');
  const now = deps.now?.() ?? new Date();
  const pending = await deps.states.consume(state, now.getTime());
  if (!pending) throw new CallbackRefusedError('this sign-in link is unknown, expired or was already used; start again from Roster');
  if (query.error) throw new CallbackRefusedError(`Salesforce did not grant access (${query.error}${query.error_description ? `: ${query.error_description}` : ''})`);
  if (!query.code) throw new CallbackRefusedError('Salesforce sent no authorization code');
  let answer;
  try {
    answer = await deps.oauth.exchange(pending.loginUrl, pending.redirectUri, query.code, pending.codeVerifier);
  } catch (error) {
    if (error instanceof SalesforceAppMissingError) throw new CallbackRefusedError('no Salesforce connected app is configured');
    throw new CallbackRefusedError(`Salesforce refused the authorization code (${(error as Error).name}: ${(error as Error).message})`);
  }
  if (!answer.refresh_token) throw new CallbackRefusedError('Salesforce granted no refresh token: give the connected app the "refresh_token, offline_access" scope');
  const instance = checkInstanceUrl(answer.instance_url, deps.allowPrivateHosts);
  if (!instance.ok) throw new CallbackRefusedError(`Salesforce answered with an unexpected instance URL (${instance.message})`);
  const [orgId, userId] = new URL(answer.id).pathname.split('/').slice(-2);
  const secret: SalesforceTokenSecret = {
    refreshToken: answer.refresh_token,
    accessToken: answer.access_token,
    instanceUrl: instance.url,
    loginUrl: pending.loginUrl,
    ...(orgId ? { orgId } : {}),
    ...(userId ? { userId } : {}),
    issuedAt: now.toISOString(),
  };
  const name = integrationSecretName(pending.tenantId, 'salesforce');
  const previousText = await deps.secrets.get(name);
  await deps.secrets.put(name, JSON.stringify(secret), `Roster: Salesforce tokens of tenant ${pending.tenantId}`);
  const before = await deps.integrations.get(pending.tenantId, 'salesforce');
  await deps.integrations.saveConnection(
    pending.tenantId,
    'salesforce',
    { ...(orgId ? { orgId } : {}), instanceUrl: instance.url, loginUrl: pending.loginUrl, connectedAt: now.toISOString() },
    // Another org: the watermarks belong to the old one.
    { resetWatermark: before?.connection?.orgId !== undefined && before.connection.orgId !== orgId, now: now.toISOString() },
  );
  if (previousText) {
    // The replaced connection's token is revoked, so no stale grant stays alive at Salesforce.
    const previous = parseTokenSecret(previousText);
    if (previous.refreshToken !== secret.refreshToken) await deps.oauth.revoke(previous.loginUrl, previous.refreshToken).catch(() => undefined);
  }
  logger.info('salesforce connected', { tenantId: pending.tenantId, orgId });
  return { tenantId: pending.tenantId, orgId };
}

function describe(deps: SalesforceServiceDependencies, item: IntegrationItem<SalesforceSettings | undefined>, lastRun: Awaited<ReturnType<IntegrationStore['getRun']>>) {
  const now = deps.now?.() ?? new Date();
  const settings = item.settings;
  const next = settings?.enabled ? nextFireTime(settings.schedule, 'UTC', now) : undefined;
  const connection = item.connection;
  return {
    kind: 'salesforce' as const,
    connected: connection !== undefined && !connection.disconnected,
    ...(connection
      ? {
          connection: {
            ...(connection.orgId ? { orgId: connection.orgId } : {}),
            instanceUrl: connection.instanceUrl,
            loginUrl: connection.loginUrl,
            connectedAt: connection.connectedAt,
            ...(connection.disconnected ? { disconnectedAt: connection.disconnected.at, disconnectedReason: connection.disconnected.reason } : {}),
          },
        }
      : {}),
    ...(settings ? publicSalesforceSettings(settings) : {}),
    enabled: settings?.enabled ?? false,
    nextRunAt: next ? next.toISOString() : null,
    ...(lastRun ? { lastRun: publicRun(lastRun) } : {}),
  };
}

export async function getSalesforceIntegration(deps: SalesforceServiceDependencies, tenantId: string) {
  const item = await deps.integrations.get<SalesforceSettings | undefined>(tenantId, 'salesforce');
  if (!item) throw new NotFoundError('no salesforce integration is configured');
  return describe(deps, item, item.lastRunId ? await deps.integrations.getRun(tenantId, 'salesforce', item.lastRunId) : undefined);
}

/** An API session for the tenant's org, for the API's own requests (discovery, settings checks). */
async function orgApi(deps: SalesforceServiceDependencies, tenantId: string): Promise<SalesforceApi> {
  const item = await deps.integrations.get(tenantId, 'salesforce');
  if (!item?.connection) throw new NotFoundError('Salesforce is not connected; POST /integrations/salesforce/connect first');
  if (item.connection.disconnected) throw new SourceRejectedError('salesforce_disconnected', `${item.connection.disconnected.reason}`);
  try {
    return await SalesforceApi.open(deps.tokens(tenantId), deps.apiOptions);
  } catch (error) {
    throw asRejection(error);
  }
}

function asRejection(error: unknown): unknown {
  if (error instanceof SalesforceDisconnectedError) return new SourceRejectedError('salesforce_disconnected', error.message);
  if (error instanceof SalesforceApiError) return new SourceRejectedError('salesforce_error', `Salesforce: ${error.errorCode}: ${error.message}`);
  return error;
}

async function calling<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asRejection(error);
  }
}

export async function listSalesforceObjects(deps: SalesforceServiceDependencies, tenantId: string) {
  const api = await orgApi(deps, tenantId);
  const objects = await calling(() => api.describeGlobal());
  return { items: objects.filter((object) => object.queryable), nextCursor: null };
}

export async function describeSalesforceObject(deps: SalesforceServiceDependencies, tenantId: string, name: string) {
  const api = await orgApi(deps, tenantId);
  const described = await calling(() => api.describe(name));
  if (!described) throw new NotFoundError(`the org has no object "${name}"`);
  return { object: described.name, label: described.label, items: described.fields, nextCursor: null };
}

export async function putSalesforceIntegration(deps: SalesforceServiceDependencies, tenantId: string, body: PutSalesforceSettings) {
  const api = await orgApi(deps, tenantId);
  const described = await calling(() => api.describe(body.import.object));
  const checked = resolveSalesforceSettings(body, described?.queryable === false ? undefined : described?.fields);
  if (!checked.ok) {
    const exportNeedsImport = checked.details.find((detail) => detail.field === 'body.export.enabled');
    // API.md: an export without the import is a 422; every other problem is a 400 naming its field.
    if (exportNeedsImport && checked.details.length === 1) throw new UnprocessableError(exportNeedsImport.message, checked.details);
    throw new ValidationError(`invalid Salesforce settings: ${checked.details.map((detail) => `${detail.field}: ${detail.message}`).join('; ')}`, checked.details);
  }
  const before = await deps.integrations.get<SalesforceSettings | undefined>(tenantId, 'salesforce');
  const now = (deps.now?.() ?? new Date()).toISOString();
  const exportChanged = JSON.stringify(before?.settings?.export ?? null) !== JSON.stringify(checked.settings.export ?? null);
  const item = await deps.integrations.saveSettings<SalesforceSettings>(tenantId, 'salesforce', checked.settings, {
    resetWatermark: changesWhatIsImported(before?.settings, checked.settings) || exportChanged,
    now,
  });
  const name = syncScheduleName(tenantId, 'salesforce');
  if (checked.settings.enabled) {
    const input: SalesforceSyncInvocation = { kind: 'salesforce-sync', tenantId, trigger: 'schedule' };
    await deps.scheduler.put(name, { expression: checked.settings.schedule, input: { ...input }, targetArn: deps.syncFunctionArn });
  } else {
    await deps.scheduler.delete(name);
  }
  return describe(deps, item, item.lastRunId ? await deps.integrations.getRun(tenantId, 'salesforce', item.lastRunId) : undefined);
}

/**
 * Schedule first (it cannot fire into a half-deleted integration), then the token is revoked
 * at Salesforce, then the secret and the settings go. Idempotent.
 */
export async function deleteSalesforceIntegration(deps: SalesforceServiceDependencies, tenantId: string) {
  await deps.scheduler.delete(syncScheduleName(tenantId, 'salesforce'));
  const name = integrationSecretName(tenantId, 'salesforce');
  const text = await deps.secrets.get(name);
  if (text) {
    const secret = parseTokenSecret(text);
    try {
      await deps.oauth.revoke(secret.loginUrl, secret.refreshToken);
    } catch (error) {
      // An already revoked or expired token cannot be revoked again: the grant is gone either way.
      logger.warn('salesforce token revoke refused; deleting the secret anyway', { error: (error as Error).name });
    }
  }
  await deps.secrets.delete(name);
  await deps.integrations.delete(tenantId, 'salesforce');
}

export async function startSalesforceRun(deps: SalesforceServiceDependencies, tenantId: string, trigger: RunTrigger = 'manual') {
  const item = await deps.integrations.get<SalesforceSettings | undefined>(tenantId, 'salesforce');
  if (!item?.settings) throw new NotFoundError('no salesforce integration is configured (connect it, then PUT its settings)');
  if (item.connection?.disconnected) throw new SourceRejectedError('salesforce_disconnected', item.connection.disconnected.reason);
  const run = newSalesforceRun(tenantId, trigger, item.configVersion, deps.now?.() ?? new Date());
  const started = await deps.integrations.startRun(run, UNCLAIMED_RUN_LEASE_MS, deps.now?.() ?? new Date());
  if (!started.started) {
    if (started.reason === 'missing') throw new NotFoundError('no salesforce integration is configured');
    throw new ConflictError(`a run is already in progress (${started.activeRunId}); one run at a time`);
  }
  try {
    await deps.launch({ kind: 'salesforce-sync', tenantId, runId: run.runId, trigger });
  } catch (error) {
    await deps.integrations.abandonRun(run, { code: 'not_started', message: 'the run could not be started; try again' });
    throw error;
  }
  return { runId: run.runId, status: 'running' as const };
}
