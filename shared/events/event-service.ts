import { NotFoundError, ValidationError } from '../errors/domain-errors.js';
import { newEventId } from './event-keys.js';
import { normalizeEmail } from '../users/email-address.js';
import { findUsersByEmail } from '../users/user-upsert.js';
import type { EventPage, UserDirectory } from '../users/user-directory.js';
import type { UserEventRecord, UserStore } from '../users/user-store.js';

/**
 * Custom events from the API (`POST /events`) and a user's timeline (`GET /users/{id}/events`).
 * Each event of a call is checked alone: a bad one is rejected with its index, the others
 * are stored. A client `eventId` is stored once per tenant: a retried call, or a repeat inside
 * one call, stores nothing twice (whatever its `occurredAt`).
 */
/** Event types (API.md) and client event IDs share one alphabet and length. */
export const EVENT_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,100}$/;

export interface IncomingEvent {
  email?: unknown;
  userId?: unknown;
  externalId?: unknown;
  type?: unknown;
  occurredAt?: unknown;
  properties?: unknown;
  eventId?: unknown;
}

export interface EventServiceDeps {
  users: UserStore;
  directory: UserDirectory;
}

type Checked = { index: number; event: Omit<UserEventRecord, 'userId'>; by: 'email' | 'userId' | 'externalId'; ref: string; clientId: boolean };

function check(raw: IncomingEvent, index: number, now: string): Checked | { index: number; message: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { index, message: 'an event is a JSON object' };
  const identities = (['email', 'userId', 'externalId'] as const).filter((name) => raw[name] !== undefined && raw[name] !== null);
  if (identities.length !== 1) return { index, message: 'name the user with exactly one of email, userId or externalId' };
  const by = identities[0]!;
  const ref = raw[by];
  if (typeof ref !== 'string' || ref.trim() === '') return { index, message: `${by} must be a non-empty string` };
  if (typeof raw.type !== 'string' || !EVENT_NAME_PATTERN.test(raw.type)) return { index, message: 'type must be 1–100 characters of A-Z a-z 0-9 _ . : -' };
  let occurredAt = now;
  if (raw.occurredAt !== undefined) {
    const parsed = typeof raw.occurredAt === 'string' && /^\d{4}-\d{2}-\d{2}/.test(raw.occurredAt) ? new Date(raw.occurredAt) : undefined;
    if (!parsed || Number.isNaN(parsed.getTime()) || parsed.getUTCFullYear() < 1970 || parsed.getUTCFullYear() > 9999) {
      return { index, message: 'occurredAt must be an ISO 8601 date-time (e.g. 2026-05-01T12:00:00Z)' };
    }
    occurredAt = parsed.toISOString();
  }
  if (raw.properties !== undefined && (typeof raw.properties !== 'object' || raw.properties === null || Array.isArray(raw.properties))) {
    return { index, message: 'properties must be a JSON object' };
  }
  if (raw.eventId !== undefined && (typeof raw.eventId !== 'string' || !EVENT_NAME_PATTERN.test(raw.eventId))) {
    return { index, message: 'eventId must be 1–100 characters of A-Z a-z 0-9 _ . : -' };
  }
  return {
    index,
    by,
    ref,
    clientId: raw.eventId !== undefined,
    event: {
      eventId: (raw.eventId as string | undefined) ?? newEventId(),
      type: raw.type,
      occurredAt,
      properties: (raw.properties as Record<string, unknown> | undefined) ?? {},
      source: 'api',
    },
  };
}

export async function ingestEvents(deps: EventServiceDeps, tenantId: string, events: IncomingEvent[]) {
  const now = new Date().toISOString();
  const rejected: Array<{ index: number; message: string }> = [];
  const accepted: Checked[] = [];
  events.forEach((raw, index) => {
    const result = check(raw, index, now);
    if ('message' in result) rejected.push(result);
    else accepted.push(result);
  });

  // Resolve every named user in a few batched reads, each distinct reference once.
  const refs = (by: Checked['by']) => [...new Set(accepted.filter((item) => item.by === by).map((item) => item.ref))];
  const normalisedEmails = new Map(refs('email').map((ref) => [ref, normalizeEmail(ref)]));
  const validEmails = [...new Set([...normalisedEmails.values()].flatMap((normalised) => (normalised.ok ? [normalised.email] : [])))];
  const [byEmail, knownIds, byExternalId] = await Promise.all([
    findUsersByEmail(deps.users, tenantId, validEmails),
    deps.users.getProfiles(tenantId, refs('userId')),
    Promise.all(refs('externalId').map(async (ref) => [ref, await deps.directory.userIdByExternalId(tenantId, ref)] as const)).then((pairs) => new Map(pairs)),
  ]);

  const records: UserEventRecord[] = [];
  const clientIdRecords: UserEventRecord[] = [];
  const clientIds = new Set<string>();
  let repeats = 0;
  for (const item of accepted) {
    let userId: string | undefined;
    if (item.by === 'email') {
      const normalised = normalisedEmails.get(item.ref)!;
      if (!normalised.ok) {
        rejected.push({ index: item.index, message: `email: ${normalised.message}` });
        continue;
      }
      userId = byEmail.get(normalised.email)?.userId;
    } else if (item.by === 'userId') {
      userId = knownIds.has(item.ref) ? item.ref : undefined;
    } else {
      userId = byExternalId.get(item.ref);
    }
    if (!userId) {
      rejected.push({ index: item.index, message: `no user with this ${item.by}` });
      continue;
    }
    if (!item.clientId) {
      records.push({ ...item.event, userId });
    } else if (clientIds.has(item.event.eventId)) {
      repeats += 1; // the same eventId twice in one call: stored once, accepted both times
    } else {
      clientIds.add(item.event.eventId);
      clientIdRecords.push({ ...item.event, userId });
    }
  }
  await deps.users.write(tenantId, { profiles: [], emailClaims: [], events: records });
  // Client IDs are claimed per tenant, so a retried call stores nothing twice; a repeat still counts as accepted.
  await deps.directory.putEventsOnce(tenantId, clientIdRecords);
  rejected.sort((a, b) => a.index - b.index);
  return { accepted: records.length + clientIdRecords.length + repeats, rejected };
}

/** Date-only bounds cover whole days: `from` at 00:00, `to` through 23:59:59.999 (inclusive). */
export function timelineBounds(from?: string, to?: string): { from?: string; to?: string } {
  const toIso = (value: string, endOfDay: boolean) => {
    if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return endOfDay ? `${value}T23:59:59.999Z` : `${value}T00:00:00.000Z`;
    return new Date(value).toISOString();
  };
  return { from: from === undefined ? undefined : toIso(from, false), to: to === undefined ? undefined : toIso(to, true) };
}

/** `timelineBounds`, refusing a range whose `from` is after its `to` (400 naming `field`). */
export function orderedTimelineBounds(from: string | undefined, to: string | undefined, field: string): { from?: string; to?: string } {
  const bounds = timelineBounds(from, to);
  if (bounds.from && bounds.to && bounds.from > bounds.to) throw new ValidationError('from is after to', [{ field, message: 'must not be after to' }]);
  return bounds;
}

export async function listUserEvents(
  deps: EventServiceDeps,
  tenantId: string,
  userId: string,
  query: { type?: string; from?: string; to?: string; limit: number; cursor?: string },
): Promise<EventPage> {
  const bounds = orderedTimelineBounds(query.from, query.to, 'query.from');
  if (!(await deps.directory.getProfile(tenantId, userId))) throw new NotFoundError(`no user ${userId}`);
  return deps.directory.timeline(tenantId, userId, { ...query, ...bounds });
}
