import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authorize } from '../../functions/authorizer/handler.js';
import { cachedAuthenticator, type KeyIdentity } from '../../shared/tenants/api-key-cache.js';
import { createTenant, revokeApiKey } from '../../shared/tenants/tenant-service.js';
import { tenantStore } from '../../shared/wiring/stores.js';
import { testTables } from '../support/test-resources.js';

const store = tenantStore(testTables);
const request = (authorization?: string) => ({
  headers: authorization ? { authorization } : {},
  requestContext: { requestId: 'r-1' } as never,
});

describe('Lambda authorizer', () => {
  it('maps a valid key to its tenant in the authorizer context', async () => {
    const issued = await createTenant(store, `authz-${randomBytes(4).toString('hex')}`);
    await expect(authorize(request(`Bearer ${issued.apiKey}`))).resolves.toEqual({
      isAuthorized: true,
      context: { tenantId: issued.tenantId, keyId: issued.keyId, refusal: '' },
    });
  });

  it('never refuses: missing, wrong and revoked keys reach the API function without a tenant, with the reason', async () => {
    const issued = await createTenant(store, `authz-${randomBytes(4).toString('hex')}`);
    const refused = (refusal: string) => ({ isAuthorized: true, context: { tenantId: '', keyId: '', refusal } });
    await expect(authorize(request())).resolves.toEqual(refused('missing'));
    await expect(authorize(request('Bearer rk_000000000000_' + 'A'.repeat(43)))).resolves.toEqual(refused('invalid'));
    await expect(authorize(request('Basic abc'))).resolves.toEqual(refused('invalid'));
    await revokeApiKey(store, issued.tenantId, issued.keyId);
    // The test environment caches nothing (API_KEY_CACHE_SECONDS=0, as locally): revoked at once.
    await expect(authorize(request(`Bearer ${issued.apiKey}`))).resolves.toEqual(refused('invalid'));
  });
});

describe('API key cache', () => {
  const counting = () => {
    const seen: string[] = [];
    const answers = new Map<string, KeyIdentity | undefined>([['Bearer good', { tenantId: 't1', keyId: 'k1' }]]);
    return { seen, answers, authenticate: async (header: string | undefined) => (seen.push(header ?? ''), answers.get(header ?? '')) };
  };

  it('answers a header from memory until its time is up, then asks again (a revoked key stops within the TTL)', async () => {
    let clock = 1_000_000;
    const source = counting();
    const identify = cachedAuthenticator(source.authenticate, { ttlSeconds: 60, now: () => clock });
    expect(await identify('Bearer good')).toEqual({ tenantId: 't1', keyId: 'k1' });
    source.answers.delete('Bearer good'); // revoked
    clock += 59_000;
    expect(await identify('Bearer good')).toEqual({ tenantId: 't1', keyId: 'k1' });
    clock += 1_000;
    expect(await identify('Bearer good')).toBeUndefined();
    expect(source.seen).toEqual(['Bearer good', 'Bearer good']);
  });

  it('caches refusals too, never the missing header, and evicts the oldest entry when full', async () => {
    const source = counting();
    const identify = cachedAuthenticator(source.authenticate, { ttlSeconds: 60, maxEntries: 2 });
    expect(await identify(undefined)).toBeUndefined();
    await identify('Bearer bad');
    await identify('Bearer bad');
    await identify('Bearer good');
    await identify('Bearer other'); // evicts "bad"
    await identify('Bearer good');
    await identify('Bearer bad');
    expect(source.seen).toEqual(['Bearer bad', 'Bearer good', 'Bearer other', 'Bearer bad']);
  });

  it('with a TTL of 0 asks every time', async () => {
    const source = counting();
    const identify = cachedAuthenticator(source.authenticate, { ttlSeconds: 0 });
    await identify('Bearer good');
    await identify('Bearer good');
    expect(source.seen).toHaveLength(2);
  });
});
