import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from './nag.js';
import {
  tableDefinitions,
  type IndexDefinition,
  type KeyAttribute,
  type TableDefinition,
} from '../../shared/storage/table-definitions.js';

export type TableId = TableDefinition['id'];

export interface StorageProps {
  /** Origins allowed to PUT (presigned uploads) and GET objects from a browser. */
  corsOrigins: string[];
}

/** The bucket's key prefixes (shared/imports writes `uploads/`, exports go to `exports/`). */
export const bucketPrefixes = {
  uploads: 'uploads/',
  exports: 'exports/',
  errors: 'errors/',
} as const;

const attribute = (key: KeyAttribute): dynamodb.Attribute => ({
  name: key.name,
  type: key.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
});

function globalIndex(index: IndexDefinition): dynamodb.GlobalSecondaryIndexPropsV2 {
  const projection =
    index.projection === 'ALL'
      ? { projectionType: dynamodb.ProjectionType.ALL }
      : index.projection === 'KEYS_ONLY'
        ? { projectionType: dynamodb.ProjectionType.KEYS_ONLY }
        : { projectionType: dynamodb.ProjectionType.INCLUDE, nonKeyAttributes: index.projection };
  return {
    indexName: index.indexName,
    partitionKey: attribute(index.partitionKey),
    ...(index.sortKey ? { sortKey: attribute(index.sortKey) } : {}),
    ...projection,
  };
}

/**
 * The DynamoDB tables (built from `tableDefinitions`, the one source of truth for keys and
 * indexes) and the data bucket (uploads, exports, error reports).
 */
export class Storage extends Construct {
  readonly tables: Record<TableId, dynamodb.TableV2>;
  readonly bucket: s3.Bucket;
  /** Where the data bucket's server access logs go. */
  readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);

    const tables: Partial<Record<TableId, dynamodb.TableV2>> = {};
    for (const definition of tableDefinitions) {
      tables[definition.id] = new dynamodb.TableV2(this, `${definition.id}Table`, {
        partitionKey: attribute(definition.partitionKey),
        ...(definition.sortKey ? { sortKey: attribute(definition.sortKey) } : {}),
        globalSecondaryIndexes: definition.globalSecondaryIndexes.map(globalIndex),
        ...(definition.timeToLiveAttribute ? { timeToLiveAttribute: definition.timeToLiveAttribute } : {}),
        billing: dynamodb.Billing.onDemand(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
        deletionProtection: true,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    }
    this.tables = tables as Record<TableId, dynamodb.TableV2>;

    // Server access logs of the data bucket (who read or wrote which tenant object), kept a year.
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365) }],
    });
    acknowledge(this.accessLogsBucket, 'AwsSolutions::AwsSolutions-S1', 'This is the access-log bucket of the data bucket; logging it into itself would recurse.');

    this.bucket = new s3.Bucket(this, 'DataBucket', {
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'data-bucket/',
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'expire-uploads', prefix: bucketPrefixes.uploads, expiration: Duration.days(7) },
        { id: 'expire-exports', prefix: bucketPrefixes.exports, expiration: Duration.days(7) },
        { id: 'expire-errors', prefix: bucketPrefixes.errors, expiration: Duration.days(30) },
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      cors: [
        {
          allowedMethods: [s3.HttpMethods.PUT, s3.HttpMethods.GET],
          allowedOrigins: props.corsOrigins,
          allowedHeaders: ['*'],
          exposedHeaders: ['ETag'],
          maxAge: 3600,
        },
      ],
    });
  }
}
