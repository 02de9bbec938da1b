import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../infra/local/dynamodb-local.js';
import { freePort } from '../../infra/local/free-port.js';
import { LOCAL_REGION, localCredentials } from '../../infra/local/local-settings.js';
import { ensureBucket, ensureTables } from '../../infra/local/provision.js';
import { startS3Local } from '../../infra/local/s3-local.js';
import { TEST_BUCKET, testTableName } from './test-resources.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    s3Endpoint: string;
  }
}

/**
 * Once per test run: DynamoDB Local (in memory) and s3rver on free ports, with the stack's
 * tables (from shared/storage/table-definitions.ts, as the CDK stack builds them) and bucket.
 */
export default async function setup(project: TestProject) {
  const s3Directory = mkdtempSync(join(tmpdir(), 'roster-test-s3-'));
  const stops: Array<() => Promise<void>> = [async () => rmSync(s3Directory, { recursive: true, force: true })];
  const teardown = async () => {
    for (const stop of stops.reverse()) await stop();
  };
  try {
    const dynamo = await startDynamoDbLocal({ port: await freePort() });
    stops.push(dynamo.stop);
    const s3 = await startS3Local({ port: await freePort(), directory: s3Directory });
    stops.push(s3.stop);

    const dynamoClient = new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: localCredentials });
    const s3Client = new S3Client({ endpoint: s3.endpoint, region: LOCAL_REGION, credentials: localCredentials, forcePathStyle: true });
    await ensureTables(dynamoClient, testTableName);
    await ensureBucket(s3Client, TEST_BUCKET);
    dynamoClient.destroy();
    s3Client.destroy();

    project.provide('dynamoEndpoint', dynamo.endpoint);
    project.provide('s3Endpoint', s3.endpoint);
  } catch (error) {
    // Never leave a Java process behind when the harness cannot start.
    await teardown();
    throw error;
  }
  return teardown;
}
