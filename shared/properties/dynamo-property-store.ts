import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { decodeCursor, encodeCursor } from '../pagination/cursor.js';
import type { PropertyDefinition, PropertyPage, PropertyStore } from './property.js';

/** Registry items: pk = `TENANT#<tenantId>#PROPERTIES`, sk = the lower-cased name (unique per tenant). */
export const propertyPartition = (tenantId: string) => `TENANT#${tenantId}#PROPERTIES`;

export class DynamoPropertyStore implements PropertyStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async list(tenantId: string, limit: number, cursor?: string): Promise<PropertyPage> {
    const pk = propertyPartition(tenantId);
    const page = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        Limit: limit,
        ExclusiveStartKey: decodeCursor(tenantId, cursor, (key) => key.pk === pk),
      }),
    );
    const items: PropertyDefinition[] = (page.Items ?? []).map((item) => ({
      name: item.name as string,
      type: item.type as PropertyDefinition['type'],
      source: item.source as PropertyDefinition['source'],
      createdAt: item.createdAt as string,
    }));
    return { items, nextCursor: encodeCursor(tenantId, page.LastEvaluatedKey) };
  }
}
