import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { RosterFunction, repoRoot } from '../../infra/constructs/roster-function.js';
import { SyncScheduling } from '../../infra/constructs/sync-scheduling.js';
import { RosterStack } from '../../infra/roster-stack.js';
import {
  apiEnvironment,
  authorizerEnvironment,
  csvImportEnvironment, exportEnvironment, postgresSyncEnvironment, salesforceSyncEnvironment,
} from '../../shared/config/function-environments.js';
import { allApiRoutes } from '../../shared/http/api-contract.js';
import { routeKey } from '../../shared/http/route-spec.js';
import { tableDefinitions, type KeyAttribute } from '../../shared/storage/table-definitions.js';

type Resource = { Type: string; Properties: any; DeletionPolicy?: string; Metadata?: any };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

const STACK_NAME = 'RosterTest';
const ORIGIN = 'https://app.example.com';
// The same feature flags as `cdk synth` (cdk.json), so the template under test is the deployed one.
const cdkContext = JSON.parse(readFileSync(path.join(repoRoot, 'cdk.json'), 'utf8')).context as Record<string, unknown>;

let app: App;
let stack: RosterStack;
let template: Template;

beforeAll(() => {
  app = new App({ context: cdkContext });
  // Bundles the three handlers with the local esbuild: proves they bundle.
  stack = new RosterStack(app, STACK_NAME, { stackName: STACK_NAME, corsOrigins: [ORIGIN] });
  template = Template.fromStack(stack);
});

afterAll(() => {
  if (app?.outdir && existsSync(app.outdir)) rmSync(app.outdir, { recursive: true, force: true });
});

const logicalId = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const resourcesOf = (type: string) => template.findResources(type) as Record<string, Resource>;
const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const getAtt = (id: string, attribute = 'Arn') => ({ 'Fn::GetAtt': [id, attribute] });

function ourFunctions() {
  return [
    { fn: stack.apiFunction, schema: apiEnvironment as z.ZodObject, name: 'api' },
    { fn: stack.authorizerFunction, schema: authorizerEnvironment as z.ZodObject, name: 'authorizer' },
    { fn: stack.csvImportFunction, schema: csvImportEnvironment as z.ZodObject, name: 'csv-import' },
    { fn: stack.exportFunction, schema: exportEnvironment as z.ZodObject, name: 'export' },
    { fn: stack.postgresSyncFunction, schema: postgresSyncEnvironment as z.ZodObject, name: 'postgres-sync' },
    { fn: stack.salesforceSyncFunction, schema: salesforceSyncEnvironment as z.ZodObject, name: 'salesforce-sync' },
  ];
}

describe('DynamoDB tables', () => {
  const keySchema = (pk: KeyAttribute, sk?: KeyAttribute) => [
    { AttributeName: pk.name, KeyType: 'HASH' },
    ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' }] : []),
  ];

  it('creates exactly one table per definition', () => {
    const tables = resourcesOf('AWS::DynamoDB::GlobalTable');
    expect(Object.keys(tables)).toHaveLength(tableDefinitions.length);
    expect(resourcesOf('AWS::DynamoDB::Table')).toEqual({});
    const ids = tableDefinitions.map((definition) => logicalId(stack.storage.tables[definition.id]));
    expect(Object.keys(tables).sort()).toEqual([...ids].sort());
  });

  it.each(tableDefinitions.map((definition) => [definition.id, definition] as const))(
    '%s: keys, indexes and TTL equal its definition',
    (_id, definition) => {
      const table = resourcesOf('AWS::DynamoDB::GlobalTable')[logicalId(stack.storage.tables[definition.id])];
      expect(table).toBeDefined();
      const props = table!.Properties;
      expect(props.KeySchema).toEqual(keySchema(definition.partitionKey, definition.sortKey));

      const keys = [definition.partitionKey, definition.sortKey, ...definition.globalSecondaryIndexes.flatMap((i) => [i.partitionKey, i.sortKey])];
      const expectedAttributes = new Map(keys.filter((k) => k !== undefined).map((k) => [k.name, k.type]));
      const byName = (a: { AttributeName: string }, b: { AttributeName: string }) => a.AttributeName.localeCompare(b.AttributeName);
      expect([...props.AttributeDefinitions].sort(byName)).toEqual(
        [...expectedAttributes].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })).sort(byName),
      );

      const expectedIndexes = definition.globalSecondaryIndexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: keySchema(index.partitionKey, index.sortKey),
        Projection:
          typeof index.projection === 'string'
            ? { ProjectionType: index.projection }
            : { ProjectionType: 'INCLUDE', NonKeyAttributes: index.projection },
      }));
      expect(props.GlobalSecondaryIndexes ?? []).toEqual(expectedIndexes);

      expect(props.TimeToLiveSpecification).toEqual(
        definition.timeToLiveAttribute ? { AttributeName: definition.timeToLiveAttribute, Enabled: true } : undefined,
      );
    },
  );

  it('every table is on-demand, encrypted, point-in-time recoverable, protected and retained', () => {
    const tables = Object.values(resourcesOf('AWS::DynamoDB::GlobalTable'));
    expect(tables).toHaveLength(3);
    for (const table of tables) {
      expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
      expect(table.Properties.SSESpecification).toMatchObject({ SSEEnabled: true });
      expect(table.Properties.Replicas.length).toBeGreaterThan(0);
      for (const replica of table.Properties.Replicas) {
        expect(replica.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
        expect(replica.DeletionProtectionEnabled).toBe(true);
      }
      expect(table.DeletionPolicy).toBe('Retain');
    }
  });
});

