import { sameValue, type PropertyValue } from '../properties/property-coercion.js';
import { normalizeEmail } from './email-address.js';
import { derivedEventId, derivedUserId, type UserProfile, type UserSource } from './user.js';
import type { UserEventRecord, UserStore, UserWriteSet } from './user-store.js';

/**
 * THE upsert path. Every source (CSV import, PostgreSQL and Salesforce syncs, the API)
 * hands it rows of already-coerced property values; it normalises emails, resolves identity,
 * applies the mode, writes only what changed (an unchanged user costs no write at all) and
 * records `user.created` / `user.updated` events.
 */
export type UpsertMode = 'upsert' | 'update_only';

export interface UserChange {
  /** As the source gave it; normalised here. */
  email: unknown;
  /** Property values after coercion; absent names are left as they are (empty cells never erase). */
  properties: Record<string, PropertyValue>;
  /** What caused the change (e.g. `<importId>:<line>`): makes the event ID stable on replay. */
  ref: string;
}

export type UpsertOutcome =
  | { status: 'created' | 'updated' | 'unchanged'; userId: string; changed: string[]; duplicate: boolean }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; field: string; message: string };

export interface UpsertContext {
  tenantId: string;
  mode: UpsertMode;
  source: UserSource;
  now?: () => string;
}

interface Working {
  profile: UserProfile;
  isNew: boolean;
  /** Property names changed by this batch (for the event of the last row that touched the user). */
  touched: boolean;
}

/**
 * Applies a batch of rows. Rows for the same email inside the batch collapse onto one user
 * (later rows win per property); the outcome of each row says what it did.
 */
export async function upsertUsers(store: UserStore, context: UpsertContext, changes: UserChange[]): Promise<UpsertOutcome[]> {
  const now = context.now?.() ?? new Date().toISOString();
  const outcomes: UpsertOutcome[] = new Array(changes.length);
  const emails: Array<string | undefined> = new Array(changes.length);
  const distinct = new Set<string>();
  changes.forEach((change, index) => {
    const normalised = normalizeEmail(change.email);
    if (!normalised.ok) {
      outcomes[index] = { status: 'failed', field: 'email', message: normalised.message };
      return;
    }
    emails[index] = normalised.email;
    distinct.add(normalised.email);
  });

  const existing = await resolveExisting(store, context.tenantId, [...distinct]);
  const working = new Map<string, Working>();
  const events: UserEventRecord[] = [];
  const seen = new Set<string>();

  changes.forEach((change, index) => {
    const email = emails[index];
    if (email === undefined) return;
    const duplicate = seen.has(email);
    seen.add(email);
    let state = working.get(email);
    if (!state) {
      const found = existing.profiles.get(email);
      if (!found) {
        if (context.mode === 'update_only') {
          outcomes[index] = { status: 'skipped', reason: 'no user has this email (mode update_only)' };
          return;
        }
        const userId = existing.freeIds.get(email) ?? existing.derivedIds.get(email)!;
        const profile: UserProfile = { userId, email, properties: {}, createdAt: now, updatedAt: now };
        state = { profile, isNew: true, touched: false };
      } else {
        state = { profile: { ...found, properties: { ...found.properties } }, isNew: false, touched: false };
      }
      working.set(email, state);
    }
    const changed: string[] = [];
    for (const [name, value] of Object.entries(change.properties)) {
      if (value === undefined || sameValue(state.profile.properties[name], value)) continue;
      state.profile.properties[name] = value;
      changed.push(name);
    }
    const firstSight = state.isNew && !state.touched;
    if (!firstSight && changed.length === 0) {
      outcomes[index] = { status: 'unchanged', userId: state.profile.userId, changed, duplicate };
      return;
    }
    state.touched = true;
    state.profile.updatedAt = now;
    const type = firstSight ? 'user.created' : 'user.updated';
    events.push({
      eventId: derivedEventId(context.tenantId, state.profile.userId, type, change.ref),
      userId: state.profile.userId,
      type,
      occurredAt: now,
      properties: { changed },
      source: context.source,
    });
    outcomes[index] = { status: firstSight ? 'created' : 'updated', userId: state.profile.userId, changed, duplicate };
  });

  const writes: UserWriteSet = { profiles: [], emailClaims: [], events };
  for (const [email, state] of working) {
    if (!state.touched) continue;
    writes.profiles.push(state.profile);
    if (state.isNew) writes.emailClaims.push({ email, userId: state.profile.userId });
  }
  await store.write(context.tenantId, writes);
  return outcomes;
}

/** The users these (normalised) emails belong to, by email; emails of nobody are absent. */
export async function findUsersByEmail(store: UserStore, tenantId: string, emails: string[]): Promise<Map<string, UserProfile>> {
  return (await resolveExisting(store, tenantId, emails)).profiles;
}

/**
 * Finds the users these emails belong to, in as few round trips as possible: first the
 * profile at each email's derived ID (the common case: one read per row), then, for the
 * emails not found there, the email lookup item (users whose email was changed to it).
 * For new emails whose derived ID is taken by another user, picks the next free ID.
 */
async function resolveExisting(store: UserStore, tenantId: string, emails: string[]) {
  const profiles = new Map<string, UserProfile>();
  const freeIds = new Map<string, string>();
  // One SHA-256 per email per batch: the derived ID is needed three times below.
  const derivedIds = new Map(emails.map((email) => [email, derivedUserId(tenantId, email)]));
  if (emails.length === 0) return { profiles, freeIds, derivedIds };
  const byDerivedId = await store.getProfiles(tenantId, [...derivedIds.values()]);
  const unresolved: string[] = [];
  for (const email of emails) {
    const candidate = byDerivedId.get(derivedIds.get(email)!);
    if (candidate?.email === email) profiles.set(email, candidate);
    else unresolved.push(email);
  }
  if (unresolved.length === 0) return { profiles, freeIds, derivedIds };
  const claimed = await store.findUserIdsByEmail(tenantId, unresolved);
  const claimedProfiles = await store.getProfiles(tenantId, [...new Set(claimed.values())]);
  for (const email of unresolved) {
    const userId = claimed.get(email);
    const profile = userId ? claimedProfiles.get(userId) : undefined;
    if (profile) {
      profiles.set(email, profile);
    } else if (byDerivedId.has(derivedIds.get(email)!)) {
      freeIds.set(email, await nextFreeId(store, tenantId, email));
    }
  }
  return { profiles, freeIds, derivedIds };
}

async function nextFreeId(store: UserStore, tenantId: string, email: string): Promise<string> {
  for (let attempt = 1; attempt < 100; attempt += 1) {
    const candidate = derivedUserId(tenantId, email, attempt);
    const taken = await store.getProfiles(tenantId, [candidate]);
    if (!taken.has(candidate) || taken.get(candidate)?.email === email) return candidate;
  }
  throw new Error('no free user ID found');
}
