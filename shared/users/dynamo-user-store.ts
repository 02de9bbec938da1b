import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchGetAll, batchWriteAll, type WriteRequest } from '../aws/dynamo-batch.js';
import { createLimiter, type Limiter } from '../concurrency/limiter.js';
import { eventItem } from '../events/event-keys.js';
import type { UserProfile } from './user.js';
import { userKeys } from './user.js';
import type { UserStore, UserWriteSet } from './user-store.js';

export interface DynamoUserStoreOptions {
  usersTable: string;
  eventsTable: string;
  /** Requests in flight per call (bounded concurrency). */
  concurrency?: number;
  onCapacity?: (units: number) => void;
}

/** Users in DynamoDB: one partition per user and per lookup value (see table-definitions.ts). */
export class DynamoUserStore implements UserStore {
  private readonly limiter: Limiter;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly options: DynamoUserStoreOptions,
  ) {
    this.limiter = createLimiter(options.concurrency ?? 16);
  }

  async getProfiles(tenantId: string, userIds: string[]): Promise<Map<string, UserProfile>> {
    const items = await batchGetAll(
      this.client,
      this.options.usersTable,
      userIds.map((userId) => userKeys.profile(tenantId, userId)),
      { consistentRead: true, limiter: this.limiter, onCapacity: this.options.onCapacity },
    );
    const profiles = new Map<string, UserProfile>();
    for (const item of items) profiles.set(item.userId as string, toProfile(item));
    return profiles;
  }

  async findUserIdsByEmail(tenantId: string, emails: string[]): Promise<Map<string, string>> {
    const items = await batchGetAll(
      this.client,
      this.options.usersTable,
      emails.map((email) => userKeys.email(tenantId, email)),
      { consistentRead: true, limiter: this.limiter, onCapacity: this.options.onCapacity },
    );
    return new Map(items.map((item) => [item.email as string, item.userId as string]));
  }

  async write(tenantId: string, writes: UserWriteSet): Promise<void> {
    const options = { limiter: this.limiter, onCapacity: this.options.onCapacity };
    await batchWriteAll(
      this.client,
      this.options.eventsTable,
      writes.events.map((event) => ({ PutRequest: { Item: eventItem(tenantId, event) } })),
      options,
    );
    const userWrites: WriteRequest[] = [
      ...writes.profiles.map((profile) => ({ PutRequest: { Item: profileItem(tenantId, profile) } })),
      ...writes.emailClaims.map(({ email, userId }) => ({
        PutRequest: { Item: { ...userKeys.email(tenantId, email), email, userId } },
      })),
    ];
    await batchWriteAll(this.client, this.options.usersTable, userWrites, options);
  }
}

export function profileItem(tenantId: string, profile: UserProfile): Record<string, unknown> {
  return {
    ...userKeys.profile(tenantId, profile.userId),
    shard: userKeys.shard(tenantId, profile.userId),
    userId: profile.userId,
    email: profile.email,
    externalId: profile.externalId,
    props: profile.properties,
    createdAt: profile.createdAt,
    updatedAt: profile.updatedAt,
  };
}

export function toProfile(item: Record<string, unknown>): UserProfile {
  return {
    userId: item.userId as string,
    email: item.email as string,
    ...(item.externalId ? { externalId: item.externalId as string } : {}),
    properties: (item.props as UserProfile['properties'] | undefined) ?? {},
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
  };
}