describe('data bucket', () => {
  const dataBucket = () => resourcesOf('AWS::S3::Bucket')[logicalId(stack.storage.bucket)]!;

  it('the data bucket and its access-log bucket: both block public access, are encrypted, owner-enforced and retained', () => {
    const buckets = resourcesOf('AWS::S3::Bucket');
    expect(Object.keys(buckets).sort()).toEqual([logicalId(stack.storage.bucket), logicalId(stack.storage.accessLogsBucket)].sort());
    for (const bucket of Object.values(buckets)) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ]);
      expect(bucket.Properties.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
      expect(bucket.DeletionPolicy).toBe('Retain');
    }
  });

  it('logs every access to the data bucket into the access-log bucket (by bucket policy, no ACLs), kept a year', () => {
    expect(dataBucket().Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logicalId(stack.storage.accessLogsBucket) },
      LogFilePrefix: 'data-bucket/',
    });
    const logs = resourcesOf('AWS::S3::Bucket')[logicalId(stack.storage.accessLogsBucket)]!;
    expect(logs.Properties.LifecycleConfiguration.Rules).toContainEqual(expect.objectContaining({ Status: 'Enabled', ExpirationInDays: 365 }));
    const policy = Object.values(resourcesOf('AWS::S3::BucketPolicy')).find((candidate) => candidate.Properties.Bucket.Ref === logicalId(stack.storage.accessLogsBucket))!;
    expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Allow', Action: 's3:PutObject', Principal: { Service: 'logging.s3.amazonaws.com' } }),
    );
  });

  it('denies every request not over TLS, on both buckets', () => {
    const policies = Object.values(resourcesOf('AWS::S3::BucketPolicy'));
    expect(policies.map((policy) => policy.Properties.Bucket.Ref).sort()).toEqual([logicalId(stack.storage.bucket), logicalId(stack.storage.accessLogsBucket)].sort());
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 's3:*',
          Principal: { AWS: '*' },
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });

  it('expires uploads/ and exports/ after 7 days, errors/ after 30, stale multipart uploads after 1', () => {
    const rules = dataBucket().Properties.LifecycleConfiguration.Rules as any[];
    const expiryOf = (prefix: string) => rules.find((rule) => rule.Prefix === prefix && rule.Status === 'Enabled')?.ExpirationInDays;
    expect(expiryOf('uploads/')).toBe(7);
    expect(expiryOf('exports/')).toBe(7);
    expect(expiryOf('errors/')).toBe(30);
    expect(rules).toContainEqual(
      expect.objectContaining({ Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
    );
  });

  it('allows browser PUT and GET from the configured origins only', () => {
    const cors = dataBucket().Properties.CorsConfiguration.CorsRules as any[];
    expect(cors).toHaveLength(1);
    expect([...cors[0].AllowedMethods].sort()).toEqual(['GET', 'PUT']);
    expect(cors[0].AllowedOrigins).toEqual([ORIGIN]);
  });

  it('notifies the csv-import function of new uploads/*.csv objects, and only of those', () => {
    const notifications = Object.values(resourcesOf('Custom::S3BucketNotifications'));
    expect(notifications).toHaveLength(1);
    const config = notifications[0]!.Properties.NotificationConfiguration;
    expect(notifications[0]!.Properties.BucketName).toEqual({ Ref: logicalId(stack.storage.bucket) });
    expect(config.LambdaFunctionConfigurations).toHaveLength(1);
    const [target] = config.LambdaFunctionConfigurations;
    expect(target.LambdaFunctionArn).toEqual(getAtt(logicalId(stack.csvImportFunction)));
    expect(target.Events).toEqual(['s3:ObjectCreated:*']);
    const rules = Object.fromEntries((target.Filter.Key.FilterRules as { Name: string; Value: string }[]).map((r) => [r.Name, r.Value]));
    expect(rules).toEqual({ prefix: 'uploads/', suffix: '.csv' });
    // S3 may invoke the function.
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: getAtt(logicalId(stack.csvImportFunction)),
      Principal: 's3.amazonaws.com',
    });
  });
});

describe('HTTP API', () => {
  it('is one HTTP API with CORS preflight from the configured origins', () => {
    const apis = Object.values(resourcesOf('AWS::ApiGatewayV2::Api'));
    expect(apis).toHaveLength(1);
    const cors = apis[0]!.Properties.CorsConfiguration;
    expect(apis[0]!.Properties.ProtocolType).toBe('HTTP');
    expect(cors.AllowOrigins).toEqual([ORIGIN]);
    expect([...cors.AllowHeaders].sort()).toEqual(['authorization', 'content-type']);
    expect([...cors.AllowMethods].sort()).toEqual(['DELETE', 'GET', 'OPTIONS', 'PATCH', 'POST', 'PUT']);
  });

  it('has exactly one route per route spec, CUSTOM auth exactly on auth routes, and $default (authorized) for the rest', () => {
    const routes = Object.values(resourcesOf('AWS::ApiGatewayV2::Route'));
    expect(routes).toHaveLength(allApiRoutes.length + 1);
    const authorizerId = Object.keys(resourcesOf('AWS::ApiGatewayV2::Authorizer'))[0];
    const actual = Object.fromEntries(
      routes.map(({ Properties: route }) => [
        route.RouteKey as string,
        { AuthorizationType: route.AuthorizationType, AuthorizerId: route.AuthorizerId },
      ]),
    );
    const expected = Object.fromEntries([
      ...allApiRoutes.map((spec) => [
        routeKey(spec),
        spec.auth
          ? { AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizerId } }
          : { AuthorizationType: 'NONE', AuthorizerId: undefined },
      ]),
      // Unknown paths reach the function's router (a 404 in the API's error format); a trailing-slash variant of a route keeps its tenant.
      ['$default', { AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizerId } }],
    ]);
    expect(actual).toEqual(expected);
    expect(allApiRoutes.some((spec) => spec.auth)).toBe(true);
    expect(allApiRoutes.some((spec) => !spec.auth)).toBe(true);
  });

  it('sends every route to the API function with payload format 2.0', () => {
    const integrations = Object.entries(resourcesOf('AWS::ApiGatewayV2::Integration'));
    expect(integrations).toHaveLength(1);
    const [integrationId, integration] = integrations[0]!;
    expect(integration.Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
    expect(JSON.stringify(integration.Properties.IntegrationUri)).toContain(logicalId(stack.apiFunction));
    for (const route of Object.values(resourcesOf('AWS::ApiGatewayV2::Route'))) {
      expect(JSON.stringify(route.Properties.Target)).toContain(integrationId);
    }
  });

  it('authorizes with a REQUEST authorizer called for every request (no identity source, no gateway cache); the function caches keys ≤ 60 s', () => {
    const authorizers = Object.values(resourcesOf('AWS::ApiGatewayV2::Authorizer'));
    expect(authorizers).toHaveLength(1);
    const props = authorizers[0]!.Properties;
    expect(props.AuthorizerType).toBe('REQUEST');
    expect(props.EnableSimpleResponses).toBe(true);
    expect(props.AuthorizerPayloadFormatVersion).toBe('2.0');
    // With an identity source, a request without the header would get API Gateway's bare 401, not the API's error format.
    expect(props.IdentitySource ?? []).toEqual([]);
    expect(props.AuthorizerResultTtlInSeconds).toBe(0);
    expect(JSON.stringify(props.AuthorizerUri)).toContain(logicalId(stack.authorizerFunction));
    const cacheSeconds = Number(resourcesOf('AWS::Lambda::Function')[logicalId(stack.authorizerFunction)]!.Properties.Environment.Variables.API_KEY_CACHE_SECONDS);
    expect(cacheSeconds).toBeGreaterThan(0);
    expect(cacheSeconds).toBeLessThanOrEqual(60);
  });

  it('has a throttled $default stage with access logs kept for a limited time', () => {
    const stages = Object.values(resourcesOf('AWS::ApiGatewayV2::Stage'));
    expect(stages).toHaveLength(1);
    const props = stages[0]!.Properties;
    expect(props.StageName).toBe('$default');
    expect(props.AutoDeploy).toBe(true);
    expect(props.DefaultRouteSettings.ThrottlingRateLimit).toBeGreaterThan(0);
    expect(props.DefaultRouteSettings.ThrottlingBurstLimit).toBeGreaterThan(0);
    const logGroupId = props.AccessLogSettings.DestinationArn['Fn::GetAtt'][0] as string;
    expect(resourcesOf('AWS::Logs::LogGroup')[logGroupId]?.Properties.RetentionInDays).toBeGreaterThan(0);
    expect(() => JSON.parse(props.AccessLogSettings.Format)).not.toThrow();
  });

  it('throttles the expensive routes tighter than the stage, and creates the stage after those routes', () => {
    const [stageId, stage] = Object.entries(resourcesOf('AWS::ApiGatewayV2::Stage'))[0]!;
    const expensive = allApiRoutes.filter((route) => route.throttle);
    expect(expensive.map((route) => route.operationId).sort()).toEqual(['connectSalesforce', 'createExport', 'createImport', 'previewPostgres', 'startIntegrationRun']);
    expect(Object.keys(stage.Properties.RouteSettings).sort()).toEqual(expensive.map((route) => routeKey(route)).sort());
    for (const route of expensive) {
      const settings = stage.Properties.RouteSettings[routeKey(route)];
      expect(settings).toEqual({ ThrottlingRateLimit: route.throttle!.rateLimit, ThrottlingBurstLimit: route.throttle!.burstLimit });
      expect(settings.ThrottlingRateLimit).toBeLessThan(stage.Properties.DefaultRouteSettings.ThrottlingRateLimit);
    }
    const routeIds = Object.entries(resourcesOf('AWS::ApiGatewayV2::Route'))
      .filter(([, route]) => expensive.some((spec) => routeKey(spec) === route.Properties.RouteKey))
      .map(([id]) => id);
    expect(routeIds).toHaveLength(expensive.length);
    expect((template.toJSON().Resources[stageId].DependsOn as string[] | undefined) ?? []).toEqual(expect.arrayContaining(routeIds));
  });
});

