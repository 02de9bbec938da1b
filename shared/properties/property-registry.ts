import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, paginateQuery, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConflictError, ValidationError } from '../errors/domain-errors.js';
import { propertyPartition } from './dynamo-property-store.js';
import { validatePropertyName } from './property-names.js';
import type { PropertyDefinition, PropertySource, PropertyType } from './property.js';

/**
 * The tenant's property registry: each property's type. Names are unique per tenant,
 * case-insensitively (the sort key is the lower-cased name). Sources register properties
 * they see for the first time as `string`; an admin may declare a type first, or change it
 * while no user holds a value of it.
 */
export class PropertyRegistry {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async types(tenantId: string): Promise<Map<string, PropertyType>> {
    const types = new Map<string, PropertyType>();
    const pages = paginateQuery(
      { client: this.client },
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': propertyPartition(tenantId) },
        ProjectionExpression: '#name, #type',
        ExpressionAttributeNames: { '#name': 'name', '#type': 'type' },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) for (const item of page.Items ?? []) types.set(item.name as string, item.type as PropertyType);
    return types;
  }

  /**
   * Registers every name not yet known as `string` (or as `suggested` says: a PostgreSQL
   * `integer` column registers a `number`), and marks the names as holding values
   * (which freezes their type). Returns the type of each name (an existing registration,
   * possibly made concurrently by another writer, wins).
   */
  async ensure(
    tenantId: string,
    names: string[],
    source: PropertySource,
    known?: Map<string, PropertyType>,
    suggested?: ReadonlyMap<string, PropertyType>,
  ): Promise<Map<string, PropertyType>> {
    const types = new Map(known ?? (await this.types(tenantId)));
    for (const name of names) {
      if (types.has(name)) continue;
      const type = suggested?.get(name) ?? 'string';
      const created = await this.put(tenantId, { name, type, source, createdAt: new Date().toISOString() }, true);
      types.set(name, created ? type : ((await this.get(tenantId, name))?.type ?? 'string'));
    }
    await Promise.all(names.map((name) => this.markHasValues(tenantId, name)));
    return types;
  }

  /** `POST /properties`: declare a property (201), repeat it (200), or change an unused one's type (200). */
  async define(tenantId: string, name: string, type: PropertyType): Promise<{ created: boolean; property: PropertyDefinition }> {
    const problem = validatePropertyName(name);
    if (problem) throw new ValidationError(`invalid property name "${name}": ${problem}`, [{ field: 'body.name', message: problem }]);
    const property: PropertyDefinition = { name, type, source: 'api', createdAt: new Date().toISOString() };
    if (await this.put(tenantId, property, false)) return { created: true, property };
    const current = await this.get(tenantId, name);
    if (!current) throw new ConflictError(`property "${name}" changed concurrently; retry`);
    if (current.name !== name) {
      throw new ConflictError(`a property named "${current.name}" already exists (names are unique regardless of case)`);
    }
    if (current.type === type) return { created: false, property: current };
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: propertyPartition(tenantId), sk: name.toLowerCase() },
          UpdateExpression: 'SET #type = :type',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(hasValues) OR hasValues = :false)',
          ExpressionAttributeNames: { '#type': 'type' },
          ExpressionAttributeValues: { ':type': type, ':false': false },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new ConflictError(
          `property "${name}" is a ${current.type} and users already hold values of it: its type cannot change to ${type} ` +
            '(values would no longer match their type); create a new property instead',
        );
      }
      throw error;
    }
    return { created: false, property: { ...current, type } };
  }

  private async get(tenantId: string, name: string): Promise<(PropertyDefinition & { hasValues?: boolean }) | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: propertyPartition(tenantId), sk: name.toLowerCase() }, ConsistentRead: true }),
    );
    return Item as (PropertyDefinition & { hasValues?: boolean }) | undefined;
  }

  private async put(tenantId: string, property: PropertyDefinition, hasValues: boolean): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: propertyPartition(tenantId), sk: property.name.toLowerCase(), ...property, hasValues },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  private async markHasValues(tenantId: string, name: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: propertyPartition(tenantId), sk: name.toLowerCase() },
          UpdateExpression: 'SET hasValues = :true',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(hasValues) OR hasValues = :false)',
          ExpressionAttributeValues: { ':true': true, ':false': false },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}
