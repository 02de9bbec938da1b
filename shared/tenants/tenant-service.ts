import { ConflictError, NotFoundError, ValidationError } from '../errors/domain-errors.js';
import { apiKeyFromAuthorizationHeader, generateApiKey, hashApiKey } from './api-key.js';
import { tenantIdSchema, type Tenant, type TenantStore } from './tenant.js';

export interface IssuedKey {
  tenantId: string;
  apiKey: string;
  keyId: string;
}

function validTenantId(tenantId: string): string {
  const parsed = tenantIdSchema.safeParse(tenantId);
  if (!parsed.success) {
    throw new ValidationError(`invalid tenantId "${tenantId}": ${parsed.error.issues[0]?.message}`, [
      { field: 'tenantId', message: parsed.error.issues[0]?.message ?? 'invalid' },
    ]);
  }
  return parsed.data;
}

export async function createTenant(store: TenantStore, tenantId: string, name?: string): Promise<IssuedKey> {
  const id = validTenantId(tenantId);
  const now = new Date().toISOString();
  const key = generateApiKey();
  const tenant: Tenant = { tenantId: id, name: name?.trim() || id, createdAt: now };
  const created = await store.createTenant(tenant, { tenantId: id, keyId: key.keyId, keyHash: key.keyHash, createdAt: now });
  if (!created) throw new ConflictError(`tenant "${id}" already exists`);
  return { tenantId: id, apiKey: key.apiKey, keyId: key.keyId };
}

export async function listTenants(store: TenantStore): Promise<Tenant[]> {
  const tenants = await store.listTenants();
  return tenants.sort((a, b) => a.tenantId.localeCompare(b.tenantId));
}

export async function createApiKey(store: TenantStore, tenantId: string): Promise<IssuedKey> {
  const id = validTenantId(tenantId);
  if (!(await store.getTenant(id))) throw new NotFoundError(`tenant "${id}" does not exist`);
  const key = generateApiKey();
  await store.addApiKey({ tenantId: id, keyId: key.keyId, keyHash: key.keyHash, createdAt: new Date().toISOString() });
  return { tenantId: id, apiKey: key.apiKey, keyId: key.keyId };
}

export async function revokeApiKey(store: TenantStore, tenantId: string, keyId: string): Promise<void> {
  const id = validTenantId(tenantId);
  const revoked = await store.revokeApiKey(id, keyId, new Date().toISOString());
  if (!revoked) throw new NotFoundError(`tenant "${id}" has no active API key "${keyId}"`);
}

/**
 * Maps an `Authorization` header to the tenant its key belongs to; undefined for a missing,
 * malformed, unknown or revoked key (the caller answers 401 without saying which).
 */
export async function authenticate(
  store: TenantStore,
  authorizationHeader: string | undefined,
): Promise<{ tenantId: string; keyId: string } | undefined> {
  const apiKey = apiKeyFromAuthorizationHeader(authorizationHeader);
  if (!apiKey) return undefined;
  return store.findActiveKeyByHash(hashApiKey(apiKey));
}
