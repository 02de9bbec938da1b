import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * The DynamoDB tables: ONE source of truth for key schemas and indexes. The CDK storage
 * construct (infra/constructs/storage.ts) and the test harness / local stack
 * (`createTableInput`) both build their tables from these definitions.
 *
 * Every key starts with the tenant ID, so no query of one tenant can reach another's items.
 * No key is shared by all of one tenant's writes: a single partition takes ~1,000 write
 * units/s, so a tenant-wide key would throttle a large import.
 */
export type KeyType = 'S' | 'N';

export interface KeyAttribute {
  name: string;
  type: KeyType;
}

export interface IndexDefinition {
  indexName: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  /** `ALL`, `KEYS_ONLY`, or the non-key attributes to project. */
  projection: 'ALL' | 'KEYS_ONLY' | string[];
}

export interface TableDefinition {
  /** Construct ID in the stack, and the suffix of the table's local name. */
  id: 'Control' | 'Users' | 'Events';
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  globalSecondaryIndexes: IndexDefinition[];
  /** Attribute holding an epoch-seconds expiry (DynamoDB TTL), if the table uses one. */
  timeToLiveAttribute?: string;
}

/**
 * Control: tenants, API keys, property registry, import/export jobs, integration settings
 * and run records: low-volume items, each partition keyed by tenant and kind.
 *   pk = `TENANT#<tenantId>`, sk = `PROFILE`              the tenant
 *   pk = `TENANT#<tenantId>`, sk = `APIKEY#<keyId>`       a key's metadata (hash, revokedAt)
 *   pk = `APIKEY#<sha256(key)>`, sk = `APIKEY`            the authorizer's lookup: hash → tenant
 *   pk = `TENANTS`, sk = `TENANT#<tenantId>`              the operator's tenant list (a handful of items)
 *   pk = `TENANT#<tenantId>#PROPERTIES`, sk = `<name>`    the property registry
 *   pk = `TENANT#<tenantId>#INTEGRATIONS`, sk = `<kind>`  an integration's settings (no secrets), watermark and run lock
 *   pk = `TENANT#<tenantId>#RUNS#<kind>`, sk = `<runId>`  run history, newest last by ID (kept 90 days)
 *   pk = `TENANT#<tenantId>#RATE`, sk = `<group>#<minute>` the per-tenant rate-limit counters (kept an hour)
 * Each tenant's integration and run items are one partition per tenant and kind: a run
 * writes there a few times a minute at most, far below one partition's limits.
 * `expiresAt` (TTL) removes short-lived items such as run records, counters and OAuth states.
 */
export const controlTable: TableDefinition = {
  id: 'Control',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalSecondaryIndexes: [],
  timeToLiveAttribute: 'expiresAt',
};

/**
 * Users: one partition per user and one per lookup value, so an import of a million users
 * spreads over a million partitions.
 *   pk = `<tenantId>#U#<userId>`,     sk = `USER`   the profile and its properties
 *   pk = `<tenantId>#E#<email>`,      sk = `EMAIL`  email → userId (conditional put = uniqueness)
 *   pk = `<tenantId>#X#<externalId>`, sk = `XID`    external ID → userId (same rule)
 * Listing a tenant's users uses the `byTenantShard` index: each profile carries
 * `shard = <tenantId>#<nn>` (nn = a hash of the userId over 32 shards) and `userId`, so the
 * index spreads one tenant's writes over 32 partitions, and a list pages shard by shard.
 */
export const USER_LIST_SHARDS = 32;
export const usersTable: TableDefinition = {
  id: 'Users',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalSecondaryIndexes: [
    {
      indexName: 'byTenantShard',
      partitionKey: { name: 'shard', type: 'S' },
      sortKey: { name: 'userId', type: 'S' },
      projection: 'ALL',
    },
  ],
};

/**
 * Events: a user's timeline is one partition, newest first by sort key.
 *   pk = `<tenantId>#<userId>`, sk = `<occurredAt ISO>#<eventId>`
 * Exports by type and time range use the `byTypeDay` index without touching other tenants
 * or types: `typeBucket = <tenantId>#<type>#<YYYY-MM-DD>#<nn>` with nn a write shard
 * (0–15, from the eventId), sort key `occurredAt`. A day bucket bounds a range read; the
 * write shard keeps a tenant sending 10,000 events/s of one type under the ~1,000 writes/s
 * a single index partition takes (16 shards ≈ 16,000/s).
 *   pk = `<tenantId>#TYPES`, sk = `<type>#<YYYY-MM-DD>`   a marker per (type, day) holding events,
 * written once per process with the first such event, so an export of all types or of a long
 * range visits only the buckets that exist (no scan, no walk over empty days). Markers carry
 * no `typeBucket`, so they stay out of the index.
 *   pk = `<tenantId>#EVENTID#<eventId>`, sk = `CLAIM`   the claim of a client-chosen eventId
 * (POST /events), written in one transaction with its event, so a repeated eventId is stored
 * once whatever its `occurredAt`; one partition per ID, no index, deleted with the user's events.
 */
export const EVENT_TYPE_SHARDS = 16;
export const eventsTable: TableDefinition = {
  id: 'Events',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalSecondaryIndexes: [
    {
      indexName: 'byTypeDay',
      partitionKey: { name: 'typeBucket', type: 'S' },
      sortKey: { name: 'occurredAt', type: 'S' },
      projection: 'ALL',
    },
  ],
};

export const tableDefinitions = [controlTable, usersTable, eventsTable] as const;

/** Table names the local stack and tests use (deployed names come from CloudFormation). */
export function localTableName(definition: TableDefinition, prefix = 'roster'): string {
  return `${prefix}-${definition.id.toLowerCase()}`;
}

/** The CreateTable request for a definition: used by the test harness and the local stack. */
export function createTableInput(definition: TableDefinition, tableName: string): CreateTableCommandInput {
  const attributes = new Map<string, KeyType>();
  const keySchema = (pk: KeyAttribute, sk?: KeyAttribute) => {
    attributes.set(pk.name, pk.type);
    if (sk) attributes.set(sk.name, sk.type);
    return [
      { AttributeName: pk.name, KeyType: 'HASH' as const },
      ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' as const }] : []),
    ];
  };
  const tableKeys = keySchema(definition.partitionKey, definition.sortKey);
  const indexes = definition.globalSecondaryIndexes.map((index) => ({
    IndexName: index.indexName,
    KeySchema: keySchema(index.partitionKey, index.sortKey),
    Projection:
      typeof index.projection === 'string'
        ? { ProjectionType: index.projection }
        : { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: index.projection },
  }));
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: tableKeys,
    AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
    ...(indexes.length > 0 ? { GlobalSecondaryIndexes: indexes } : {}),
  };
}
