import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoJsonTransport } from './dynamo-json-transport.js';

/**
 * AWS clients, created once per process on first use and reused by every invocation.
 * Endpoints come from the SDK's standard variables (`AWS_ENDPOINT_URL_DYNAMODB`,
 * `AWS_ENDPOINT_URL_S3`, …), which the local stack and the test harness set to their
 * servers; deployed, they are unset and the SDK talks to AWS.
 */
let dynamoRaw: DynamoDBClient | undefined;
let dynamo: DynamoDBDocumentClient | undefined;
let dynamoBatch: DynamoJsonTransport | undefined;
let s3: S3Client | undefined;
let secrets: SecretsManagerClient | undefined;
let scheduler: SchedulerClient | undefined;
let lambda: LambdaClient | undefined;

function dynamoClient(): DynamoDBClient {
  dynamoRaw ??= new DynamoDBClient({ maxAttempts: 8 });
  return dynamoRaw;
}

/** The lean sender of the hot batch path (see dynamo-json-transport.ts), sharing the client's credentials. */
export function dynamoBatchTransport(): DynamoJsonTransport {
  dynamoBatch ??= new DynamoJsonTransport(dynamoClient(), { maxAttempts: 8 });
  return dynamoBatch;
}

export function dynamoDocumentClient(): DynamoDBDocumentClient {
  dynamo ??= DynamoDBDocumentClient.from(dynamoClient(), {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
  return dynamo;
}

export function s3Client(): S3Client {
  // A local S3 stand-in has no virtual-host DNS, so it needs path-style addressing.
  s3 ??= new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3) });
  return s3;
}

export function secretsManagerClient(): SecretsManagerClient {
  secrets ??= new SecretsManagerClient({});
  return secrets;
}

export function schedulerClient(): SchedulerClient {
  scheduler ??= new SchedulerClient({});
  return scheduler;
}

export function lambdaClient(): LambdaClient {
  lambda ??= new LambdaClient({});
  return lambda;
}
