import { randomUUID } from 'node:crypto';
import { DeleteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from '../../aws/conditional-writes.js';
import { logger } from '../../logging/logger.js';
import { integrationSecretName, type SecretStore } from '../../secrets/secret-store.js';

/**
 * A tenant's Salesforce tokens, and the one place that refreshes them.
 *
 * Salesforce may rotate refresh tokens: every refresh answers a NEW refresh token and the
 * old one dies; presenting a dead one revokes the whole token family (the tenant must
 * connect again). So a refresh (1) holds a lease in DynamoDB, so two invocations of one
 * tenant never refresh at once; (2) re-reads the secret under the lease, because another
 * invocation may have refreshed already (its fresh access token is used, nothing is sent);
 * (3) persists the new refresh token BEFORE the new access token is used; (4) on
 * `invalid_grant` marks the integration disconnected instead of trying again.
 */
export interface SalesforceTokenSecret {
  refreshToken: string;
  accessToken?: string;
  instanceUrl: string;
  loginUrl: string;
  orgId?: string;
  userId?: string;
  /** When the access token was issued (ISO). */
  issuedAt?: string;
}

export function parseTokenSecret(text: string): SalesforceTokenSecret {
  const secret = JSON.parse(text) as SalesforceTokenSecret;
  if (typeof secret.refreshToken !== 'string' || typeof secret.instanceUrl !== 'string') throw new Error('the stored Salesforce tokens are malformed; connect again');
  return secret;
}

/** The org no longer accepts Roster's tokens (revoked, expired, or a rotated token was reused): the tenant must connect again. */
export class SalesforceDisconnectedError extends Error {
  override readonly name = 'SalesforceDisconnectedError';
  readonly code = 'salesforce_disconnected';
}

/** What a refresh answers (OAuth 2.0 token endpoint). */
export interface RefreshAnswer {
  access_token: string;
  refresh_token?: string;
  instance_url?: string;
  issued_at?: string;
}

export interface TokenRefresher {
  /** POSTs `grant_type=refresh_token`; throws an error whose `name` is the OAuth error (`invalid_grant`). */
  refresh(loginUrl: string, refreshToken: string): Promise<RefreshAnswer>;
}

/** The per-tenant refresh lease (control table, `TENANT#<t>#INTEGRATIONS` / `salesforce#token-refresh`). */
export interface RefreshLease {
  acquire(tenantId: string, leaseId: string, ttlMs: number, now: number): Promise<boolean>;
  release(tenantId: string, leaseId: string): Promise<void>;
}

const leaseKey = (tenantId: string) => ({ pk: `TENANT#${tenantId}#INTEGRATIONS`, sk: 'salesforce#token-refresh' });

export class DynamoRefreshLease implements RefreshLease {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async acquire(tenantId: string, leaseId: string, ttlMs: number, now: number): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...leaseKey(tenantId), leaseId, leaseUntil: now + ttlMs, expiresAt: Math.ceil((now + ttlMs) / 1000) + 3600 },
          ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now',
          ExpressionAttributeValues: { ':now': now },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async release(tenantId: string, leaseId: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({ TableName: this.tableName, Key: leaseKey(tenantId), ConditionExpression: 'leaseId = :lease', ExpressionAttributeValues: { ':lease': leaseId } }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}

export interface TokenKeeperDependencies {
  secrets: Pick<SecretStore, 'get' | 'put'>;
  lease: RefreshLease;
  refresher: TokenRefresher;
  /** Records that the org refused the refresh token (GET shows `connected: false`). */
  markDisconnected: (reason: string) => Promise<void>;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const LEASE_MS = 30_000;
const WAIT_STEP_MS = 200;

export class TokenKeeper {
  private cached: SalesforceTokenSecret | undefined;
  /** Set once the org refused the refresh token: every later call fails the same way, nothing is retried. */
  disconnected: SalesforceDisconnectedError | undefined;
  refreshes = 0;

  constructor(
    private readonly deps: TokenKeeperDependencies,
    readonly tenantId: string,
  ) {}

  private get secretName() {
    return integrationSecretName(this.tenantId, 'salesforce');
  }

  async current(): Promise<SalesforceTokenSecret> {
    if (this.disconnected) throw this.disconnected;
    if (this.cached) return this.cached;
    const text = await this.deps.secrets.get(this.secretName);
    if (!text) throw new SalesforceDisconnectedError('Salesforce is not connected; connect it with POST /integrations/salesforce/connect');
    this.cached = parseTokenSecret(text);
    return this.cached;
  }

  /**
   * A new access token after Salesforce refused `failedAccessToken` (INVALID_SESSION_ID).
   * Serialised per tenant; the rotated refresh token is saved before the access token is returned.
   */
  async refresh(failedAccessToken: string | undefined): Promise<SalesforceTokenSecret> {
    if (this.disconnected) throw this.disconnected;
    const now = this.deps.now ?? Date.now;
    const sleep = this.deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const leaseId = randomUUID();
    const deadline = now() + LEASE_MS;
    while (!(await this.deps.lease.acquire(this.tenantId, leaseId, LEASE_MS, now()))) {
      // Another invocation is refreshing: its result lands in the secret.
      const latest = await this.reread();
      if (latest.accessToken && latest.accessToken !== failedAccessToken) return latest;
      if (now() > deadline) throw new Error('another invocation held the Salesforce token refresh for too long');
      await sleep(WAIT_STEP_MS);
    }
    try {
      const latest = await this.reread();
      if (latest.accessToken && latest.accessToken !== failedAccessToken) return latest;
      let answer: RefreshAnswer;
      try {
        answer = await this.deps.refresher.refresh(latest.loginUrl, latest.refreshToken);
      } catch (error) {
        const name = (error as Error).name;
        if (name === 'invalid_grant' || name === 'invalid_client_id' || name === 'inactive_user' || name === 'inactive_org') {
          const reason = `Salesforce refused the refresh token (${name}); connect Salesforce again`;
          this.disconnected = new SalesforceDisconnectedError(reason);
          await this.deps.markDisconnected(reason);
          throw this.disconnected;
        }
        throw error;
      }
      this.refreshes += 1;
      const next: SalesforceTokenSecret = {
        ...latest,
        accessToken: answer.access_token,
        // Rotation: the answer's refresh token replaces the old one, which is dead from now on.
        refreshToken: answer.refresh_token ?? latest.refreshToken,
        instanceUrl: answer.instance_url ?? latest.instanceUrl,
        issuedAt: answer.issued_at ? new Date(Number(answer.issued_at)).toISOString() : new Date(now()).toISOString(),
      };
      if (answer.refresh_token) logger.info('salesforce refresh token rotated');
      await this.deps.secrets.put(this.secretName, JSON.stringify(next));
      this.cached = next;
      return next;
    } finally {
      await this.deps.lease.release(this.tenantId, leaseId);
    }
  }

  private async reread(): Promise<SalesforceTokenSecret> {
    this.cached = undefined;
    return this.current();
  }
}
