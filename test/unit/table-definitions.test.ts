import { describe, expect, it } from 'vitest';
import { createTableInput, tableDefinitions, usersTable } from '../../shared/storage/table-definitions.js';

describe('table definitions', () => {
  it('turn into CreateTable requests with every key attribute defined once', () => {
    for (const definition of tableDefinitions) {
      const input = createTableInput(definition, `t-${definition.id}`);
      const defined = input.AttributeDefinitions!.map((a) => a.AttributeName);
      expect(new Set(defined).size).toBe(defined.length);
      const used = [
        ...input.KeySchema!.map((k) => k.AttributeName),
        ...(input.GlobalSecondaryIndexes ?? []).flatMap((index) => index.KeySchema!.map((k) => k.AttributeName)),
      ];
      expect(new Set(used)).toEqual(new Set(defined));
      expect(input.BillingMode).toBe('PAY_PER_REQUEST');
    }
  });

  it('list users through a sharded index, not a tenant-wide partition key', () => {
    const index = usersTable.globalSecondaryIndexes.find((i) => i.indexName === 'byTenantShard');
    expect(index?.partitionKey.name).toBe('shard');
    expect(usersTable.partitionKey.name).toBe('pk');
  });
});
