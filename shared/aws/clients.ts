import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { processSingleton } from '../runtime/process-singleton.js';
import { DynamoJsonTransport } from './dynamo-json-transport.js';

/**
 * AWS clients, created once per process on first use and reused by every invocation.
 * Endpoints come from the SDK's standard variables (`AWS_ENDPOINT_URL_DYNAMODB`,
 * `AWS_ENDPOINT_URL_S3`, …), which the local stack and the test harness set to their
 * servers; deployed, they are unset and the SDK talks to AWS.
 */
// Kept per process on `globalThis` (processSingleton), so a lazily loaded chunk reuses them too.
function dynamoClient(): DynamoDBClient {
  return processSingleton('dynamodb', () => new DynamoDBClient({ maxAttempts: 8 }));
}

/** The lean sender of the hot batch path (see dynamo-json-transport.ts), sharing the client's credentials. */
export function dynamoBatchTransport(): DynamoJsonTransport {
  return processSingleton('dynamodb-batch', () => new DynamoJsonTransport(dynamoClient(), { maxAttempts: 8 }));
}

export function dynamoDocumentClient(): DynamoDBDocumentClient {
  return processSingleton('dynamodb-document', () =>
    DynamoDBDocumentClient.from(dynamoClient(), {
      marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
      // Numbers come back as JS numbers, like the batch path reads them: a property beyond 2^53
      // (bigint, numeric, 1e20) reads with its double's precision, not as a BigInt that JSON cannot write.
      unmarshallOptions: { wrapNumbers: (value: string) => Number(value) },
    }),
  );
}

export function s3Client(): S3Client {
  // A local S3 stand-in has no virtual-host DNS, so it needs path-style addressing.
  // Checksums only where S3 requires them: by default (SDK 3.729+) a presigned PUT carries the
  // CRC32 of the empty body it was signed with (`x-amz-checksum-crc32=AAAAAA==`), and real S3
  // refuses every upload of an actual file through that URL (aws-sdk-js-v3#6994).
  return processSingleton(
    's3',
    () => new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3), requestChecksumCalculation: 'WHEN_REQUIRED' }),
  );
}

export function secretsManagerClient(): SecretsManagerClient {
  return processSingleton('secrets-manager', () => new SecretsManagerClient({}));
}

export function schedulerClient(): SchedulerClient {
  return processSingleton('scheduler', () => new SchedulerClient({}));
}

export function lambdaClient(): LambdaClient {
  return processSingleton('lambda', () => new LambdaClient({}));
}
