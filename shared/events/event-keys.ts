import { randomUUID } from 'node:crypto';
import { attributeMapJson, jsonString } from '../aws/attribute-value-codec.js';
import { EVENT_TYPE_SHARDS } from '../storage/table-definitions.js';
import type { UserEventRecord } from '../users/user-store.js';

/** Key layout of the events table (see `eventsTable` in shared/storage/table-definitions.ts). */
export const eventKeys = {
  timeline: (tenantId: string, userId: string) => `${tenantId}#${userId}`,
  sortKey: (occurredAt: string, eventId: string) => `${occurredAt}#${eventId}`,
  typeBucket: (tenantId: string, type: string, occurredAt: string, eventId: string) =>
    `${tenantId}#${type}#${occurredAt.slice(0, 10)}#${String(writeShard(eventId)).padStart(2, '0')}`,
};

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

/** `eventItem` straight to attribute-value JSON (a test keeps the two equal). */
export function eventItemJson(tenantId: string, event: UserEventRecord): string {
  return (
    `{"pk":{"S":${jsonString(eventKeys.timeline(tenantId, event.userId))}},"sk":{"S":${jsonString(eventKeys.sortKey(event.occurredAt, event.eventId))}}` +
    `,"typeBucket":{"S":${jsonString(eventKeys.typeBucket(tenantId, event.type, event.occurredAt, event.eventId))}}` +
    `,"eventId":{"S":${jsonString(event.eventId)}},"userId":{"S":${jsonString(event.userId)}},"type":{"S":${jsonString(event.type)}}` +
    `,"occurredAt":{"S":${jsonString(event.occurredAt)}},"properties":{"M":${attributeMapJson(event.properties, 'properties')}},"source":{"S":${jsonString(event.source)}}}`
  );
}
