import { attributeMapJson, fromAttributeMap, jsonInner, jsonString, repeatedJsonInner, toAttributeMap } from '../aws/attribute-value-codec.js';
import type { DynamoJsonTransport } from '../aws/dynamo-json-transport.js';
import { batchGetAll, batchWriteAll, deleteRequestJson, putRequestJson, type EncodedWriteRequest } from '../aws/dynamo-batch.js';
import { createLimiter, type Limiter } from '../concurrency/limiter.js';
import { eventItemJson, TypeDayMarkers } from '../events/event-keys.js';
import type { UserProfile } from './user.js';
import { userKeys, userShard } from './user.js';
import type { UserStore, UserWriteSet } from './user-store.js';

export interface DynamoUserStoreOptions {
  usersTable: string;
  eventsTable: string;
  /** Requests in flight per store (bounded concurrency). 48 keeps four 250-row batches of
   * writes overlapped at ~10 ms a request (measured: 16 left one core idle half the time). */
  concurrency?: number;
  onCapacity?: (units: number, kind: 'read' | 'write') => void;
}

/** Users in DynamoDB: one partition per user and per lookup value (see table-definitions.ts). */
export class DynamoUserStore implements UserStore {
  private readonly limiter: Limiter;
  private readonly markers = new TypeDayMarkers();

  constructor(
    private readonly transport: DynamoJsonTransport,
    private readonly options: DynamoUserStoreOptions,
  ) {
    this.limiter = createLimiter(options.concurrency ?? 48);
  }

  async getProfiles(tenantId: string, userIds: string[]): Promise<Map<string, UserProfile>> {
    const items = await batchGetAll(
      this.transport,
      this.options.usersTable,
      userIds.map((userId) => toAttributeMap(userKeys.profile(tenantId, userId))),
      { consistentRead: true, limiter: this.limiter, onCapacity: this.options.onCapacity },
    );
    const profiles = new Map<string, UserProfile>();
    for (const item of items) {
      const profile = toProfile(fromAttributeMap(item));
      profiles.set(profile.userId, profile);
    }
    return profiles;
  }

  async findUserIdsByEmail(tenantId: string, emails: string[]): Promise<Map<string, string>> {
    const items = await batchGetAll(
      this.transport,
      this.options.usersTable,
      emails.map((email) => toAttributeMap(userKeys.email(tenantId, email))),
      { consistentRead: true, limiter: this.limiter, onCapacity: this.options.onCapacity },
    );
    return new Map(items.map((item) => [attributeString(item, 'email'), attributeString(item, 'userId')]));
  }

  async findUserIdsByExternalId(tenantId: string, externalIds: string[]): Promise<Map<string, string>> {
    const items = await batchGetAll(
      this.transport,
      this.options.usersTable,
      externalIds.map((externalId) => toAttributeMap(userKeys.externalId(tenantId, externalId))),
      { consistentRead: true, limiter: this.limiter, onCapacity: this.options.onCapacity },
    );
    return new Map(items.map((item) => [attributeString(item, 'externalId'), attributeString(item, 'userId')]));
  }

  async write(tenantId: string, writes: UserWriteSet): Promise<void> {
    const options = { limiter: this.limiter, onCapacity: this.options.onCapacity };
    // Markers go in the same batches as the events: an export finds every (type, day) written.
    await this.markers.writeWith(tenantId, writes.events, (markers) =>
      batchWriteAll(this.transport, this.options.eventsTable, [...markers, ...eventWriteRequests(tenantId, writes)], options),
    );
    const userWrites = userWriteRequests(tenantId, writes);
    await batchWriteAll(this.transport, this.options.usersTable, userWrites, options);
  }
}

/** The events table's write requests of a write set (without type-day markers). */
export function eventWriteRequests(tenantId: string, writes: UserWriteSet): EncodedWriteRequest[] {
  const requests: EncodedWriteRequest[] = new Array(writes.events.length);
  for (let index = 0; index < writes.events.length; index += 1) requests[index] = putRequestJson(eventItemJson(tenantId, writes.events[index]!));
  return requests;
}

