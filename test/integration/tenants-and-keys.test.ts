import { randomBytes } from 'node:crypto';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { dynamoDocumentClient } from '../../shared/aws/clients.js';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/errors/domain-errors.js';
import { hashApiKey } from '../../shared/tenants/api-key.js';
import { authenticate, createApiKey, createTenant, listTenants, revokeApiKey } from '../../shared/tenants/tenant-service.js';
import { tenantStore } from '../../shared/wiring/stores.js';
import { testTables } from '../support/test-resources.js';

/** The secret part of `rk_<keyId>_<secret>` (the secret itself may contain `_`). */
const secretOf = (apiKey: string) => apiKey.slice('rk_'.length + 12 + 1);
const store = tenantStore(testTables);
const uniqueTenant = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

describe('tenants and API keys (DynamoDB Local)', () => {
  it('creates a tenant whose key authenticates to it', async () => {
    const tenantId = uniqueTenant('acme');
    const issued = await createTenant(store, tenantId, 'Acme Inc');
    expect(issued.tenantId).toBe(tenantId);
    expect(await authenticate(store, `Bearer ${issued.apiKey}`)).toEqual({ tenantId, keyId: issued.keyId });
    const tenants = await listTenants(store);
    expect(tenants).toContainEqual({ tenantId, name: 'Acme Inc', createdAt: expect.any(String) });
  });

  it('stores only the hash of a key, never the key', async () => {
    const tenantId = uniqueTenant('hash');
    const issued = await createTenant(store, tenantId);
    const { Items } = await dynamoDocumentClient().send(
      new QueryCommand({ TableName: testTables.CONTROL_TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `TENANT#${tenantId}` } }),
    );
    const lookup = await dynamoDocumentClient().send(
      new GetCommand({ TableName: testTables.CONTROL_TABLE, Key: { pk: `APIKEY#${hashApiKey(issued.apiKey)}`, sk: 'APIKEY' } }),
    );
    const stored = JSON.stringify([Items, lookup.Item]);
    expect(lookup.Item?.tenantId).toBe(tenantId);
    expect(stored).not.toContain(issued.apiKey);
    expect(stored).not.toContain(secretOf(issued.apiKey));
  });

  it('refuses a duplicate tenant and an invalid tenant ID', async () => {
    const tenantId = uniqueTenant('dup');
    await createTenant(store, tenantId);
    await expect(createTenant(store, tenantId)).rejects.toBeInstanceOf(ConflictError);
    await expect(createTenant(store, 'AB')).rejects.toBeInstanceOf(ValidationError);
    await expect(createTenant(store, 'has_underscore')).rejects.toThrow(/a-z, 0-9 and -/);
    await expect(createTenant(store, 'x'.repeat(41))).rejects.toBeInstanceOf(ValidationError);
  });

  it('issues extra keys, and a revoked key stops working at once while others keep working', async () => {
    const tenantId = uniqueTenant('rev');
    const first = await createTenant(store, tenantId);
    const second = await createApiKey(store, tenantId);
    expect(second.keyId).not.toBe(first.keyId);
    await revokeApiKey(store, tenantId, first.keyId);
    expect(await authenticate(store, `Bearer ${first.apiKey}`)).toBeUndefined();
    expect(await authenticate(store, `Bearer ${second.apiKey}`)).toEqual({ tenantId, keyId: second.keyId });
    await expect(revokeApiKey(store, tenantId, first.keyId)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("cannot revoke or mint keys across tenants", async () => {
    const a = await createTenant(store, uniqueTenant('iso-a'));
    const b = await createTenant(store, uniqueTenant('iso-b'));
    await expect(revokeApiKey(store, b.tenantId, a.keyId)).rejects.toBeInstanceOf(NotFoundError);
    expect(await authenticate(store, `Bearer ${a.apiKey}`)).toEqual({ tenantId: a.tenantId, keyId: a.keyId });
    await expect(createApiKey(store, uniqueTenant('nobody'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses wrong and malformed keys', async () => {
    const issued = await createTenant(store, uniqueTenant('wrong'));
    const tampered = `${issued.apiKey.slice(0, -1)}${issued.apiKey.endsWith('A') ? 'B' : 'A'}`;
    expect(await authenticate(store, `Bearer ${tampered}`)).toBeUndefined();
    expect(await authenticate(store, undefined)).toBeUndefined();
    expect(await authenticate(store, 'Bearer ')).toBeUndefined();
  });
});