describe('Lambda functions', () => {
  it('the stack has exactly our six functions besides CDK’s bucket-notification helper', () => {
    const functions = Object.keys(resourcesOf('AWS::Lambda::Function')).filter((id) => !id.startsWith('BucketNotificationsHandler'));
    expect(functions.sort()).toEqual(ourFunctions().map(({ fn }) => logicalId(fn)).sort());
  });

  it.each(['api', 'authorizer', 'csv-import', 'export', 'postgres-sync', 'salesforce-sync'])('%s: Node.js 22 on arm64, JSON logs into a retained-days log group, traced', (name) => {
    const { fn } = ourFunctions().find((entry) => entry.name === name)!;
    const props = resourcesOf('AWS::Lambda::Function')[logicalId(fn)]!.Properties;
    expect(props.Runtime).toBe('nodejs22.x');
    expect(props.Architectures).toEqual(['arm64']);
    expect(props.Handler).toBe('index.handler');
    expect(props.LoggingConfig).toMatchObject({ LogFormat: 'JSON', ApplicationLogLevel: 'INFO' });
    const logGroupId = props.LoggingConfig.LogGroup.Ref as string;
    expect(resourcesOf('AWS::Logs::LogGroup')[logGroupId]?.Properties.RetentionInDays).toBeGreaterThan(0);
    expect(props.TracingConfig).toEqual({ Mode: 'Active' });
    expect(props.Environment.Variables.NODE_OPTIONS).toContain('--enable-source-maps');
    expect(props.Environment.Variables.POWERTOOLS_SERVICE_NAME).toEqual(expect.any(String));
  });

  /** Variables only the local stack sets: deployed, the Salesforce app's credentials come from the platform secret. */
  const localOnly = new Set(['SALESFORCE_CLIENT_ID', 'SALESFORCE_CLIENT_SECRET']);

  it.each(['api', 'authorizer', 'csv-import', 'export', 'postgres-sync', 'salesforce-sync'])('%s: its environment has every variable of its schema (but the local-only ones)', (name) => {
    const { fn, schema } = ourFunctions().find((entry) => entry.name === name)!;
    const variables = resourcesOf('AWS::Lambda::Function')[logicalId(fn)]!.Properties.Environment.Variables;
    const required = Object.keys(schema.shape).filter((key) => !localOnly.has(key));
    for (const key of localOnly) expect(variables[key], `${key}`).toBeUndefined();
    expect(required.length).toBeGreaterThan(0);
    expect(Object.keys(variables)).toEqual(expect.arrayContaining(required));
  });

  it('points table and bucket variables at this stack’s resources', () => {
    const variables = resourcesOf('AWS::Lambda::Function')[logicalId(stack.apiFunction)]!.Properties.Environment.Variables;
    expect(variables).toMatchObject({
      CONTROL_TABLE: { Ref: logicalId(stack.storage.tables.Control) },
      USERS_TABLE: { Ref: logicalId(stack.storage.tables.Users) },
      EVENTS_TABLE: { Ref: logicalId(stack.storage.tables.Events) },
      DATA_BUCKET: { Ref: logicalId(stack.storage.bucket) },
      CORS_ORIGINS: ORIGIN,
    });
  });

  it('bundles each handler as an ESM module with a require shim and a source map', () => {
    const bundles = readdirSync(app.outdir)
      .filter((entry) => entry.startsWith('asset.') && existsSync(path.join(app.outdir, entry, 'index.mjs')))
      .map((entry) => path.join(app.outdir, entry));
    expect(bundles).toHaveLength(6);
    for (const dir of bundles) {
      expect(readFileSync(path.join(dir, 'index.mjs'), 'utf8').slice(0, 300)).toMatch(/createRequire.*import\.meta\.url/);
      expect(existsSync(path.join(dir, 'index.mjs.map'))).toBe(true);
    }
    // The functions that parse SQL carry libpg-query's WASM beside the bundle, and define __dirname for it.
    const withParser = bundles.filter((dir) => existsSync(path.join(dir, 'libpg-query.wasm')));
    expect(withParser).toHaveLength(2);
    for (const dir of withParser) expect(readFileSync(path.join(dir, 'index.mjs'), 'utf8').slice(0, 600)).toMatch(/const __dirname = /);
  });

  const bundleOf = (fn: RosterFunction) => {
    const key = resourcesOf('AWS::Lambda::Function')[logicalId(fn)]!.Properties.Code.S3Key as string;
    return path.join(app.outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs');
  };

  it('keeps the API bundle within 1 MB and every other bundle within 3 MB (cold starts; the bench times them)', () => {
    for (const { fn, name } of ourFunctions()) {
      expect(statSync(bundleOf(fn)).size, `${name} bundle`).toBeLessThanOrEqual((fn === stack.apiFunction ? 1 : 3) * 1024 * 1024);
    }
  });

  it("builds the API's integration modules as chunks of their own: neither jsforce nor pg is in the bundle a cold start loads", () => {
    const api = readFileSync(bundleOf(stack.apiFunction), 'utf8');
    expect(api).not.toContain('jsforce_state');
    expect(api).not.toContain('libpg-query.wasm');
    const directory = path.dirname(bundleOf(stack.apiFunction));
    for (const name of ['salesforce', 'postgres']) {
      const chunk = path.join(directory, `${name}.mjs`);
      expect(readFileSync(chunk, 'utf8').slice(0, 300)).toMatch(/createRequire.*import\.meta\.url/);
      expect(existsSync(`${chunk}.map`)).toBe(true);
    }
    // The SQL parser in the postgres chunk finds its WASM beside itself.
    expect(readFileSync(path.join(directory, 'postgres.mjs'), 'utf8').slice(0, 600)).toMatch(/const __dirname = /);
    expect(readFileSync(path.join(directory, 'postgres.mjs'), 'utf8')).toContain('libpg-query.wasm');
    expect(existsSync(path.join(directory, 'libpg-query.wasm'))).toBe(true);
  });

  it('bundles jsforce into the functions that use it, with the userland punycode instead of the deprecated built-in', () => {
    const apiChunk = path.join(path.dirname(bundleOf(stack.apiFunction)), 'salesforce.mjs');
    for (const file of [bundleOf(stack.salesforceSyncFunction), apiChunk]) {
      const code = readFileSync(file, 'utf8');
      // Nothing of jsforce is left to a node_modules the Lambda runtime does not have.
      expect(code).not.toMatch(/from\s*"jsforce"|require\("jsforce"\)/);
      expect(code).toContain('jsforce_state');
      expect(code).not.toContain('("punycode")');
    }
    expect(readFileSync(bundleOf(stack.postgresSyncFunction), 'utf8')).not.toContain('jsforce_state');
  });

  it('postgres-sync: 15 min, 1024 MB, reserved concurrency, async retries twice for up to 6 h, then an encrypted DLQ', () => {
    const props = resourcesOf('AWS::Lambda::Function')[logicalId(stack.postgresSyncFunction)]!.Properties;
    expect(props).toMatchObject({ Timeout: 900, MemorySize: 1024 });
    expect(props.ReservedConcurrentExecutions).toBe(10);
    expect(props.Environment.Variables.ROSTER_ALLOW_PRIVATE_HOSTS).toBe('false');
    expect(props.VpcConfig).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(stack.postgresSyncFunction) },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: getAtt(logicalId(stack.postgresSyncDeadLetterQueue)) } },
    });
    expect(resourcesOf('AWS::SQS::Queue')[logicalId(stack.postgresSyncDeadLetterQueue)]?.Properties.SqsManagedSseEnabled).toBe(true);
  });

  it('salesforce-sync: 15 min, 1024 MB, reserved concurrency, async retries twice for up to 6 h, then an encrypted DLQ', () => {
    const props = resourcesOf('AWS::Lambda::Function')[logicalId(stack.salesforceSyncFunction)]!.Properties;
    expect(props).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Timeout: 900, MemorySize: 1024 });
    expect(props.ReservedConcurrentExecutions).toBe(10);
    expect(props.Environment.Variables).toMatchObject({
      ROSTER_ALLOW_PRIVATE_HOSTS: 'false',
      SALESFORCE_APP_SECRET_NAME: 'roster/platform/salesforce-app',
      POWERTOOLS_SERVICE_NAME: 'roster-salesforce-sync',
    });
    // The app's credentials come from the platform secret only, never from plain variables.
    expect(props.Environment.Variables.SALESFORCE_CLIENT_ID).toBeUndefined();
    expect(props.Environment.Variables.SALESFORCE_CLIENT_SECRET).toBeUndefined();
    expect(props.VpcConfig).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(stack.salesforceSyncFunction) },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: getAtt(logicalId(stack.salesforceSyncDeadLetterQueue)) } },
    });
    expect(resourcesOf('AWS::SQS::Queue')[logicalId(stack.salesforceSyncDeadLetterQueue)]?.Properties.SqsManagedSseEnabled).toBe(true);
    const custom = new RosterStack(new App({ context: cdkContext }), 'RosterSalesforceConcurrency', { stackName: 'RosterSalesforceConcurrency', salesforceSyncConcurrency: 3 });
    const customFunctions = Template.fromStack(custom).findResources('AWS::Lambda::Function') as Record<string, Resource>;
    expect(customFunctions[custom.getLogicalId(custom.salesforceSyncFunction.node.defaultChild as CfnElement)]!.Properties.ReservedConcurrentExecutions).toBe(3);
  });

  it('the API knows the Salesforce sync function, the platform secret and its own public URL', () => {
    const variables = resourcesOf('AWS::Lambda::Function')[logicalId(stack.apiFunction)]!.Properties.Environment.Variables;
    expect(variables).toMatchObject({
      SALESFORCE_SYNC_FUNCTION_NAME: { Ref: logicalId(stack.salesforceSyncFunction) },
      SALESFORCE_SYNC_FUNCTION_ARN: getAtt(logicalId(stack.salesforceSyncFunction)),
      SALESFORCE_APP_SECRET_NAME: 'roster/platform/salesforce-app',
      // The base of the OAuth redirect URI: the same value as the SalesforceCallbackUrl output's.
      PUBLIC_API_URL: getAtt(logicalId(stack.httpApi.api), 'ApiEndpoint'),
    });
    expect(variables.SALESFORCE_CLIENT_ID).toBeUndefined();
    expect(variables.SALESFORCE_CLIENT_SECRET).toBeUndefined();
  });

  it('the API knows the sync function, the schedule group, the scheduler role and its DLQ; private hosts are refused deployed', () => {
    const variables = resourcesOf('AWS::Lambda::Function')[logicalId(stack.apiFunction)]!.Properties.Environment.Variables;
    expect(variables).toMatchObject({
      POSTGRES_SYNC_FUNCTION_NAME: { Ref: logicalId(stack.postgresSyncFunction) },
      POSTGRES_SYNC_FUNCTION_ARN: getAtt(logicalId(stack.postgresSyncFunction)),
      SCHEDULER_ROLE_ARN: getAtt(logicalId(stack.scheduling.role)),
      SCHEDULER_DLQ_ARN: getAtt(logicalId(stack.scheduling.deadLetterQueue)),
      ROSTER_ALLOW_PRIVATE_HOSTS: 'false',
    });
    expect(variables.SCHEDULE_GROUP).toBe(`${STACK_NAME}-syncs`);
  });

  it('static egress puts the sync functions and the API in private subnets behind one NAT gateway with an Elastic IP, output for allowlisting', () => {
    const egressApp = new App({ context: cdkContext });
    const egress = new RosterStack(egressApp, 'RosterEgress', { stackName: 'RosterEgress', staticEgress: true });
    const egressTemplate = Template.fromStack(egress);
    const functions = egressTemplate.findResources('AWS::Lambda::Function') as Record<string, Resource>;
    const idOf = (fn: RosterFunction) => egress.getLogicalId(fn.node.defaultChild as CfnElement);
    expect(functions[idOf(egress.postgresSyncFunction)]!.Properties.VpcConfig.SubnetIds.length).toBe(2);
    // Salesforce orgs may restrict logins to IP ranges: the Salesforce sync connects from the same address.
    expect(functions[idOf(egress.salesforceSyncFunction)]!.Properties.VpcConfig.SubnetIds.length).toBe(2);
    expect(functions[idOf(egress.apiFunction)]!.Properties.VpcConfig).toBeDefined();
    expect(functions[idOf(egress.csvImportFunction)]!.Properties.VpcConfig).toBeUndefined();
    egressTemplate.resourceCountIs('AWS::EC2::NatGateway', 1);
    egressTemplate.resourceCountIs('AWS::EC2::EIP', 1);
    const eipId = Object.keys(egressTemplate.findResources('AWS::EC2::EIP'))[0]!;
    egressTemplate.hasResourceProperties('AWS::EC2::NatGateway', { AllocationId: getAtt(eipId, 'AllocationId') });
    expect(egressTemplate.findOutputs('SyncEgressIp').SyncEgressIp?.Value).toEqual(getAtt(eipId, 'PublicIp'));
    rmSync(egressApp.outdir, { recursive: true, force: true });
  });

  it('API: 1024 MB, 29 s; csv-import: 1769 MB, 15 min, reserved concurrency', () => {
    const functions = resourcesOf('AWS::Lambda::Function');
    expect(functions[logicalId(stack.apiFunction)]!.Properties).toMatchObject({ MemorySize: 1024, Timeout: 29 });
    const csv = functions[logicalId(stack.csvImportFunction)]!.Properties;
    expect(csv).toMatchObject({ MemorySize: 1769, Timeout: 900 });
    expect(csv.ReservedConcurrentExecutions).toBeGreaterThan(0);
  });

  it('export: 15 min, async retries twice for up to 6 h, then an encrypted DLQ; the API knows its name', () => {
    const functions = resourcesOf('AWS::Lambda::Function');
    expect(functions[logicalId(stack.exportFunction)]!.Properties).toMatchObject({ Timeout: 900 });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(stack.exportFunction) },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: getAtt(logicalId(stack.exportDeadLetterQueue)) } },
    });
    expect(resourcesOf('AWS::SQS::Queue')[logicalId(stack.exportDeadLetterQueue)]?.Properties.SqsManagedSseEnabled).toBe(true);
    expect(functions[logicalId(stack.apiFunction)]!.Properties.Environment.Variables.EXPORT_FUNCTION_NAME).toEqual({ Ref: logicalId(stack.exportFunction) });
  });

  it('csv-import retries async events twice for up to 6 h, then sends them to an encrypted, TLS-only DLQ', () => {
    const queueId = logicalId(stack.csvImportDeadLetterQueue);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(stack.csvImportFunction) },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: getAtt(queueId) } },
    });
    expect(resourcesOf('AWS::SQS::Queue')[queueId]?.Properties.SqsManagedSseEnabled).toBe(true);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('refuses an environment variable its schema does not know', () => {
    const scope = new Stack(new App(), 'EnvCheck');
    expect(
      () =>
        new RosterFunction(scope, 'Fn', {
          name: 'authorizer',
          schema: authorizerEnvironment,
          environment: { CONTROL_TABLE: 'control', ...({ CONTROL_TABEL: 'typo' } as object) },
        }),
    ).toThrow(/CONTROL_TABEL is not in its schema/);
    expect(
      () =>
        new RosterFunction(scope, 'Fn2', {
          name: 'authorizer',
          schema: authorizerEnvironment,
          environment: {} as { CONTROL_TABLE: string },
        }),
    ).toThrow(/CONTROL_TABLE is missing/);
  });
});

