import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authorize } from '../../functions/authorizer/handler.js';
import { createTenant, revokeApiKey } from '../../shared/tenants/tenant-service.js';
import { tenantStore } from '../../shared/wiring/stores.js';
import { testTables } from '../support/test-resources.js';

const store = tenantStore(testTables);
const request = (authorization?: string) => ({
  headers: authorization ? { authorization } : {},
  requestContext: { requestId: 'r-1' } as never,
});

describe('Lambda authorizer', () => {
  it("maps a valid key to its tenant in the authorizer context", async () => {
    const issued = await createTenant(store, `authz-${randomBytes(4).toString('hex')}`);
    await expect(authorize(request(`Bearer ${issued.apiKey}`))).resolves.toEqual({
      isAuthorized: true,
      context: { tenantId: issued.tenantId, keyId: issued.keyId },
    });
  });

  it('throws Unauthorized (API Gateway: 401) for missing, wrong and revoked keys', async () => {
    const issued = await createTenant(store, `authz-${randomBytes(4).toString('hex')}`);
    await expect(authorize(request())).rejects.toThrow(/^Unauthorized$/);
    await expect(authorize(request('Bearer rk_000000000000_' + 'A'.repeat(43)))).rejects.toThrow(/^Unauthorized$/);
    await revokeApiKey(store, issued.tenantId, issued.keyId);
    await expect(authorize(request(`Bearer ${issued.apiKey}`))).rejects.toThrow(/^Unauthorized$/);
  });
});
