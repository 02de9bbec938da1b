import { paginateQuery, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { eventKeys, toEventRecord } from '../events/event-keys.js';
import { EVENT_TYPE_SHARDS, USER_LIST_SHARDS } from '../storage/table-definitions.js';
import { toProfile } from '../users/dynamo-user-store.js';
import { queryUserShard } from '../users/dynamo-user-directory.js';
import type { UserProfile } from '../users/user.js';
import type { UserEventRecord } from '../users/user-store.js';
import type { EventsExportSpec, ExportPosition } from './export-record.js';

/**
 * What an export reads, as pages of rows each followed by the position to resume from. The
 * export run writes a page, then may stop at that position and continue in a new invocation.
 * Every query is keyed by the tenant: no export reads another tenant's items.
 */
export interface Page<T> {
  rows: T[];
  /** Where the rows after this page start; undefined after the last page. */
  next: ExportPosition | undefined;
}

export interface ExportSource {
  users(tenantId: string, from: Extract<ExportPosition, { kind: 'users' }>): AsyncIterable<Page<UserProfile>>;
  events(tenantId: string, spec: EventsExportSpec, from: Extract<ExportPosition, { kind: 'events' }>): AsyncIterable<Page<UserEventRecord>>;
}

const PAGE_SIZE = 500;

/** Timestamps are stored as `toISOString()` (24 characters): `T + ' '` is the first string after `T`. */
const justAfter = (timestamp: string) => `${timestamp} `;

export class DynamoExportSource implements ExportSource {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tables: { usersTable: string; eventsTable: string },
    private readonly pageSize = PAGE_SIZE,
  ) {}

  /** Users shard by shard of `byTenantShard` (each user is in exactly one shard). */
  async *users(tenantId: string, from: Extract<ExportPosition, { kind: 'users' }>): AsyncIterable<Page<UserProfile>> {
    let shard = from.shard;
    let startKey = from.startKey;
    while (shard < USER_LIST_SHARDS) {
      const page = await queryUserShard(this.client, this.tables.usersTable, tenantId, shard, this.pageSize, startKey);
      startKey = page.LastEvaluatedKey;
      if (!startKey) shard += 1;
      const next = shard < USER_LIST_SHARDS ? { kind: 'users' as const, shard, ...(startKey ? { startKey } : {}) } : undefined;
      yield { rows: (page.Items ?? []).map(toProfile), next };
    }
  }

  /** The (type, day) buckets holding events of the chosen types in the range, by day then type. */
  async typeDays(tenantId: string, spec: EventsExportSpec, fromDay?: string): Promise<Map<string, string[]>> {
    const days = new Map<string, string[]>();
    const lowDay = [spec.from?.slice(0, 10), fromDay].filter(Boolean).sort().pop() ?? '0000-00-00';
    const highDay = spec.to?.slice(0, 10) ?? '9999-99-99';
    const ranges = spec.types?.length ? spec.types.map((type) => ({ type })) : [{ type: undefined }];
    for (const { type } of ranges) {
      const pages = paginateQuery(
        { client: this.client },
        {
          TableName: this.tables.eventsTable,
          KeyConditionExpression: type ? 'pk = :pk AND sk BETWEEN :low AND :high' : 'pk = :pk',
          ExpressionAttributeValues: { ':pk': eventKeys.typeDays(tenantId), ...(type ? { ':low': eventKeys.typeDay(type, lowDay), ':high': eventKeys.typeDay(type, highDay) } : {}) },
          ConsistentRead: true,
        },
      );
      for await (const page of pages) {
        for (const item of page.Items ?? []) {
          const day = item.day as string;
          if (day < lowDay || day > highDay) continue;
          if (!days.has(day)) days.set(day, []);
          days.get(day)!.push(item.type as string);
        }
      }
    }
    return new Map([...days].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  /**
   * Events day by day (UTC), each day in `occurredAt` order: a k-way merge of that day's
   * write shards of every chosen type, one page per shard in memory. A page ends only where
   * the timestamp changes, so `after` (the last timestamp written) resumes without losing or
   * repeating an event.
   */
  async *events(tenantId: string, spec: EventsExportSpec, from: Extract<ExportPosition, { kind: 'events' }>): AsyncIterable<Page<UserEventRecord>> {
    const days = await this.typeDays(tenantId, spec, from.day);
    const dayList = [...days.keys()];
    for (let index = 0; index < dayList.length; index += 1) {
      const day = dayList[index]!;
      const dayStart = `${day}T00:00:00.000Z`;
      const dayEnd = `${day}T23:59:59.999Z`;
      let low = spec.from && spec.from > dayStart ? spec.from : dayStart;
      if (from.day === day && from.after) low = justAfter(from.after);
      const high = spec.to && spec.to < dayEnd ? spec.to : dayEnd;
      const streams = days.get(day)!.flatMap((type) =>
        Array.from({ length: EVENT_TYPE_SHARDS }, (_, shard) => new BucketStream(this.client, this.tables.eventsTable, eventKeys.typeDayShard(tenantId, type, day, shard), low, high, this.pageSize)),
      );
      const nextDay = dayList[index + 1];
      let rows: UserEventRecord[] = [];
      for (;;) {
        let best: BucketStream | undefined;
        for (const stream of streams) {
          const head = await stream.peek();
          if (head && (!best || head.occurredAt < (best.head!).occurredAt)) best = stream;
        }
        if (!best) break;
        const event = best.take();
        // Cut a page only between two timestamps, never inside a run of equal ones.
        if (rows.length >= this.pageSize && rows[rows.length - 1]!.occurredAt !== event.occurredAt) {
          yield { rows, next: { kind: 'events', day, after: rows[rows.length - 1]!.occurredAt } };
          rows = [];
        }
        rows.push(event);
      }
      yield { rows, next: nextDay ? { kind: 'events', day: nextDay } : undefined };
    }
  }
}

/** One `byTypeDay` partition read page by page, in `occurredAt` order. */
class BucketStream {
  head: UserEventRecord | undefined;
  private buffer: UserEventRecord[] = [];
  private startKey: Record<string, unknown> | undefined;
  private done = false;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly bucket: string,
    private readonly low: string,
    private readonly high: string,
    private readonly pageSize: number,
  ) {}

  async peek(): Promise<UserEventRecord | undefined> {
    while (this.buffer.length === 0 && !this.done) {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'byTypeDay',
          KeyConditionExpression: 'typeBucket = :bucket AND occurredAt BETWEEN :low AND :high',
          ExpressionAttributeValues: { ':bucket': this.bucket, ':low': this.low, ':high': this.high },
          Limit: this.pageSize,
          ExclusiveStartKey: this.startKey,
        }),
      );
      this.buffer = (page.Items ?? []).map(toEventRecord);
      this.startKey = page.LastEvaluatedKey;
      if (!this.startKey) this.done = true;
    }
    this.head = this.buffer[0];
    return this.head;
  }

  take(): UserEventRecord {
    const event = this.buffer.shift()!;
    this.head = this.buffer[0];
    return event;
  }
}
