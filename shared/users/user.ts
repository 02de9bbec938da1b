import { hash } from 'node:crypto';
import { USER_LIST_SHARDS } from '../storage/table-definitions.js';
import type { PropertyValue } from '../properties/property-coercion.js';

export type UserSource = 'csv' | 'postgres' | 'salesforce' | 'api';

export interface UserProfile {
  userId: string;
  email: string;
  externalId?: string;
  properties: Record<string, PropertyValue>;
  createdAt: string;
  updatedAt: string;
  /**
   * The `ref` (`<importId>:<line>`, `<runId>:<row>`, …) of the change that created this user,
   * and of the last change that wrote it: a replayed row (an import resumed from a checkpoint
   * after its writes landed) is then counted as what it did the first time, not as unchanged.
   */
  createdRef?: string;
  lastRef?: string;
}

/** Key layout of the users table (see `usersTable` in shared/storage/table-definitions.ts). */
export const userKeys = {
  profile: (tenantId: string, userId: string) => ({ pk: `${tenantId}#U#${userId}`, sk: 'USER' }),
  email: (tenantId: string, email: string) => ({ pk: `${tenantId}#E#${email}`, sk: 'EMAIL' }),
  externalId: (tenantId: string, externalId: string) => ({ pk: `${tenantId}#X#${externalId}`, sk: 'XID' }),
  shard: (tenantId: string, userId: string) => userKeys.shardKey(tenantId, userShard(userId)),
  /** The `byTenantShard` partition of one shard (0–31) of a tenant. */
  shardKey: (tenantId: string, shard: number) => `${tenantId}#${String(shard).padStart(2, '0')}`,
};

/** Which of the tenant's list shards (0–31) a user is in. */
export function userShard(userId: string): number {
  let hash = 0;
  for (let index = 0; index < userId.length; index += 1) hash = (hash * 31 + userId.charCodeAt(index)) >>> 0;
  return hash % USER_LIST_SHARDS;
}

/**
 * A new user's ID is derived from the tenant and the email it is created with. Two writers
 * that create the same email at the same time (two concurrent imports, a re-delivered S3
 * event) therefore write the SAME keys: one user, never two, without a lock or a
 * transaction per row. `attempt` > 0 picks another ID when the derived one is already
 * taken by a user whose email has since changed.
 */
export function derivedUserId(tenantId: string, email: string, attempt = 0): string {
  // crypto.hash: one call, no Hash object (a third of createHash's cost on the import's hot path).
  const digest = hash('sha256', `${tenantId}\u0000${email}\u0000${attempt}`, 'base64url');
  return `u_${digest.slice(0, 22)}`;
}

/** Event IDs derived from what caused them, so a replayed write lands on the same item. */
export function derivedEventId(...parts: string[]): string {
  return `e_${hash('sha256', parts.join('\u0000'), 'base64url').slice(0, 22)}`;
}
