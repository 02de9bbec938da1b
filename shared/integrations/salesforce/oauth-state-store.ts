import { createHash, randomBytes } from 'node:crypto';
import { DeleteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * The pending OAuth connections: one item per `state`, single-use and short-lived. The
 * state carries the tenant (`<tenantId>.<256 random bits>`) so its item can be keyed by the
 * tenant like every other key; only the SHA-256 of the state is stored. Consuming it is a
 * conditional delete, so a replayed state finds nothing, and two concurrent callbacks with
 * the same state cannot both succeed.
 */
export interface PendingConnect {
  tenantId: string;
  /** The PKCE verifier: only the callback's token exchange ever sends it (to Salesforce). */
  codeVerifier: string;
  loginUrl: string;
  redirectUri: string;
  expiresAtMs: number;
}

export interface OAuthStateStore {
  create(pending: Omit<PendingConnect, 'expiresAtMs'>, ttlMs: number, now: number): Promise<string>;
  /** The pending connect of this state, removed; `undefined` when unknown, used, expired or malformed. */
  consume(state: string, now: number): Promise<PendingConnect | undefined>;
}

const STATE_PATTERN = /^([a-z0-9-]{3,40})\.([A-Za-z0-9_-]{43})$/;
const stateKey = (tenantId: string, state: string) => ({ pk: `TENANT#${tenantId}#OAUTH_STATE#${createHash('sha256').update(state).digest('base64url')}`, sk: 'STATE' });

export class DynamoOAuthStateStore implements OAuthStateStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(pending: Omit<PendingConnect, 'expiresAtMs'>, ttlMs: number, now: number): Promise<string> {
    const state = `${pending.tenantId}.${randomBytes(32).toString('base64url')}`;
    const expiresAtMs = now + ttlMs;
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...stateKey(pending.tenantId, state), ...pending, expiresAtMs, expiresAt: Math.ceil(expiresAtMs / 1000) },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return state;
  }

  async consume(state: string, now: number): Promise<PendingConnect | undefined> {
    const match = STATE_PATTERN.exec(state);
    if (!match) return undefined;
    const { Attributes } = await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: stateKey(match[1]!, state), ReturnValues: 'ALL_OLD' }));
    if (!Attributes) return undefined;
    const pending = Attributes as unknown as PendingConnect;
    // DynamoDB's TTL deletes late (up to days): the expiry is checked here, not left to it.
    if (pending.expiresAtMs < now || pending.tenantId !== match[1]) return undefined;
    return { tenantId: pending.tenantId, codeVerifier: pending.codeVerifier, loginUrl: pending.loginUrl, redirectUri: pending.redirectUri, expiresAtMs: pending.expiresAtMs };
  }
}

/** A PKCE pair (RFC 7636, S256): 64 random bytes as the verifier, its SHA-256 as the challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(64).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}
