import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from '../aws/conditional-writes.js';
import { RateLimitedError } from '../errors/domain-errors.js';

/**
 * A per-tenant limit on the expensive routes (imports, exports, sync runs, previews), so one
 * tenant cannot crowd out the others or run up the bill: a fixed one-minute window per
 * tenant and route group, counted with one conditional update in the control table
 * (pk `TENANT#<t>#RATE`, sk `<group>#<window>`, expiring after an hour). API Gateway's stage
 * throttle still bounds all tenants together.
 */
export const TENANT_RATE_LIMITS = {
  imports: 60,
  exports: 10,
  'integration-runs': 10,
  'integration-previews': 30,
} as const;

export type RateLimitedGroup = keyof typeof TENANT_RATE_LIMITS;

const WINDOW_MS = 60_000;

export class TenantRateLimiter {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly limits: Record<RateLimitedGroup, number> = TENANT_RATE_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one request; throws a 429 naming the limit and when to retry once the window is full. */
  async take(tenantId: string, group: RateLimitedGroup): Promise<void> {
    const now = this.now();
    const window = Math.floor(now / WINDOW_MS) * WINDOW_MS;
    const limit = this.limits[group];
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `TENANT#${tenantId}#RATE`, sk: `${group}#${window}` },
          UpdateExpression: 'ADD #count :one SET expiresAt = if_not_exists(expiresAt, :expires)',
          ConditionExpression: 'attribute_not_exists(#count) OR #count < :limit',
          ExpressionAttributeNames: { '#count': 'count' },
          ExpressionAttributeValues: { ':one': 1, ':limit': limit, ':expires': Math.floor((window + WINDOW_MS) / 1000) + 3600 },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const retryAfter = Math.max(1, Math.ceil((window + WINDOW_MS - now) / 1000));
      throw new RateLimitedError(`too many ${group} requests: at most ${limit} a minute per tenant; try again in ${retryAfter} s`);
    }
  }
}
