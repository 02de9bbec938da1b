import { randomUUID } from 'node:crypto';
import { attributeMapJson, jsonInner, jsonString, repeatedJsonInner } from '../aws/attribute-value-codec.js';
import { putRequestJson } from '../aws/dynamo-batch.js';
import { EVENT_TYPE_SHARDS } from '../storage/table-definitions.js';
import type { UserEventRecord } from '../users/user-store.js';

/** Key layout of the events table (see `eventsTable` in shared/storage/table-definitions.ts). */
export const eventKeys = {
  timeline: (tenantId: string, userId: string) => `${tenantId}#${userId}`,
  sortKey: (occurredAt: string, eventId: string) => `${occurredAt}#${eventId}`,
  typeBucket: (tenantId: string, type: string, occurredAt: string, eventId: string) =>
    eventKeys.typeDayShard(tenantId, type, occurredAt.slice(0, 10), writeShard(eventId)),
  /** One `byTypeDay` partition: a tenant's events of one type on one UTC day, in write shard `shard`. */
  typeDayShard: (tenantId: string, type: string, day: string, shard: number) => `${tenantId}#${type}#${day}#${String(shard).padStart(2, '0')}`,
  /**
   * The tenant's type-day markers: one item per (type, UTC day) that has events, so an export
   * of all types, or of any range, visits exactly the buckets that hold events (no scan, no
   * walk over empty days). `TYPES` cannot clash with a timeline: user IDs start with `u_`.
   */
  typeDays: (tenantId: string) => `${tenantId}#TYPES`,
  typeDay: (type: string, day: string) => `${type}#${day}`,
  /** The claim of a client-chosen event ID (`EVENTID` cannot clash with a timeline: user IDs start with `u_`). */
  eventIdClaim: (tenantId: string, eventId: string) => ({ pk: `${tenantId}#EVENTID#${eventId}`, sk: 'CLAIM' }),
};

/**
 * Which (tenant, type, day) markers this process has already written. A marker is written
 * with the first event of its type and day that a process sees, so a busy tenant costs one
 * extra write per type per day per process, not one per event.
 */
export class TypeDayMarkers {
  private readonly seen = new Set<string>();

  constructor(private readonly capacity = 100_000) {}

  /** The marker items (as attribute-value JSON) not yet written by this process for these events. */
  newMarkers(tenantId: string, events: ReadonlyArray<Pick<UserEventRecord, 'type' | 'occurredAt'>>): string[] {
    const markers: string[] = [];
    for (const event of events) {
      const day = event.occurredAt.slice(0, 10);
      const id = `${tenantId}\u0000${event.type}\u0000${day}`;
      if (this.seen.has(id)) continue;
      if (this.seen.size >= this.capacity) this.seen.clear();
      this.seen.add(id);
      markers.push(
        `{"pk":{"S":${jsonString(eventKeys.typeDays(tenantId))}},"sk":{"S":${jsonString(eventKeys.typeDay(event.type, day))}}` +
          `,"type":{"S":${jsonString(event.type)}},"day":{"S":"${day}"}}`,
      );
    }
    return markers;
  }

  /** Forgets markers whose write failed, so the next write retries them. */
  forget(tenantId: string, events: ReadonlyArray<Pick<UserEventRecord, 'type' | 'occurredAt'>>): void {
    for (const event of events) this.seen.delete(`${tenantId}\u0000${event.type}\u0000${event.occurredAt.slice(0, 10)}`);
  }

  /**
   * Runs `write` with the put requests of the markers these events still need (maybe none);
   * when it fails, the markers are forgotten, so the next write of such events retries them.
   */
  async writeWith(tenantId: string, events: ReadonlyArray<Pick<UserEventRecord, 'type' | 'occurredAt'>>, write: (markerRequests: string[]) => Promise<void>): Promise<void> {
    const markers = this.newMarkers(tenantId, events);
    try {
      await write(markers.map(putRequestJson));
    } catch (error) {
      if (markers.length > 0) this.forget(tenantId, events);
      throw error;
    }
  }
}

function writeShard(eventId: string): number {
  let hash = 0;
  for (let index = 0; index < eventId.length; index += 1) hash = (hash * 33 + eventId.charCodeAt(index)) >>> 0;
  return hash % EVENT_TYPE_SHARDS;
}

/** A fresh ID for an event nothing will replay (API writes); replayable writes derive theirs (`derivedEventId`). */
export const newEventId = () => `ev_${randomUUID().replaceAll('-', '')}`;

export function eventItem(tenantId: string, event: UserEventRecord): Record<string, unknown> {
  return {
    pk: eventKeys.timeline(tenantId, event.userId),
    sk: eventKeys.sortKey(event.occurredAt, event.eventId),
    typeBucket: eventKeys.typeBucket(tenantId, event.type, event.occurredAt, event.eventId),
    eventId: event.eventId,
    userId: event.userId,
    type: event.type,
    occurredAt: event.occurredAt,
    properties: event.properties,
    source: event.source,
  };
}

/** The record an event item holds (the inverse of `eventItem`, keys dropped). */
export function toEventRecord(item: Record<string, unknown>): UserEventRecord {
  return {
    eventId: item.eventId as string,
    userId: item.userId as string,
    type: item.type as string,
    occurredAt: item.occurredAt as string,
    properties: (item.properties as Record<string, unknown> | undefined) ?? {},
    source: item.source as string,
  };
}

/** `eventItem` straight to attribute-value JSON (a test keeps the two equal); each part escaped once. */
export function eventItemJson(tenantId: string, event: UserEventRecord): string {
  const tenant = repeatedJsonInner(tenantId);
  const userId = jsonInner(event.userId);
  const eventId = jsonInner(event.eventId);
  const type = repeatedJsonInner(event.type);
  const occurredAt = jsonInner(event.occurredAt);
  const day = jsonInner(event.occurredAt.slice(0, 10));
  return (
    `{"pk":{"S":"${eventKeys.timeline(tenant, userId)}"},"sk":{"S":"${eventKeys.sortKey(occurredAt, eventId)}"}` +
    `,"typeBucket":{"S":"${eventKeys.typeDayShard(tenant, type, day, writeShard(event.eventId))}"}` +
    `,"eventId":{"S":"${eventId}"},"userId":{"S":"${userId}"},"type":{"S":"${type}"}` +
    `,"occurredAt":{"S":"${occurredAt}"},"properties":{"M":${attributeMapJson(event.properties, 'properties')}},"source":{"S":"${repeatedJsonInner(event.source)}"}}`
  );
}
