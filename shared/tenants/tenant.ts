import * as z from 'zod';

/** `tenantId`: 3–40 characters of `a-z0-9-` (API.md). It prefixes every key and object path. */
export const tenantIdSchema = z
  .string()
  .regex(/^[a-z0-9-]{3,40}$/, 'tenantId must be 3-40 characters of a-z, 0-9 and -');

export interface Tenant {
  tenantId: string;
  name: string;
  createdAt: string;
}

export interface ApiKeyRecord {
  tenantId: string;
  keyId: string;
  keyHash: string;
  createdAt: string;
}

/** The port the tenant domain talks to; `DynamoTenantStore` implements it. */
export interface TenantStore {
  /** Creates the tenant and its first key atomically; false when the tenant already exists. */
  createTenant(tenant: Tenant, firstKey: ApiKeyRecord): Promise<boolean>;
  getTenant(tenantId: string): Promise<Tenant | undefined>;
  listTenants(): Promise<Tenant[]>;
  addApiKey(key: ApiKeyRecord): Promise<void>;
  /** Revokes an active key of the tenant; false when the tenant has no such active key. */
  revokeApiKey(tenantId: string, keyId: string, revokedAt: string): Promise<boolean>;
  /** The active key with this hash, or undefined (unknown or revoked). */
  findActiveKeyByHash(keyHash: string): Promise<{ tenantId: string; keyId: string } | undefined>;
}
