import { randomBytes } from 'node:crypto';
import { paginateQuery } from '@aws-sdk/lib-dynamodb';
import { dynamoDocumentClient } from '../../shared/aws/clients.js';
import { defaultImportRunSettings, runCsvImport, type ContinuationRequest, type ImportRunSettings } from '../../shared/imports/csv-import-run.js';
import { createImport, type CreateImportInput } from '../../shared/imports/import-service.js';
import { uploadKey } from '../../shared/imports/upload-key.js';
import { USER_LIST_SHARDS } from '../../shared/storage/table-definitions.js';
import { toProfile } from '../../shared/users/dynamo-user-store.js';
import { userKeys, type UserProfile } from '../../shared/users/user.js';
import type { UserStore, UserWriteSet } from '../../shared/users/user-store.js';
import { blobStore, importStore, propertyRegistry, userStore } from '../../shared/wiring/stores.js';
import { TEST_BUCKET, testTables } from './test-resources.js';

/** Runs imports in-process against DynamoDB Local and s3rver, as the S3-triggered importer would. */
export const env = { ...testTables, DATA_BUCKET: TEST_BUCKET };
export const imports = importStore(env);
export const blobs = blobStore(env);
export const registry = propertyRegistry(env);

export const uniqueTenant = (prefix = 't') => `${prefix}-${randomBytes(5).toString('hex')}`;

/** A user store that counts the items each write sends (an unchanged user must cost none). */
export class CountingUserStore implements UserStore {
  writtenItems = 0;
  private readonly inner = userStore(env);
  getProfiles(tenantId: string, userIds: string[]) {
    return this.inner.getProfiles(tenantId, userIds);
  }
  findUserIdsByEmail(tenantId: string, emails: string[]) {
    return this.inner.findUserIdsByEmail(tenantId, emails);
  }
  findUserIdsByExternalId(tenantId: string, externalIds: string[]) {
    return this.inner.findUserIdsByExternalId(tenantId, externalIds);
  }
  async write(tenantId: string, writes: UserWriteSet) {
    this.writtenItems += writes.profiles.length + writes.emailClaims.length + writes.events.length;
    await this.inner.write(tenantId, writes);
  }
}

export interface ImportOptions extends Omit<CreateImportInput, 'csv'> {
  users?: UserStore;
  settings?: Partial<ImportRunSettings>;
  /** Remaining time the fake invocation reports (ms). */
  remainingMs?: () => number;
  maxUploadBytes?: number;
}

/** Creates an import, uploads `content`, and runs the importer (following continuations) to the end. */
export async function importFile(tenantId: string, content: string | Buffer, options: ImportOptions = {}) {
  const { users = userStore(env), settings, remainingMs = () => 15 * 60_000, maxUploadBytes = 5 * 1024 ** 3, ...input } = options;
  const created = await createImport({ imports, blobs, maxUploadBytes }, tenantId, input);
  const importId = created.body.importId;
  const body = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  await blobs.put(uploadKey(tenantId, importId), body, 'text/csv');
  const continuations: ContinuationRequest[] = [];
  const deps = { imports, users, registry, blobs, continueLater: async (request: ContinuationRequest) => void continuations.push(request) };
  const runSettings = { ...defaultImportRunSettings, ...settings };
  const results = [await runCsvImport(deps, { kind: 'upload', tenantId, importId, size: body.length, sequencer: 'seq-1' }, remainingMs, runSettings)];
  while (continuations.length > 0) {
    results.push(await runCsvImport(deps, continuations.shift()!, remainingMs, runSettings));
  }
  const record = (await imports.get(tenantId, importId))!;
  return { importId, record, results, invocations: results.length, deps, size: body.length };
}

/** Every user of a tenant, read through the sharded list index. */
export async function allUsers(tenantId: string): Promise<UserProfile[]> {
  const users: UserProfile[] = [];
  for (let shard = 0; shard < USER_LIST_SHARDS; shard += 1) {
    const pages = paginateQuery(
      { client: dynamoDocumentClient() },
      {
        TableName: testTables.USERS_TABLE,
        IndexName: 'byTenantShard',
        KeyConditionExpression: '#shard = :shard',
        ExpressionAttributeNames: { '#shard': 'shard' },
        ExpressionAttributeValues: { ':shard': userKeys.shardKey(tenantId, shard) },
      },
    );
    for await (const page of pages) users.push(...(page.Items ?? []).map(toProfile));
  }
  return users;
}

export async function userByEmail(tenantId: string, email: string): Promise<UserProfile | undefined> {
  return (await allUsers(tenantId)).find((user) => user.email === email);
}