describe('IAM scoping', () => {
  const dataActions = [
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchGetItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:TransactGetItems',
    'dynamodb:TransactWriteItems',
    'dynamodb:Query',
    'dynamodb:Scan',
    's3:GetObject',
    's3:PutObject',
    's3:DeleteObject',
    'secretsmanager:GetSecretValue',
  ];
  /** An action pattern (`s3:GetObject*`, `dynamodb:*`, `*`) as a regular expression. */
  const patternOf = (action: string) => new RegExp(`^${action.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i');
  const grantsData = (statement: Statement) =>
    asArray(statement.Action).some((action) => dataActions.some((data) => patternOf(action).test(data)));
  const grantsObjects = (statement: Statement) =>
    asArray(statement.Action).some((action) => ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'].some((a) => patternOf(action).test(a)));

  function statementsOf(roleId?: string): Statement[] {
    return Object.values(resourcesOf('AWS::IAM::Policy'))
      .filter((policy) => roleId === undefined || asArray(policy.Properties.Roles).some((role: any) => role.Ref === roleId))
      .flatMap((policy) => asArray(policy.Properties.PolicyDocument.Statement) as Statement[])
      .filter((statement) => statement.Effect === 'Allow');
  }

  /** The key pattern an object ARN of the data bucket grants (`uploads/*`), `'*'` for a wildcard resource, else undefined. */
  function objectKeyPattern(resource: any): string | undefined {
    if (resource === '*') return '*';
    const join = resource?.['Fn::Join'];
    if (!join) return undefined;
    const [first, ...rest] = join[1] as any[];
    if (first?.['Fn::GetAtt']?.[0] !== logicalId(stack.storage.bucket)) return undefined;
    return (rest.join('') as string).replace(/^\//, '');
  }

  const objectPatterns = (statements: Statement[], action: string) =>
    new Set(
      statements
        .filter((statement) => asArray(statement.Action).some((a) => patternOf(a).test(action)))
        .flatMap((statement) => asArray(statement.Resource).map(objectKeyPattern))
        .filter((pattern) => pattern !== undefined),
    );

  it('no statement granting a data action has Resource "*"', () => {
    const statements = statementsOf().filter(grantsData);
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      const resources = asArray(statement.Resource);
      expect(resources.length).toBeGreaterThan(0);
      expect(resources).not.toContain('*');
    }
  });

  it('no object permission covers the whole bucket', () => {
    const patterns = statementsOf()
      .filter(grantsObjects)
      .flatMap((statement) => asArray(statement.Resource).map(objectKeyPattern))
      .filter((pattern) => pattern !== undefined);
    expect(patterns.length).toBeGreaterThan(0);
    expect(patterns.filter((pattern) => !/^(uploads|exports|errors)\/\*$/.test(pattern))).toEqual([]);
  });

  it('csv-import reads uploads/*, and writes, reads back and deletes only error-report parts in errors/*', () => {
    const statements = statementsOf(logicalId(stack.csvImportFunction.role!)).filter(grantsObjects);
    expect(objectPatterns(statements, 's3:GetObject')).toEqual(new Set(['uploads/*', 'errors/*']));
    expect(objectPatterns(statements, 's3:PutObject')).toEqual(new Set(['errors/*']));
    expect(objectPatterns(statements, 's3:DeleteObject')).toEqual(new Set(['errors/*']));
  });

  it('csv-import may invoke itself (continuation of long imports) and no other function', () => {
    const invokes = statementsOf(logicalId(stack.csvImportFunction.role!)).filter((statement) =>
      asArray(statement.Action).includes('lambda:InvokeFunction'),
    );
    expect(invokes.flatMap((statement) => asArray(statement.Resource))).toEqual([getAtt(logicalId(stack.csvImportFunction), 'Arn')]);
  });

  it('the API reads uploads/*, exports/*, errors/* and writes only uploads/* (pasted CSV)', () => {
    const statements = statementsOf(logicalId(stack.apiFunction.role!)).filter(grantsObjects);
    expect(objectPatterns(statements, 's3:GetObject')).toEqual(new Set(['uploads/*', 'exports/*', 'errors/*']));
    expect(objectPatterns(statements, 's3:PutObject')).toEqual(new Set(['uploads/*']));
  });

  it('the export function writes, reads back and deletes only exports/*, reads users and events, writes only the control table', () => {
    const role = logicalId(stack.exportFunction.role!);
    const objects = statementsOf(role).filter(grantsObjects);
    expect(objectPatterns(objects, 's3:GetObject')).toEqual(new Set(['exports/*']));
    expect(objectPatterns(objects, 's3:PutObject')).toEqual(new Set(['exports/*']));
    expect(objectPatterns(objects, 's3:DeleteObject')).toEqual(new Set(['exports/*']));
    const writes = statementsOf(role)
      .filter(grantsData)
      .filter((statement) => asArray(statement.Action).some((action) => /^dynamodb:.*(Put|Update|Delete|Write)/.test(action)));
    expect(writes.flatMap((statement) => asArray(statement.Resource))).toEqual(expect.arrayContaining([getAtt(logicalId(stack.storage.tables.Control))]));
    for (const statement of writes) {
      for (const resource of asArray(statement.Resource)) {
        expect(JSON.stringify(resource)).toContain(logicalId(stack.storage.tables.Control));
      }
    }
  });

  it('the API may start the export function; the export function may invoke only itself', () => {
    const invokes = (roleId: string) =>
      statementsOf(roleId)
        .filter((statement) => asArray(statement.Action).includes('lambda:InvokeFunction'))
        .flatMap((statement) => asArray(statement.Resource));
    const exportArn = getAtt(logicalId(stack.exportFunction), 'Arn');
    expect(invokes(logicalId(stack.apiFunction.role!))).toEqual(expect.arrayContaining([exportArn]));
    expect(invokes(logicalId(stack.exportFunction.role!))).toEqual([exportArn]);
  });

  /** A role's Secrets Manager grants (Allow statements) by resource: the JSON of the resource → its actions. */
  const secretGrants = (roleId: string) => {
    const grants = new Map<string, Set<string>>();
    for (const statement of statementsOf(roleId)) {
      const actions = asArray(statement.Action).filter((action) => action.startsWith('secretsmanager:'));
      for (const resource of asArray(statement.Resource)) {
        const key = JSON.stringify(resource);
        for (const action of actions) grants.set(key, (grants.get(key) ?? new Set()).add(action));
      }
    }
    return grants;
  };
  /** The resources a role may use `action` on, each as JSON. */
  const secretsFor = (roleId: string, action: string) =>
    [...secretGrants(roleId)].filter(([, actions]) => [...actions].some((granted) => patternOf(granted).test(action))).map(([resource]) => resource);
  const tenantSecrets = (kind: string) => new RegExp(`:secret:roster/\\*/${kind}\\*"`);
  const appSecret = () => JSON.stringify({ Ref: logicalId(stack.salesforceAppSecret as unknown as IConstruct) });
  const writes = ['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:DeleteSecret', 'secretsmanager:UpdateSecret'];

  it('secrets: postgres-sync only reads roster/*/postgres*; nothing of Salesforce', () => {
    const grants = secretGrants(logicalId(stack.postgresSyncFunction.role!));
    expect([...grants.keys()]).toHaveLength(1);
    const [resource, actions] = [...grants][0]!;
    expect(resource).toMatch(tenantSecrets('postgres'));
    expect([...actions]).toEqual(['secretsmanager:GetSecretValue']);
    expect(secretsFor(logicalId(stack.postgresSyncFunction.role!), 'secretsmanager:GetSecretValue').join()).not.toMatch(/salesforce|SalesforceAppSecret/);
  });

  it('secrets: salesforce-sync reads and rewrites roster/*/salesforce* (refresh-token rotation) and reads the platform secret; nothing of PostgreSQL', () => {
    const roleId = logicalId(stack.salesforceSyncFunction.role!);
    const grants = secretGrants(roleId);
    expect([...grants.keys()].sort()).toEqual([appSecret(), expect.stringMatching(tenantSecrets('salesforce'))].sort());
    const tenant = [...grants].find(([resource]) => tenantSecrets('salesforce').test(resource))![1];
    expect([...tenant].sort()).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue']);
    expect([...grants.get(appSecret())!]).toEqual(['secretsmanager:GetSecretValue']);
    for (const action of ['secretsmanager:GetSecretValue', ...writes]) {
      expect(secretsFor(roleId, action).join(), `${action}`).not.toMatch(/postgres/);
    }
  });

  it('secrets: the API reads, writes and deletes tenant secrets of both integrations and only reads the platform secret', () => {
    const roleId = logicalId(stack.apiFunction.role!);
    const grants = secretGrants(roleId);
    expect([...grants.keys()]).toHaveLength(3);
    for (const kind of ['postgres', 'salesforce']) {
      const tenant = [...grants].find(([resource]) => tenantSecrets(kind).test(resource));
      expect(tenant, `${kind}`).toBeDefined();
      expect([...tenant![1]]).toEqual(expect.arrayContaining(['secretsmanager:GetSecretValue', 'secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:DeleteSecret', 'secretsmanager:DescribeSecret']));
    }
    expect([...grants.get(appSecret())!]).toEqual(['secretsmanager:GetSecretValue']);
  });

  it('secrets: the platform secret sits inside roster/*/salesforce*, so the API and salesforce-sync are explicitly denied writing it', () => {
    for (const fn of [stack.apiFunction, stack.salesforceSyncFunction]) {
      const denies = Object.values(resourcesOf('AWS::IAM::Policy'))
        .filter((policy) => asArray(policy.Properties.Roles).some((role: any) => role.Ref === logicalId(fn.role!)))
        .flatMap((policy) => asArray(policy.Properties.PolicyDocument.Statement) as Statement[])
        .filter((statement) => statement.Effect === 'Deny');
      expect(denies).toHaveLength(1);
      expect(asArray(denies[0]!.Resource).map((resource) => JSON.stringify(resource))).toEqual([appSecret()]);
      expect(asArray(denies[0]!.Action).sort()).toEqual([...writes].sort());
    }
  });

  it('secrets: no other function touches Secrets Manager', () => {
    for (const fn of [stack.csvImportFunction, stack.exportFunction, stack.authorizerFunction]) expect([...secretGrants(logicalId(fn.role!)).keys()]).toEqual([]);
  });

  it('the API manages schedules only in the stack group and passes only the scheduler role, only to Scheduler', () => {
    const statements = statementsOf(logicalId(stack.apiFunction.role!));
    const schedules = statements.filter((statement) => asArray(statement.Action).some((action) => action.startsWith('scheduler:')));
    expect(schedules).toHaveLength(1);
    expect(asArray(schedules[0]!.Action)).toEqual(expect.arrayContaining(['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule']));
    expect(JSON.stringify(schedules[0]!.Resource)).toMatch(/:schedule\/",.*-syncs\/\*"|RosterTest-syncs\/\*/);
    const passes = statements.filter((statement) => asArray(statement.Action).includes('iam:PassRole'));
    expect(passes).toHaveLength(1);
    expect(passes[0]!.Resource).toEqual(getAtt(logicalId(stack.scheduling.role)));
    expect((passes[0] as any).Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
  });

  it('salesforce-sync may invoke only itself; the API may start it', () => {
    const invokes = (roleId: string) =>
      statementsOf(roleId)
        .filter((statement) => asArray(statement.Action).includes('lambda:InvokeFunction'))
        .flatMap((statement) => asArray(statement.Resource));
    const syncArn = getAtt(logicalId(stack.salesforceSyncFunction), 'Arn');
    expect(invokes(logicalId(stack.salesforceSyncFunction.role!))).toEqual([syncArn]);
    expect(invokes(logicalId(stack.apiFunction.role!))).toEqual(expect.arrayContaining([syncArn]));
  });

  it('postgres-sync may invoke only itself; the API may start it', () => {
    const invokes = (roleId: string) =>
      statementsOf(roleId)
        .filter((statement) => asArray(statement.Action).includes('lambda:InvokeFunction'))
        .flatMap((statement) => asArray(statement.Resource));
    const syncArn = getAtt(logicalId(stack.postgresSyncFunction), 'Arn');
    expect(invokes(logicalId(stack.postgresSyncFunction.role!))).toEqual([syncArn]);
    expect(invokes(logicalId(stack.apiFunction.role!))).toEqual(expect.arrayContaining([syncArn]));
  });

  it('the authorizer only reads the control table', () => {
    const statements = statementsOf(logicalId(stack.authorizerFunction.role!)).filter(grantsData);
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      expect(asArray(statement.Action).filter((a) => /Put|Update|Delete|Write/.test(a))).toEqual([]);
      expect(asArray(statement.Resource)).toEqual([getAtt(logicalId(stack.storage.tables.Control))]);
    }
  });
});

describe('sync scheduling', () => {
  it('has a schedule group named for the stack', () => {
    const groups = Object.values(resourcesOf('AWS::Scheduler::ScheduleGroup'));
    expect(groups.map((group) => group.Properties.Name)).toEqual([`${STACK_NAME}-syncs`]);
  });

  it('has a role only EventBridge Scheduler of this account may assume, able to send to an encrypted DLQ', () => {
    const roleId = logicalId(stack.scheduling.role);
    const role = resourcesOf('AWS::IAM::Role')[roleId]!;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
      }),
    ]);
    const queueId = logicalId(stack.scheduling.deadLetterQueue);
    expect(resourcesOf('AWS::SQS::Queue')[queueId]?.Properties.SqsManagedSseEnabled).toBe(true);
    const sends = Object.values(resourcesOf('AWS::IAM::Policy'))
      .filter((policy) => asArray(policy.Properties.Roles).some((r: any) => r.Ref === roleId))
      .flatMap((policy) => asArray(policy.Properties.PolicyDocument.Statement) as Statement[])
      .filter((statement) => asArray(statement.Action).includes('sqs:SendMessage'));
    expect(sends.map((statement) => statement.Resource)).toEqual([getAtt(queueId)]);
  });

  it('the role may invoke the PostgreSQL and Salesforce sync functions and nothing else', () => {
    const roleId = logicalId(stack.scheduling.role);
    const statements = Object.values(resourcesOf('AWS::IAM::Policy'))
      .filter((policy) => asArray(policy.Properties.Roles).some((r: any) => r.Ref === roleId))
      .flatMap((policy) => asArray(policy.Properties.PolicyDocument.Statement) as Statement[]);
    expect(statements.flatMap((statement) => asArray(statement.Action)).filter((a) => a.startsWith('lambda:'))).toEqual(['lambda:InvokeFunction']);
    const syncIds = [logicalId(stack.postgresSyncFunction), logicalId(stack.salesforceSyncFunction)];
    const resources = statements.filter((statement) => asArray(statement.Action).includes('lambda:InvokeFunction')).flatMap((statement) => asArray(statement.Resource));
    for (const syncId of syncIds) expect(resources).toContainEqual(getAtt(syncId, 'Arn'));
    for (const resource of resources) expect(syncIds.some((syncId) => JSON.stringify(resource).includes(`"${syncId}"`))).toBe(true);
  });

  it('allowInvoke grants lambda:InvokeFunction on that function only', () => {
    const scope = new Stack(new App(), 'SchedulingOnly');
    const scheduling = new SyncScheduling(scope, 'Scheduling');
    const fn = new lambda.Function(scope, 'Sync', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('export const handler = async () => {};'),
    });
    new lambda.Function(scope, 'Other', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('export const handler = async () => {};'),
    });
    scheduling.allowInvoke(fn);
    const invokes = Object.values(Template.fromStack(scope).findResources('AWS::IAM::Policy'))
      .flatMap((policy: any) => asArray(policy.Properties.PolicyDocument.Statement) as Statement[])
      .filter((statement) => asArray(statement.Action).includes('lambda:InvokeFunction'));
    expect(invokes).toHaveLength(1);
    const fnId = scope.getLogicalId(fn.node.defaultChild as CfnElement);
    const resources = JSON.stringify(invokes[0]!.Resource);
    expect(resources).toContain(fnId);
    expect(resources).not.toContain('Other');
    expect(asArray(invokes[0]!.Resource)).not.toContain('*');
  });
});

