import { createHash, randomBytes } from 'node:crypto';

/**
 * API keys look like `rk_<keyId>_<secret>`: `keyId` (12 hex characters) names the key in
 * listings and revocations; `secret` is 32 random bytes (256 bits) in base64url. Only the
 * SHA-256 of the whole key is stored. A fast hash is right here: with 256 bits of
 * randomness there is nothing to brute-force, unlike a password.
 */
const KEY_PATTERN = /^rk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface GeneratedApiKey {
  keyId: string;
  apiKey: string;
  keyHash: string;
}

export function generateApiKey(): GeneratedApiKey {
  const keyId = randomBytes(6).toString('hex');
  const apiKey = `rk_${keyId}_${randomBytes(32).toString('base64url')}`;
  return { keyId, apiKey, keyHash: hashApiKey(apiKey) };
}

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

/** True when the text has the shape of a Roster key (cheap check before any lookup). */
export function looksLikeApiKey(candidate: string): boolean {
  return KEY_PATTERN.test(candidate);
}

/** Extracts the key from an `Authorization: Bearer <key>` header value, if well-formed. */
export function apiKeyFromAuthorizationHeader(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header.trim());
  const candidate = match?.[1];
  return candidate && looksLikeApiKey(candidate) ? candidate : undefined;
}
