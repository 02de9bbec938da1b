import { sameValue, type PropertyValue } from '../properties/property-coercion.js';
import { normalizeEmail } from './email-address.js';
import { largestProperty, propertiesTooLarge } from './profile-size.js';
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
  /** The source's own ID of the person (PostgreSQL `idColumn`), trimmed; used when `identity` is `externalId`. */
  externalId?: string;
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
  /**
   * How rows find their user. `email` (default): by email. `externalId`: by external ID
   * first; a row without one falls back to its email when `fallbackToEmail` is set (else it
   * is a row error); a user first created by email gains the external ID when a later row
   * brings it with that email (the merge).
   */
  identity?: { by: 'email' } | { by: 'externalId'; fallbackToEmail: boolean };
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
  if (context.identity?.by === 'externalId') return upsertByExternalId(store, context, context.identity.fallbackToEmail, changes);
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
    let state = working.get(email);
    if (!state) {
      const found = existing.profiles.get(email);
      if (!found) {
        if (context.mode === 'update_only') {
          seen.add(email);
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
    // Nothing of a refused row is applied; an untouched new user is not written.
    const refused = sizeRefusal(state.profile.properties, change.properties);
    if (refused) {
      outcomes[index] = refused;
      return;
    }
    seen.add(email);
    const changed: string[] = [];
    applyProperties(state.profile.properties, change.properties, changed);
    const firstSight = state.isNew && !state.touched;
    if (!firstSight && changed.length === 0) {
      outcomes[index] = { status: replayedStatus(state.profile, change.ref), userId: state.profile.userId, changed, duplicate };
      return;
    }
    state.touched = true;
    state.profile.updatedAt = now;
    markWrittenBy(state.profile, change.ref, firstSight);
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

/** The outcome of a row that would grow its user past one item (naming its largest value), or undefined. */
function sizeRefusal(current: Record<string, PropertyValue>, incoming: Record<string, PropertyValue>): UpsertOutcome | undefined {
  const message = propertiesTooLarge(current, incoming);
  return message ? { status: 'failed', field: largestProperty(incoming), message } : undefined;
}

/** Copies the values that differ into `properties` and names them in `changed`; `undefined` (an empty cell) erases nothing. */
function applyProperties(properties: Record<string, PropertyValue>, incoming: Record<string, PropertyValue>, changed: string[]): void {
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || sameValue(properties[name], value)) continue;
    properties[name] = value;
    changed.push(name);
  }
}

/**
 * What a row that changes nothing did the first time it ran: a replay of the row that
 * created or last wrote the user (same `ref`) counts as `created` / `updated` again, so a
 * resumed import's counts are those of one uninterrupted run.
 */
function replayedStatus(profile: UserProfile, ref: string): 'created' | 'updated' | 'unchanged' {
  if (profile.createdRef === ref) return 'created';
  if (profile.lastRef === ref) return 'updated';
  return 'unchanged';
}

function markWrittenBy(profile: UserProfile, ref: string, created: boolean): void {
  profile.lastRef = ref;
  if (created) profile.createdRef = ref;
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

interface ExternalWorking extends Working {
  /** The email item this user held when loaded (released if the email changes). */
  loadedEmail?: string;
  /** Whether the user gained its external ID in this batch (its lookup item is written). */
  claimsExternalId: boolean;
}

/**
 * The upsert path with external IDs (PostgreSQL `idColumn`). Per row: the user holding the
 * external ID; else (a new ID, or none with `fallbackToEmail`) the user holding the email,
 * who gains the external ID unless it already has another (a row error: one person, two
 * IDs); else a new user, which needs an email. A row found by its external ID whose email
 * differs moves the user to that email, unless another user holds it (a row error).
 */
async function upsertByExternalId(store: UserStore, context: UpsertContext, fallbackToEmail: boolean, changes: UserChange[]): Promise<UpsertOutcome[]> {
  const { tenantId } = context;
  const now = context.now?.() ?? new Date().toISOString();
  const outcomes: UpsertOutcome[] = new Array(changes.length);
  const emails: Array<string | undefined> = new Array(changes.length);
  const distinctEmails = new Set<string>();
  const distinctIds = new Set<string>();
  changes.forEach((change, index) => {
    const hasEmail = !(change.email === undefined || change.email === null || (typeof change.email === 'string' && change.email.trim() === ''));
    if (hasEmail) {
      const normalised = normalizeEmail(change.email);
      if (!normalised.ok) {
        outcomes[index] = { status: 'failed', field: 'email', message: normalised.message };
        return;
      }
      emails[index] = normalised.email;
      distinctEmails.add(normalised.email);
    }
    if (change.externalId) distinctIds.add(change.externalId);
    else if (!fallbackToEmail) outcomes[index] = { status: 'failed', field: 'externalId', message: 'the row has no external ID and fallbackToEmail is off' };
    else if (!hasEmail) outcomes[index] = { status: 'failed', field: 'email', message: 'the row has neither an external ID nor an email' };
  });

  const byExternalId = distinctIds.size > 0 ? await store.findUserIdsByExternalId(tenantId, [...distinctIds]) : new Map<string, string>();
  const byEmail = await resolveExisting(store, tenantId, [...distinctEmails]);
  const profiles = new Map<string, UserProfile>();
  for (const profile of byEmail.profiles.values()) profiles.set(profile.userId, profile);
  const missing = [...new Set(byExternalId.values())].filter((userId) => !profiles.has(userId));
  if (missing.length > 0) for (const [userId, profile] of await store.getProfiles(tenantId, missing)) profiles.set(userId, profile);

  const working = new Map<string, ExternalWorking>();
  // Who holds an email / external ID as of the rows applied so far (the batch's own view).
  const emailHolder = new Map<string, string>();
  const idHolder = new Map<string, string>();
  for (const [email, profile] of byEmail.profiles) emailHolder.set(email, profile.userId);
  for (const [externalId, userId] of byExternalId) if (profiles.get(userId)?.externalId === externalId) idHolder.set(externalId, userId);
  const events: UserEventRecord[] = [];
  const seen = new Set<string>();

  const load = (userId: string): ExternalWorking | undefined => {
    let state = working.get(userId);
    if (state) return state;
    const found = profiles.get(userId);
    if (!found) return undefined;
    state = { profile: { ...found, properties: { ...found.properties } }, isNew: false, touched: false, loadedEmail: found.email, claimsExternalId: false };
    working.set(userId, state);
    return state;
  };

  changes.forEach((change, index) => {
    if (outcomes[index]) return;
    const email = emails[index];
    const externalId = change.externalId || undefined;
    let state = externalId ? load(idHolder.get(externalId) ?? '') : undefined;
    if (!state && email !== undefined) {
      const holder = emailHolder.get(email);
      state = holder ? load(holder) : undefined;
      if (state && externalId && state.profile.externalId && state.profile.externalId !== externalId) {
        outcomes[index] = { status: 'failed', field: 'email', message: `the email ${email} belongs to the user with another external ID (${state.profile.externalId})` };
        return;
      }
    }
    if (!state) {
      if (email === undefined) {
        outcomes[index] = { status: 'failed', field: 'email', message: `no user has the external ID ${externalId}, and a new user needs an email` };
        return;
      }
      if (context.mode === 'update_only') {
        outcomes[index] = { status: 'skipped', reason: 'no user has this external ID or email (mode update_only)' };
        return;
      }
      // Checked before the new user takes its email, so a refused row leaves no trace.
      const refused = sizeRefusal({}, change.properties);
      if (refused) {
        outcomes[index] = refused;
        return;
      }
      const userId = byEmail.freeIds.get(email) ?? byEmail.derivedIds.get(email)!;
      state = { profile: { userId, email, properties: {}, createdAt: now, updatedAt: now }, isNew: true, touched: false, claimsExternalId: false };
      working.set(userId, state);
      emailHolder.set(email, userId);
    } else {
      // Before any identity change, so a refused row changes nothing.
      const refused = sizeRefusal(state.profile.properties, change.properties);
      if (refused) {
        outcomes[index] = refused;
        return;
      }
    }
    const userId = state.profile.userId;
    let identityChanged = false;
    if (email !== undefined && email !== state.profile.email) {
      const holder = emailHolder.get(email);
      if (holder !== undefined && holder !== userId) {
        outcomes[index] = { status: 'failed', field: 'email', message: `the email ${email} belongs to another user` };
        return;
      }
      emailHolder.delete(state.profile.email);
      emailHolder.set(email, userId);
      state.profile.email = email;
      identityChanged = true;
    }
    if (externalId && state.profile.externalId !== externalId) {
      state.profile.externalId = externalId;
      state.claimsExternalId = true;
      idHolder.set(externalId, userId);
      identityChanged = true;
    }
    const duplicate = seen.has(userId);
    seen.add(userId);
    const changed: string[] = [];
    applyProperties(state.profile.properties, change.properties, changed);
    const firstSight = state.isNew && !state.touched;
    if (!firstSight && changed.length === 0 && !identityChanged) {
      outcomes[index] = { status: replayedStatus(state.profile, change.ref), userId, changed, duplicate };
      return;
    }
    state.touched = true;
    state.profile.updatedAt = now;
    markWrittenBy(state.profile, change.ref, firstSight);
    const type = firstSight ? 'user.created' : 'user.updated';
    events.push({
      eventId: derivedEventId(tenantId, userId, type, change.ref),
      userId,
      type,
      occurredAt: now,
      properties: { changed: identityChanged && !firstSight ? [...changed, ...identityFields(state, email)] : changed },
      source: context.source,
    });
    outcomes[index] = { status: firstSight ? 'created' : 'updated', userId, changed, duplicate };
  });

  const writes: UserWriteSet = { profiles: [], emailClaims: [], externalIdClaims: [], emailReleases: [], events };
  for (const state of working.values()) {
    if (!state.touched) continue;
    const { profile } = state;
    writes.profiles.push(profile);
    if (state.isNew || profile.email !== state.loadedEmail) writes.emailClaims.push({ email: profile.email, userId: profile.userId });
    if (state.loadedEmail !== undefined && profile.email !== state.loadedEmail) writes.emailReleases!.push({ email: state.loadedEmail, userId: profile.userId });
    if (state.claimsExternalId && profile.externalId) writes.externalIdClaims!.push({ externalId: profile.externalId, userId: profile.userId });
  }
  // An address one user left and another took in this batch is claimed, not deleted.
  const claimed = new Set(writes.emailClaims.map((claim) => claim.email));
  writes.emailReleases = writes.emailReleases!.filter((release) => !claimed.has(release.email));
  await store.write(tenantId, writes);
  return outcomes;
}

/** The identity fields a row changed, named as in the API (`email`, `externalId`), for the event. */
function identityFields(state: ExternalWorking, email: string | undefined): string[] {
  const fields: string[] = [];
  if (email !== undefined && state.loadedEmail !== undefined && email !== state.loadedEmail) fields.push('email');
  if (state.claimsExternalId) fields.push('externalId');
  return fields;
}