describe('observability', () => {
  const alarms = () => Object.values(resourcesOf('AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties);

  it('alarms on errors and throttles of every function, each dead-letter queue, failed PostgreSQL and Salesforce runs and API 5xx', () => {
    const all = alarms();
    for (const { fn } of ourFunctions()) {
      const id = logicalId(fn);
      for (const metric of ['Errors', 'Throttles']) {
        expect(all).toContainEqual(expect.objectContaining({ Namespace: 'AWS/Lambda', MetricName: metric, Dimensions: [{ Name: 'FunctionName', Value: { Ref: id } }], Threshold: 1 }));
      }
    }
    const queues = [stack.csvImportDeadLetterQueue, stack.exportDeadLetterQueue, stack.postgresSyncDeadLetterQueue, stack.salesforceSyncDeadLetterQueue, stack.scheduling.deadLetterQueue];
    for (const queue of queues) {
      expect(all).toContainEqual(
        expect.objectContaining({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Dimensions: [{ Name: 'QueueName', Value: getAtt(logicalId(queue), 'QueueName') }] }),
      );
    }
    // The EMF metric each sync function writes (shared/observability/metrics.ts), with its exact dimensions.
    for (const integration of ['postgres', 'salesforce']) {
      expect(all).toContainEqual(
        expect.objectContaining({
          Namespace: 'Roster',
          MetricName: 'SyncRunsFailed',
          Dimensions: expect.arrayContaining([{ Name: 'service', Value: `roster-${integration}-sync` }, { Name: 'integration', Value: integration }]),
          Threshold: 1,
        }),
      );
    }
    expect(all).toContainEqual(expect.objectContaining({ Namespace: 'AWS/ApiGateway', MetricName: '5xx', Threshold: 5 }));
    expect(all).toHaveLength(ourFunctions().length * 2 + queues.length + 2 + 1);
    for (const alarm of all) {
      expect(alarm.TreatMissingData).toBe('notBreaching');
      expect(alarm.AlarmDescription).toEqual(expect.any(String));
      // No topic given: no actions.
      expect(alarm.AlarmActions).toBeUndefined();
    }
  });

  it('every alarm notifies the alarm topic given to the stack, on alarm and on recovery', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:roster-alarms';
    const withTopic = new RosterStack(new App({ context: cdkContext }), 'RosterAlarms', { stackName: 'RosterAlarms', alarmTopicArn: topicArn });
    const found = Object.values(Template.fromStack(withTopic).findResources('AWS::CloudWatch::Alarm')) as Resource[];
    expect(found.length).toBeGreaterThan(10);
    for (const alarm of found) {
      expect(alarm.Properties.AlarmActions).toEqual([topicArn]);
      expect(alarm.Properties.OKActions).toEqual([topicArn]);
    }
  });

  it('has one dashboard with the API, rows, functions, runs and queues, named in the outputs', () => {
    const dashboards = Object.values(resourcesOf('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]!.Properties.DashboardBody);
    for (const title of ['API requests and errors', 'Rows imported and refused', 'Function errors', 'Sync runs', 'Dead-letter queues']) expect(body).toContain(title);
    expect(body).toContain('RowsImported');
    expect(body).toContain('SalesforceSyncDeadLetterQueue');
    expect(body).toContain('salesforce SyncRunsSucceeded');
    expect(template.findOutputs('DashboardName').DashboardName?.Value).toEqual({ Ref: logicalId(stack.monitoring.dashboard) });
  });
});

describe('outputs', () => {
  it('exports the API URL, table names, bucket name and schedule group name under fixed IDs', () => {
    const outputs = template.findOutputs('*');
    expect(outputs.ControlTableName?.Value).toEqual({ Ref: logicalId(stack.storage.tables.Control) });
    expect(outputs.UsersTableName?.Value).toEqual({ Ref: logicalId(stack.storage.tables.Users) });
    expect(outputs.EventsTableName?.Value).toEqual({ Ref: logicalId(stack.storage.tables.Events) });
    expect(outputs.DataBucketName?.Value).toEqual({ Ref: logicalId(stack.storage.bucket) });
    expect(outputs.ScheduleGroupName?.Value).toBe(`${STACK_NAME}-syncs`);
    expect(JSON.stringify(outputs.ApiUrl?.Value)).toContain(logicalId(stack.httpApi.api));
  });

  it('names the Salesforce app secret and the OAuth callback URL to register in the connected app', () => {
    const outputs = template.findOutputs('*');
    expect(outputs.SalesforceAppSecretName?.Value).toBe('roster/platform/salesforce-app');
    expect(outputs.SalesforceCallbackUrl?.Value).toEqual({ 'Fn::Join': ['', [getAtt(logicalId(stack.httpApi.api), 'ApiEndpoint'), '/integrations/salesforce/callback']] });
  });
});

describe('Salesforce app secret', () => {
  it('is created under the default name with empty placeholder values, retained', () => {
    const secrets = Object.entries(resourcesOf('AWS::SecretsManager::Secret'));
    expect(secrets).toHaveLength(1);
    const [id, secret] = secrets[0]!;
    expect(id).toBe(logicalId(stack.salesforceAppSecret as unknown as IConstruct));
    expect(secret.Properties.Name).toBe('roster/platform/salesforce-app');
    // Empty values: the code treats them as "not configured" (connecting answers 422) until an operator fills them in.
    expect(JSON.parse(secret.Properties.SecretString)).toEqual({ clientId: '', clientSecret: '' });
    expect(secret.Properties.GenerateSecretString).toBeUndefined();
    expect(secret.DeletionPolicy).toBe('Retain');
  });

  const withSecretName = (name: string, exists: boolean) => {
    const other = new RosterStack(new App({ context: cdkContext }), `RosterSecret${exists}`, { stackName: `RosterSecret${exists}`, salesforceAppSecretName: name, salesforceAppSecretExists: exists });
    const otherTemplate = Template.fromStack(other);
    const functions = otherTemplate.findResources('AWS::Lambda::Function') as Record<string, Resource>;
    const variablesOf = (fn: RosterFunction) => functions[other.getLogicalId(fn.node.defaultChild as CfnElement)]!.Properties.Environment.Variables;
    return { other, otherTemplate, variablesOf };
  };

  it('takes another name: creates that secret and hands its name to the functions and the output', () => {
    const name = 'roster-prod/salesforce-app';
    const { other, otherTemplate, variablesOf } = withSecretName(name, false);
    for (const fn of [other.apiFunction, other.salesforceSyncFunction]) expect(variablesOf(fn).SALESFORCE_APP_SECRET_NAME).toBe(name);
    expect(otherTemplate.findOutputs('SalesforceAppSecretName').SalesforceAppSecretName?.Value).toBe(name);
    expect(Object.values(otherTemplate.findResources('AWS::SecretsManager::Secret')).map((secret: any) => secret.Properties.Name)).toEqual([name]);
  });

  it('imports an existing secret instead of creating one, granted with the suffix Secrets Manager appends', () => {
    const name = 'roster-prod/salesforce-app';
    const { other, otherTemplate, variablesOf } = withSecretName(name, true);
    otherTemplate.resourceCountIs('AWS::SecretsManager::Secret', 0);
    for (const fn of [other.apiFunction, other.salesforceSyncFunction]) expect(variablesOf(fn).SALESFORCE_APP_SECRET_NAME).toBe(name);
    expect(otherTemplate.findOutputs('SalesforceAppSecretName').SalesforceAppSecretName?.Value).toBe(name);
    // Imported by name, the ARN has no suffix: the policies add the six characters Secrets Manager appends.
    const statements = Object.values(otherTemplate.findResources('AWS::IAM::Policy') as Record<string, Resource>)
      .flatMap((policy) => asArray(policy.Properties.PolicyDocument.Statement) as Statement[])
      .filter((statement) => JSON.stringify(statement.Resource).includes(`:secret:${name}`));
    // An Allow (GetSecretValue) and a Deny (writes) for each of the API and salesforce-sync.
    expect(statements).toHaveLength(4);
    for (const statement of statements) expect(JSON.stringify(statement.Resource)).toContain(`:secret:${name}-??????"`);
    expect(statements.filter((statement) => statement.Effect === 'Allow').flatMap((statement) => asArray(statement.Action))).toEqual(['secretsmanager:GetSecretValue', 'secretsmanager:GetSecretValue']);
  });
});
