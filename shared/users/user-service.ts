import { randomUUID } from 'node:crypto';
import { newEventId } from '../events/event-keys.js';
import { ConflictError, NotFoundError, ValidationError, type ErrorDetail } from '../errors/domain-errors.js';
import { coerceValue, type PropertyValue } from '../properties/property-coercion.js';
import type { PropertyRegistry } from '../properties/property-registry.js';
import { logger } from '../logging/logger.js';
import { normalizeEmail } from './email-address.js';
import { largestProperty, propertiesTooLarge } from './profile-size.js';
import { upsertUsers } from './user-upsert.js';
import type { UserDirectory } from './user-directory.js';
import type { UserStore } from './user-store.js';
import { derivedUserId, type UserProfile } from './user.js';

/**
 * Single-user operations of the API (`/users`). Property writes go through the one upsert
 * path (same normalisation, coercion and events as imports, `source: "api"`); identity
 * changes (email, external ID) claim their lookup item conditionally first, so two users
 * never share one.
 */
export interface UserServiceDeps {
  users: UserStore;
  directory: UserDirectory;
  registry: PropertyRegistry;
}

/** A user as the API shows it: the profile's fields, nothing more (no keys, no shard). */
export type PublicUser = UserProfile;

export const publicUser = (profile: UserProfile): PublicUser => ({
  userId: profile.userId,
  email: profile.email,
  ...(profile.externalId ? { externalId: profile.externalId } : {}),
  properties: profile.properties,
  createdAt: profile.createdAt,
  updatedAt: profile.updatedAt,
});

async function requireUser(deps: UserServiceDeps, tenantId: string, userId: string): Promise<UserProfile> {
  const profile = await deps.directory.getProfile(tenantId, userId);
  if (!profile) throw new NotFoundError(`no user ${userId}`);
  return profile;
}

export async function getUser(deps: UserServiceDeps, tenantId: string, userId: string): Promise<PublicUser> {
  return publicUser(await requireUser(deps, tenantId, userId));
}

export async function listUsers(
  deps: UserServiceDeps,
  tenantId: string,
  query: { limit: number; cursor?: string; email?: string; externalId?: string },
): Promise<{ items: PublicUser[]; nextCursor: string | null }> {
  if (query.email !== undefined || query.externalId !== undefined) {
    // A filter names at most one user: answer it from the lookup items, not by listing.
    let userId: string | undefined;
    let email: string | undefined;
    if (query.email !== undefined) {
      const normalised = normalizeEmail(query.email);
      if (!normalised.ok) return { items: [], nextCursor: null };
      email = normalised.email;
      userId = await deps.directory.userIdByEmail(tenantId, email);
    }
    if (query.externalId !== undefined) {
      const byExternal = await deps.directory.userIdByExternalId(tenantId, query.externalId);
      if (userId !== undefined && byExternal !== userId) return { items: [], nextCursor: null };
      userId = byExternal;
    }
    const profile = userId ? await deps.directory.getProfile(tenantId, userId) : undefined;
    const matches = profile && (email === undefined || profile.email === email) && (query.externalId === undefined || profile.externalId === query.externalId);
    return { items: matches ? [publicUser(profile)] : [], nextCursor: null };
  }
  const page = await deps.directory.listProfiles(tenantId, query.limit, query.cursor);
  return { items: page.items.map(publicUser), nextCursor: page.nextCursor };
}

/** Coerces API property values to the registry's types; 400 naming every bad property. */
async function coerceProperties(deps: UserServiceDeps, tenantId: string, raw: Record<string, unknown> | undefined): Promise<Record<string, PropertyValue>> {
  const names = Object.keys(raw ?? {});
  if (names.length === 0) return {};
  const types = await deps.registry.ensure(tenantId, names, 'api');
  const properties: Record<string, PropertyValue> = {};
  const details: ErrorDetail[] = [];
  for (const name of names) {
    const coerced = coerceValue(raw![name], types.get(name) ?? 'string');
    if (!coerced.ok) details.push({ field: `body.properties.${name}`, message: coerced.message });
    else if (coerced.value !== undefined) properties[name] = coerced.value;
  }
  if (details.length > 0) throw new ValidationError(`invalid properties: ${details.map((detail) => `${detail.field} ${detail.message}`).join('; ')}`, details);
  return properties;
}

function requireEmail(raw: unknown): string {
  const normalised = normalizeEmail(raw);
  if (!normalised.ok) throw new ValidationError(`invalid email: ${normalised.message}`, [{ field: 'body.email', message: normalised.message }]);
  return normalised.email;
}

/**
 * Gives the user `externalId` (claimed first, so two users never share one). A user created by
 * this same request takes it as part of its creation: no second event, `updatedAt` stays `createdAt`.
 */
async function setExternalId(deps: UserServiceDeps, tenantId: string, profile: UserProfile, externalId: string, now: string, justCreated = false): Promise<void> {
  if (profile.externalId === externalId) return;
  if (!(await deps.directory.claimExternalId(tenantId, externalId, profile.userId))) {
    throw new ConflictError(`externalId ${JSON.stringify(externalId)} already belongs to another user`, [{ field: 'body.externalId', message: 'taken by another user' }]);
  }
  await deps.directory.updateIdentity(tenantId, profile.userId, { externalId }, justCreated ? profile.updatedAt : now);
  if (profile.externalId) await deps.directory.releaseExternalId(tenantId, profile.externalId, profile.userId);
  if (!justCreated) await recordIdentityEvent(deps, tenantId, profile.userId, ['external_id'], now);
}