/** The users table's write requests of a write set: profiles, lookup items, released emails. */
export function userWriteRequests(tenantId: string, writes: UserWriteSet): EncodedWriteRequest[] {
  const requests: EncodedWriteRequest[] = [];
  for (const profile of writes.profiles) requests.push(putRequestJson(profileItemJson(tenantId, profile)));
  for (const { email, userId } of writes.emailClaims) requests.push(putRequestJson(emailClaimItemJson(tenantId, email, userId)));
  for (const { externalId, userId } of writes.externalIdClaims ?? []) {
    requests.push(putRequestJson(attributeMapJson({ ...userKeys.externalId(tenantId, externalId), externalId, userId })));
  }
  for (const { email } of writes.emailReleases ?? []) requests.push(deleteRequestJson(attributeMapJson(userKeys.email(tenantId, email))));
  return requests;
}

/** The email lookup item (`userKeys.email` + email + userId) as attribute-value JSON; a test keeps it equal to the generic form. */
export function emailClaimItemJson(tenantId: string, email: string, userId: string): string {
  const address = jsonInner(email);
  const keys = userKeys.email(repeatedJsonInner(tenantId), address);
  return `{"pk":{"S":"${keys.pk}"},"sk":{"S":"${keys.sk}"},"email":{"S":"${address}"},"userId":{"S":${jsonString(userId)}}}`;
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
    createdRef: profile.createdRef,
    lastRef: profile.lastRef,
  };
}

/**
 * `profileItem` straight to attribute-value JSON (the import's hottest encoder; a test keeps
 * the two equal). Each part is escaped once and the keys are built from the escaped parts.
 */
export function profileItemJson(tenantId: string, profile: UserProfile): string {
  const tenant = repeatedJsonInner(tenantId);
  const userId = jsonInner(profile.userId);
  const keys = userKeys.profile(tenant, userId);
  const createdAt = jsonInner(profile.createdAt);
  const updatedAt = profile.updatedAt === profile.createdAt ? createdAt : jsonInner(profile.updatedAt);
  const createdRef = profile.createdRef === undefined ? undefined : jsonString(profile.createdRef);
  const lastRef = profile.lastRef === undefined ? undefined : profile.lastRef === profile.createdRef ? createdRef : jsonString(profile.lastRef);
  return (
    `{"pk":{"S":"${keys.pk}"},"sk":{"S":"${keys.sk}"},"shard":{"S":"${userKeys.shardKey(tenant, userShard(profile.userId))}"}` +
    `,"userId":{"S":"${userId}"},"email":{"S":${jsonString(profile.email)}}` +
    (profile.externalId === undefined ? '' : `,"externalId":{"S":${jsonString(profile.externalId)}}`) +
    `,"props":{"M":${attributeMapJson(profile.properties, 'props')}},"createdAt":{"S":"${createdAt}"},"updatedAt":{"S":"${updatedAt}"}` +
    (createdRef === undefined ? '' : `,"createdRef":{"S":${createdRef}}`) +
    (lastRef === undefined ? '' : `,"lastRef":{"S":${lastRef}}`) +
    '}'
  );
}

export function toProfile(item: Record<string, unknown>): UserProfile {
  return {
    userId: item.userId as string,
    email: item.email as string,
    ...(item.externalId ? { externalId: item.externalId as string } : {}),
    properties: (item.props as UserProfile['properties'] | undefined) ?? {},
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
    ...(item.createdRef ? { createdRef: item.createdRef as string } : {}),
    ...(item.lastRef ? { lastRef: item.lastRef as string } : {}),
  };
}

function attributeString(item: Record<string, unknown>, name: string): string {
  const attribute = item[name] as { S?: string } | undefined;
  return attribute?.S ?? '';
}
