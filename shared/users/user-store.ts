import type { UserProfile } from './user.js';

export interface UserEventRecord {
  eventId: string;
  userId: string;
  type: string;
  occurredAt: string;
  properties: Record<string, unknown>;
  source: string;
}

export interface UserWriteSet {
  /** New or changed profiles, written whole. */
  profiles: UserProfile[];
  /** Email → user lookup items of new users (and of changed emails). */
  emailClaims: Array<{ email: string; userId: string }>;
  /** External ID → user lookup items of users that gained one (created with it, or merged). */
  externalIdClaims?: Array<{ externalId: string; userId: string }>;
  /** Email lookup items to delete: the old address of a user whose email changed. */
  emailReleases?: Array<{ email: string; userId: string }>;
  events: UserEventRecord[];
}

/** The port of the one upsert path to user storage; `DynamoUserStore` implements it. */
export interface UserStore {
  getProfiles(tenantId: string, userIds: string[]): Promise<Map<string, UserProfile>>;
  findUserIdsByEmail(tenantId: string, emails: string[]): Promise<Map<string, string>>;
  findUserIdsByExternalId(tenantId: string, externalIds: string[]): Promise<Map<string, string>>;
  /** Writes events first, then profiles and lookup items, so a replay after a crash rewrites the same event items. */
  write(tenantId: string, writes: UserWriteSet): Promise<void>;
}