async function recordIdentityEvent(deps: UserServiceDeps, tenantId: string, userId: string, changed: string[], now: string) {
  await deps.users.write(tenantId, {
    profiles: [],
    emailClaims: [],
    events: [{ eventId: newEventId(), userId, type: 'user.updated', occurredAt: now, properties: { changed }, source: 'api' }],
  });
}

/** `POST /users`: an upsert by email. */
export async function createUser(
  deps: UserServiceDeps,
  tenantId: string,
  body: { email: string; externalId?: string; properties?: Record<string, unknown> },
): Promise<{ status: 200 | 201; body: PublicUser }> {
  const email = requireEmail(body.email);
  const properties = await coerceProperties(deps, tenantId, body.properties);
  if (body.externalId !== undefined) {
    const holder = await deps.directory.userIdByExternalId(tenantId, body.externalId);
    const owner = await deps.directory.userIdByEmail(tenantId, email);
    if (holder !== undefined && holder !== owner) {
      throw new ConflictError(`externalId ${JSON.stringify(body.externalId)} already belongs to another user`, [{ field: 'body.externalId', message: 'taken by another user' }]);
    }
  }
  const [outcome] = await upsertUsers(deps.users, { tenantId, mode: 'upsert', source: 'api' }, [{ email, properties, ref: `api:${randomUUID()}` }]);
  if (!outcome || outcome.status === 'failed' || outcome.status === 'skipped') {
    const message = outcome && 'message' in outcome ? outcome.message : 'not accepted';
    if (outcome?.status === 'failed' && outcome.field !== 'email') throw new ValidationError(message, [{ field: `body.properties.${outcome.field}`, message }]);
    throw new ValidationError(`invalid email`, [{ field: 'body.email', message }]);
  }
  let profile = await requireUser(deps, tenantId, outcome.userId);
  if (body.externalId !== undefined && profile.externalId !== body.externalId) {
    await setExternalId(deps, tenantId, profile, body.externalId, new Date().toISOString(), outcome.status === 'created');
    profile = await requireUser(deps, tenantId, outcome.userId);
  }
  return { status: outcome.status === 'created' ? 201 : 200, body: publicUser(profile) };
}

/** `PATCH /users/{userId}`: identity changes, then properties through the upsert path. */
export async function patchUser(
  deps: UserServiceDeps,
  tenantId: string,
  userId: string,
  body: { email?: string; externalId?: string; properties?: Record<string, unknown> },
): Promise<PublicUser> {
  let profile = await requireUser(deps, tenantId, userId);
  const properties = await coerceProperties(deps, tenantId, body.properties);
  // Refused before any identity change, so a 400 leaves the user as it was.
  const tooLarge = propertiesTooLarge(profile.properties, properties);
  if (tooLarge) throw new ValidationError(tooLarge, [{ field: `body.properties.${largestProperty(properties)}`, message: tooLarge }]);
  const now = new Date().toISOString();
  if (body.email !== undefined) {
    const email = requireEmail(body.email);
    if (email !== profile.email) {
      // The import path finds users by the profile at the email's derived ID first: make sure no such user exists either.
      const holder = (await deps.directory.userIdByEmail(tenantId, email)) ?? (await findByDerivedId(deps, tenantId, email));
      if ((holder !== undefined && holder !== userId) || !(await deps.directory.claimEmail(tenantId, email, userId))) {
        throw new ConflictError(`another user has the email ${email}`, [{ field: 'body.email', message: 'taken by another user' }]);
      }
      await deps.directory.updateIdentity(tenantId, userId, { email }, now);
      await deps.directory.releaseEmail(tenantId, profile.email, userId);
      await recordIdentityEvent(deps, tenantId, userId, ['email'], now);
      profile = await requireUser(deps, tenantId, userId);
    }
  }
  if (body.externalId !== undefined) await setExternalId(deps, tenantId, profile, body.externalId, now);
  if (Object.keys(properties).length > 0) {
    const [outcome] = await upsertUsers(deps.users, { tenantId, mode: 'update_only', source: 'api' }, [{ email: profile.email, properties, ref: `api:${randomUUID()}` }]);
    if (outcome?.status === 'failed' && outcome.field !== 'email') {
      throw new ValidationError(outcome.message, [{ field: `body.properties.${outcome.field}`, message: outcome.message }]);
    }
    if (outcome?.status === 'skipped' || outcome?.status === 'failed' || (outcome && outcome.userId !== userId)) {
      throw new ConflictError('the user changed while it was being updated; retry', []);
    }
  }
  return publicUser(await requireUser(deps, tenantId, userId));
}

async function findByDerivedId(deps: UserServiceDeps, tenantId: string, email: string): Promise<string | undefined> {
  const profile = await deps.directory.getProfile(tenantId, derivedUserId(tenantId, email));
  return profile?.email === email ? profile.userId : undefined;
}

/**
 * `DELETE /users/{userId}` (erasure): events first, then the lookup items, then the profile,
 * so a failure part-way leaves the user findable and a retried DELETE finishes the job.
 * The log line carries IDs and counts only, no personal data.
 */
export async function deleteUser(deps: UserServiceDeps, tenantId: string, userId: string): Promise<void> {
  const profile = await requireUser(deps, tenantId, userId);
  const events = await deps.directory.deleteTimeline(tenantId, userId);
  await deps.directory.releaseEmail(tenantId, profile.email, userId);
  if (profile.externalId) await deps.directory.releaseExternalId(tenantId, profile.externalId, userId);
  await deps.directory.deleteProfile(tenantId, userId);
  logger.info('user deleted', { userId, deletedEvents: events });
}
