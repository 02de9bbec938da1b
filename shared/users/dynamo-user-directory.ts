import { isConditionFailure } from '../aws/conditional-writes.js';
import {
  DeleteCommand,
  GetCommand,
  paginateQuery,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { attributeMapJson } from '../aws/attribute-value-codec.js';
import { batchWriteAll, deleteRequestJson } from '../aws/dynamo-batch.js';
import { DynamoServiceError, type DynamoJsonTransport } from '../aws/dynamo-json-transport.js';
import { backoffDelayMs, createLimiter, sleep } from '../concurrency/limiter.js';
import { eventItemJson, eventKeys, toEventRecord, TypeDayMarkers } from '../events/event-keys.js';
import { decodeCursor, encodeCursor } from '../pagination/cursor.js';
import { USER_LIST_SHARDS } from '../storage/table-definitions.js';
import { toProfile } from './dynamo-user-store.js';
import type { EventPage, TimelineQuery, UserDirectory, UserPage } from './user-directory.js';
import type { UserEventRecord } from './user-store.js';
import { userKeys, type UserProfile } from './user.js';


/** One page of one shard of a tenant's users on the `byTenantShard` index. */
export function queryUserShard(client: DynamoDBDocumentClient, usersTable: string, tenantId: string, shard: number, limit: number, startKey?: Record<string, unknown>) {
  return client.send(
    new QueryCommand({
      TableName: usersTable,
      IndexName: 'byTenantShard',
      KeyConditionExpression: '#shard = :shard',
      ExpressionAttributeNames: { '#shard': 'shard' },
      ExpressionAttributeValues: { ':shard': userKeys.shardKey(tenantId, shard) },
      Limit: limit,
      ExclusiveStartKey: startKey,
    }),
  );
}

export class DynamoUserDirectory implements UserDirectory {
  private readonly markers = new TypeDayMarkers();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly transport: DynamoJsonTransport,
    private readonly tables: { usersTable: string; eventsTable: string },
  ) {}

  async getProfile(tenantId: string, userId: string): Promise<UserProfile | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tables.usersTable, Key: userKeys.profile(tenantId, userId), ConsistentRead: true }));
    return Item ? toProfile(Item) : undefined;
  }

  /** Pages through the 32 shards of `byTenantShard` in order; the cursor holds the shard and the key within it. */
  async listProfiles(tenantId: string, limit: number, cursor?: string): Promise<UserPage> {
    const position = decodeCursor(tenantId, cursor, (key) => {
      const shard = key.s;
      if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 0 || shard >= USER_LIST_SHARDS) return false;
      const inner = key.k as Record<string, unknown> | undefined;
      return inner === undefined || (typeof inner === 'object' && inner !== null && inner.shard === userKeys.shardKey(tenantId, shard));
    }) as { s: number; k?: Record<string, unknown> } | undefined;
    const items: UserProfile[] = [];
    let shard = position?.s ?? 0;
    let startKey = position?.k;
    while (shard < USER_LIST_SHARDS && items.length < limit) {
      const page = await queryUserShard(this.client, this.tables.usersTable, tenantId, shard, limit - items.length, startKey);
      for (const item of page.Items ?? []) items.push(toProfile(item));
      startKey = page.LastEvaluatedKey;
      if (!startKey) shard += 1;
    }
    const nextCursor = shard < USER_LIST_SHARDS ? encodeCursor(tenantId, { s: shard, ...(startKey ? { k: startKey } : {}) }) : null;
    return { items, nextCursor };
  }

  async userIdByEmail(tenantId: string, email: string): Promise<string | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tables.usersTable, Key: userKeys.email(tenantId, email), ConsistentRead: true }));
    return Item?.userId as string | undefined;
  }

  async userIdByExternalId(tenantId: string, externalId: string): Promise<string | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tables.usersTable, Key: userKeys.externalId(tenantId, externalId), ConsistentRead: true }));
    return Item?.userId as string | undefined;
  }

  private async claim(key: Record<string, string>, fields: Record<string, string>, userId: string): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tables.usersTable,
          Item: { ...key, ...fields, userId },
          ConditionExpression: 'attribute_not_exists(pk) OR userId = :userId',
          ExpressionAttributeValues: { ':userId': userId },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  private async release(key: Record<string, string>, userId: string): Promise<void> {
    try {
      await this.client.send(new DeleteCommand({ TableName: this.tables.usersTable, Key: key, ConditionExpression: 'userId = :userId', ExpressionAttributeValues: { ':userId': userId } }));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  claimEmail(tenantId: string, email: string, userId: string) {
    return this.claim(userKeys.email(tenantId, email), { email }, userId);
  }

  claimExternalId(tenantId: string, externalId: string, userId: string) {
    return this.claim(userKeys.externalId(tenantId, externalId), { externalId }, userId);
  }

  releaseEmail(tenantId: string, email: string, userId: string) {
    return this.release(userKeys.email(tenantId, email), userId);
  }

  releaseExternalId(tenantId: string, externalId: string, userId: string) {
    return this.release(userKeys.externalId(tenantId, externalId), userId);
  }

  async updateIdentity(tenantId: string, userId: string, fields: { email?: string; externalId?: string }, updatedAt: string): Promise<void> {
    const sets = ['updatedAt = :updatedAt'];
    const values: Record<string, string> = { ':updatedAt': updatedAt };
    if (fields.email !== undefined) {
      sets.push('email = :email');
      values[':email'] = fields.email;
    }
    if (fields.externalId !== undefined) {
      sets.push('externalId = :externalId');
      values[':externalId'] = fields.externalId;
    }
    await this.client.send(
      new UpdateCommand({
        TableName: this.tables.usersTable,
        Key: userKeys.profile(tenantId, userId),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: values,
      }),
    );
  }

  async timeline(tenantId: string, userId: string, query: TimelineQuery): Promise<EventPage> {
    const pk = eventKeys.timeline(tenantId, userId);
    const startKey = decodeCursor(tenantId, query.cursor, (key) => key.pk === pk && typeof key.sk === 'string');
    const items: UserEventRecord[] = [];
    let lastKey = startKey;
    // The sort key is `<occurredAt>#<eventId>`: `from` and `to` bound it as string prefixes ('~' sorts after '#').
    const lower = query.from ?? '0';
    const upper = `${query.to ?? '9999'}~`;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tables.eventsTable,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lower AND :upper',
          ...(query.type ? { FilterExpression: '#type = :type' } : {}),
          ExpressionAttributeNames: query.type ? { '#type': 'type' } : undefined,
          ExpressionAttributeValues: { ':pk': pk, ':lower': lower, ':upper': upper, ...(query.type ? { ':type': query.type } : {}) },
          ScanIndexForward: false,
          Limit: query.limit - items.length,
          ExclusiveStartKey: lastKey,
        }),
      );
      for (const item of page.Items ?? []) items.push(toEventRecord(item));
      lastKey = page.LastEvaluatedKey;
    } while (lastKey && items.length < query.limit);
    return { items, nextCursor: encodeCursor(tenantId, lastKey) };
  }

  async putEventsOnce(tenantId: string, events: UserEventRecord[]): Promise<number> {
    if (events.length === 0) return 0;
    // Markers first, as the batch path writes them with its events: an export finds every (type, day).
    await this.markers.writeWith(tenantId, events, (markers) => batchWriteAll(this.transport, this.tables.eventsTable, markers));
    const limit = createLimiter(10);
    const stored = await Promise.all(events.map((event) => limit(() => this.putEventOnce(tenantId, event))));
    return stored.filter(Boolean).length;
  }

  /**
   * The event and the claim of its ID in one transaction: both, or neither (a crash cannot
   * leave a claim without its event). Encoded like every other event (`eventItemJson`), so an
   * event stores the same with or without a client ID.
   */
  private async putEventOnce(tenantId: string, event: UserEventRecord): Promise<boolean> {
    const encoded = eventItemJson(tenantId, event);
    const item = `${encoded.slice(0, -1)},"idClaim":{"BOOL":true}}`;
    const claim = attributeMapJson({ ...eventKeys.eventIdClaim(tenantId, event.eventId), eventId: event.eventId, userId: event.userId, eventSk: eventKeys.sortKey(event.occurredAt, event.eventId) });
    const table = JSON.stringify(this.tables.eventsTable);
    const body =
      `{"TransactItems":[{"Put":{"TableName":${table},"Item":${claim},"ConditionExpression":"attribute_not_exists(pk)"}},` +
      `{"Put":{"TableName":${table},"Item":${item}}}]}`;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.transport.send('TransactWriteItems', body);
        return true;
      } catch (error) {
        const reasons = error instanceof DynamoServiceError ? error.cancellationReasons : [];
        if (reasons[0] === 'ConditionalCheckFailed') return false;
        // Two calls racing on one ID: the loser's retry finds the winner's claim.
        if (reasons.includes('TransactionConflict') && attempt < 6) {
          await sleep(backoffDelayMs(attempt, 20, 1_000));
          continue;
        }
        throw error;
      }
    }
  }

  async deleteTimeline(tenantId: string, userId: string): Promise<number> {
    const pages = paginateQuery(
      { client: this.client },
      {
        TableName: this.tables.eventsTable,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': eventKeys.timeline(tenantId, userId) },
        ProjectionExpression: 'pk, sk, eventId, idClaim',
      },
    );
    let deleted = 0;
    for await (const page of pages) {
      const items = page.Items ?? [];
      // A client event ID is released with its event (the tenant may send it again for a new
      // user). Claims go first: only their events lead to them, so a retried DELETE after a
      // partial failure still finds every claim.
      const claims = items.filter((item) => item.idClaim === true).map((item) => deleteRequestJson(attributeMapJson(eventKeys.eventIdClaim(tenantId, item.eventId as string))));
      await batchWriteAll(this.transport, this.tables.eventsTable, claims);
      const keys = items.map((item) => deleteRequestJson(attributeMapJson({ pk: item.pk, sk: item.sk })));
      await batchWriteAll(this.transport, this.tables.eventsTable, keys);
      deleted += keys.length;
    }
    return deleted;
  }

  async deleteProfile(tenantId: string, userId: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tables.usersTable, Key: userKeys.profile(tenantId, userId) }));
  }
}
