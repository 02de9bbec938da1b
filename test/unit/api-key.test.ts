import { describe, expect, it } from 'vitest';

/** The secret part of `rk_<keyId>_<secret>` (the secret itself may contain `_`). */
const secretOf = (apiKey: string) => apiKey.slice('rk_'.length + 12 + 1);
import { apiKeyFromAuthorizationHeader, generateApiKey, hashApiKey, looksLikeApiKey } from '../../shared/tenants/api-key.js';

describe('API keys', () => {
  it('carry at least 128 bits of randomness and are unique', () => {
    const keys = Array.from({ length: 500 }, () => generateApiKey());
    expect(new Set(keys.map((k) => k.apiKey)).size).toBe(500);
    const secret = secretOf(keys[0]!.apiKey);
    expect(Buffer.from(secret, 'base64url').byteLength * 8).toBeGreaterThanOrEqual(128);
  });

  it('are stored as a SHA-256 hash that never contains the key', () => {
    const { apiKey, keyHash, keyId } = generateApiKey();
    expect(keyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(keyHash).toBe(hashApiKey(apiKey));
    expect(keyHash).not.toContain(secretOf(apiKey));
    expect(apiKey.startsWith(`rk_${keyId}_`)).toBe(true);
  });

  it('are read only from a well-formed Bearer header', () => {
    const { apiKey } = generateApiKey();
    expect(apiKeyFromAuthorizationHeader(`Bearer ${apiKey}`)).toBe(apiKey);
    expect(apiKeyFromAuthorizationHeader(`bearer   ${apiKey}  `)).toBe(apiKey);
    expect(apiKeyFromAuthorizationHeader(apiKey)).toBeUndefined();
    expect(apiKeyFromAuthorizationHeader(`Basic ${apiKey}`)).toBeUndefined();
    expect(apiKeyFromAuthorizationHeader('Bearer rk_short_x')).toBeUndefined();
    expect(apiKeyFromAuthorizationHeader(undefined)).toBeUndefined();
    expect(looksLikeApiKey(`${apiKey}x`)).toBe(false);
  });
});
