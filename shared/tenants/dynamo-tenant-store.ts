import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, paginateQuery, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ApiKeyRecord, Tenant, TenantStore } from './tenant.js';

/** Key layout: see `controlTable` in shared/storage/table-definitions.ts. */
const tenantKey = (tenantId: string) => ({ pk: `TENANT#${tenantId}`, sk: 'PROFILE' });
const tenantListKey = (tenantId: string) => ({ pk: 'TENANTS', sk: `TENANT#${tenantId}` });
const keyMetadataKey = (tenantId: string, keyId: string) => ({ pk: `TENANT#${tenantId}`, sk: `APIKEY#${keyId}` });
const keyLookupKey = (keyHash: string) => ({ pk: `APIKEY#${keyHash}`, sk: 'APIKEY' });

export class DynamoTenantStore implements TenantStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async createTenant(tenant: Tenant, firstKey: ApiKeyRecord): Promise<boolean> {
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { ...tenantKey(tenant.tenantId), ...tenant },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Put: { TableName: this.tableName, Item: { ...tenantListKey(tenant.tenantId), ...tenant } } },
            ...this.keyPuts(firstKey),
          ],
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof TransactionCanceledException && error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') {
        return false;
      }
      throw error;
    }
  }

  async getTenant(tenantId: string): Promise<Tenant | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: tenantKey(tenantId) }));
    return Item ? { tenantId: Item.tenantId, name: Item.name, createdAt: Item.createdAt } : undefined;
  }

  async listTenants(): Promise<Tenant[]> {
    const tenants: Tenant[] = [];
    const pages = paginateQuery({ client: this.client }, { TableName: this.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'TENANTS' } });
    for await (const page of pages) {
      for (const item of page.Items ?? []) tenants.push({ tenantId: item.tenantId, name: item.name, createdAt: item.createdAt });
    }
    return tenants;
  }

  async addApiKey(key: ApiKeyRecord): Promise<void> {
    await this.client.send(new TransactWriteCommand({ TransactItems: this.keyPuts(key) }));
  }

  async revokeApiKey(tenantId: string, keyId: string, revokedAt: string): Promise<boolean> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keyMetadataKey(tenantId, keyId), ConsistentRead: true }),
    );
    if (!Item || Item.revokedAt) return false;
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: keyMetadataKey(tenantId, keyId),
                UpdateExpression: 'SET revokedAt = :now',
                ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(revokedAt)',
                ExpressionAttributeValues: { ':now': revokedAt },
              },
            },
            // Deleting the lookup item is what makes the key stop working at once.
            { Delete: { TableName: this.tableName, Key: keyLookupKey(Item.keyHash as string) } },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof TransactionCanceledException) return false;
      throw error;
    }
  }

  async findActiveKeyByHash(keyHash: string): Promise<{ tenantId: string; keyId: string } | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: keyLookupKey(keyHash), ConsistentRead: true }));
    return Item ? { tenantId: Item.tenantId as string, keyId: Item.keyId as string } : undefined;
  }

  private keyPuts(key: ApiKeyRecord) {
    return [
      {
        Put: {
          TableName: this.tableName,
          Item: { ...keyMetadataKey(key.tenantId, key.keyId), ...key },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: this.tableName,
          Item: { ...keyLookupKey(key.keyHash), tenantId: key.tenantId, keyId: key.keyId, createdAt: key.createdAt },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ];
  }
}
