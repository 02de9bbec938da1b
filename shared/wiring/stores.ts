import { dynamoDocumentClient } from '../aws/clients.js';
import { DynamoPropertyStore } from '../properties/dynamo-property-store.js';
import { DynamoTenantStore } from '../tenants/dynamo-tenant-store.js';

/**
 * Factories that wire the domain's ports to their AWS adapters, once per process. A handler
 * calls them at module scope with its validated environment.
 */
export const tenantStore = (env: { CONTROL_TABLE: string }) => new DynamoTenantStore(dynamoDocumentClient(), env.CONTROL_TABLE);

export const propertyStore = (env: { CONTROL_TABLE: string }) => new DynamoPropertyStore(dynamoDocumentClient(), env.CONTROL_TABLE);
