import type { UserEventRecord } from './user-store.js';
import type { UserProfile } from './user.js';

/**
 * The port for reading and maintaining single users (the API's users and events routes),
 * next to `UserStore`, the batch port of the upsert path. Every method takes the tenant
 * and builds its keys from it: nothing here can reach another tenant's items.
 */
export interface UserPage {
  items: UserProfile[];
  nextCursor: string | null;
}

export interface EventPage {
  items: UserEventRecord[];
  nextCursor: string | null;
}

export interface TimelineQuery {
  type?: string;
  /** Inclusive bounds as ISO strings comparable with `occurredAt`. */
  from?: string;
  to?: string;
  limit: number;
  cursor?: string;
}

export interface UserDirectory {
  getProfile(tenantId: string, userId: string): Promise<UserProfile | undefined>;
  listProfiles(tenantId: string, limit: number, cursor?: string): Promise<UserPage>;
  userIdByEmail(tenantId: string, email: string): Promise<string | undefined>;
  userIdByExternalId(tenantId: string, externalId: string): Promise<string | undefined>;
  /** Points `email` at the user unless another user holds it; false when taken. */
  claimEmail(tenantId: string, email: string, userId: string): Promise<boolean>;
  /** Same for an external ID. */
  claimExternalId(tenantId: string, externalId: string, userId: string): Promise<boolean>;
  /** Removes a lookup item if it still points at this user. */
  releaseEmail(tenantId: string, email: string, userId: string): Promise<void>;
  releaseExternalId(tenantId: string, externalId: string, userId: string): Promise<void>;
  /** Sets identity fields on the profile (email, externalId) and `updatedAt`. */
  updateIdentity(tenantId: string, userId: string, fields: { email?: string; externalId?: string }, updatedAt: string): Promise<void>;
  timeline(tenantId: string, userId: string, query: TimelineQuery): Promise<EventPage>;
  /**
   * Stores each event unless the tenant already holds an event with its `eventId` (a
   * client-chosen ID: a retried call stores nothing twice, even with another `occurredAt`).
   * Returns how many were new.
   */
  putEventsOnce(tenantId: string, events: UserEventRecord[]): Promise<number>;
  /** Deletes every event of the user (and the claims of their client event IDs); returns how many. */
  deleteTimeline(tenantId: string, userId: string): Promise<number>;
  deleteProfile(tenantId: string, userId: string): Promise<void>;
}
