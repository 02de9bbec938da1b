import { hash } from 'node:crypto';

export interface KeyIdentity {
  tenantId: string;
  keyId: string;
}

export type Authenticate = (authorizationHeader: string | undefined) => Promise<KeyIdentity | undefined>;

/**
 * Remembers each `Authorization` header's answer (its tenant, or a refusal) for `ttlSeconds`
 * per process, so a busy key costs one DynamoDB read per minute per container instead of one
 * per request. A revoked key therefore keeps working for at most `ttlSeconds` (API.md: ≤ 60 s
 * deployed; the local stack uses 0: at once). Headers are kept as SHA-256 digests, never as keys.
 */
export function cachedAuthenticator(
  authenticate: Authenticate,
  options: { ttlSeconds: number; maxEntries?: number; now?: () => number },
): Authenticate {
  if (options.ttlSeconds <= 0) return authenticate;
  const ttlMs = options.ttlSeconds * 1000;
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { identity: KeyIdentity | undefined; expiresAt: number }>();
  return async (header) => {
    if (!header) return undefined;
    const digest = hash('sha256', header, 'base64');
    const at = now();
    const cached = entries.get(digest);
    if (cached && cached.expiresAt > at) return cached.identity;
    const identity = await authenticate(header);
    entries.delete(digest);
    // Oldest first out: a Map iterates in insertion order.
    if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
    entries.set(digest, { identity, expiresAt: at + ttlMs });
    return identity;
  };
}
