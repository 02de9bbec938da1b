import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { z } from 'zod';
import type { EnvironmentOf } from '../../shared/config/function-environments.js';
import { acknowledge } from './nag.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (this file lives in `infra/constructs/`). */
export const repoRoot = path.resolve(here, '..', '..');

/**
 * esbuild's ESM output has no `require`; CommonJS dependencies bundled into it still call it.
 * The alias keeps the banner's import from clashing with a bundled `createRequire`.
 */
export const esmRequireBanner =
  "import { createRequire as __rosterCreateRequire } from 'node:module'; const require = __rosterCreateRequire(import.meta.url);";

/**
 * For bundles whose dependencies locate files beside themselves with `__dirname` (libpg-query
 * loads its WASM that way): defines `__filename`/`__dirname` in the ESM output. Opt-in, since a
 * bundled ESM module declaring its own top-level `__dirname` would clash with it.
 */
export const esmDirnameBanner =
  "import { fileURLToPath as __rosterFileUrlToPath } from 'node:url'; import { dirname as __rosterDirnameOf } from 'node:path'; const __filename = __rosterFileUrlToPath(import.meta.url); const __dirname = __rosterDirnameOf(__filename);";

/**
 * jsforce (Salesforce sync and API) reaches `require("punycode")` through node-fetch 2 →
 * whatwg-url 5 → tr46: Node's built-in copy, deprecated (DEP0040, a warning at every cold start
 * on Node 22). The userland package of the same code (`punycode/`, with the slash, as newer tr46
 * spells it) replaces it when it is installed; without it the built-in one still works. jsforce
 * itself stays bundled (never external): the Lambda runtime has no node_modules.
 */
const punycodeAlias = ((): Record<string, string> => {
  try {
    createRequire(path.join(repoRoot, 'package.json')).resolve('punycode/');
    return { '--alias:punycode': 'punycode/' };
  } catch {
    return {};
  }
})();

/** Props a caller may still tune; everything that makes a Roster function a Roster function is fixed. */
type TunableProps = Pick<
  NodejsFunctionProps,
  | 'memorySize'
  | 'timeout'
  | 'reservedConcurrentExecutions'
  | 'description'
  | 'retryAttempts'
  | 'maxEventAge'
  | 'onFailure'
  | 'onSuccess'
  | 'ephemeralStorageSize'
  | 'vpc'
  | 'vpcSubnets'
  | 'securityGroups'
>;

export interface RosterFunctionProps<S extends z.ZodObject> extends TunableProps {
  /** The folder under `functions/` holding `handler.ts` (exporting `handler`). */
  name: string;
  /** The function's environment schema (shared/config/function-environments.ts). */
  schema: S;
  /** Every variable the schema declares; a missing one is a compile error. */
  environment: EnvironmentOf<S>;
  /** Log retention of the function's log group. Default: one month. */
  logRetention?: logs.RetentionDays;
  /** Files (paths from the repository root) copied beside the bundle, e.g. a dependency's WASM; enables `esmDirnameBanner`. */
  bundledFiles?: string[];
  /**
   * Modules built as chunks of their own beside the bundle (`<name>.mjs`), which the handler
   * imports on first use (`process.env.ROSTER_BUNDLED`): heavy dependencies one route needs
   * (jsforce for the API's Salesforce routes) stay out of the bundle every cold start loads.
   */
  lazyChunks?: LazyChunk[];
}

/** A module built beside the bundle; `dirname`: it locates files beside itself (`esmDirnameBanner`). */
export interface LazyChunk {
  name: string;
  entry: string;
  dirname?: boolean;
}

/** The esbuild command of a lazy chunk: the same target, format, banner and aliases as the bundle. */
export function lazyChunkCommand(chunk: LazyChunk, outfile: string): string {
  const alias = Object.entries(punycodeAlias).map(([flag, value]) => `${flag}=${value}`);
  return [
    `"${path.join(repoRoot, 'node_modules', '.bin', 'esbuild')}"`,
    `"${path.join(repoRoot, chunk.entry)}"`,
    '--bundle',
    '--platform=node',
    '--format=esm',
    '--target=node22',
    '--main-fields=module,main',
    '--minify',
    '--sourcemap',
    '--sources-content=false',
    `--banner:js="${chunk.dirname ? `${esmRequireBanner} ${esmDirnameBanner}` : esmRequireBanner}"`,
    '--define:process.env.ROSTER_BUNDLED=\'"true"\'',
    ...alias,
    '--log-level=error',
    `--outfile="${outfile}"`,
  ].join(' ');
}

/**
 * The one Lambda function construct of the project: Node.js 22 on arm64, an ESM bundle built
 * by the local esbuild (no Docker) with source maps, JSON logs at INFO into an explicit log
 * group with retention, active tracing, and an environment typed by the function's schema.
 */
export class RosterFunction<S extends z.ZodObject = z.ZodObject> extends NodejsFunction {
  /** The folder name under `functions/`. */
  readonly functionDirName: string;

  constructor(scope: Construct, id: string, props: RosterFunctionProps<S>) {
    const { name, schema, environment, logRetention, bundledFiles = [], lazyChunks = [], ...tunable } = props;
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    super(scope, id, {
      memorySize: 512,
      timeout: Duration.seconds(30),
      ...tunable,
      entry: path.join(repoRoot, 'functions', name, 'handler.ts'),
      handler: 'handler',
      projectRoot: repoRoot,
      depsLockFilePath: path.join(repoRoot, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      logGroup,
      environment: {
        ...RosterFunction.checkedEnvironment(name, schema, environment),
        POWERTOOLS_SERVICE_NAME: `roster-${name}`,
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        banner: bundledFiles.length > 0 ? `${esmRequireBanner} ${esmDirnameBanner}` : esmRequireBanner,
        // Lets a handler tell, at build time, that it runs as a bundle (lazy chunks beside it).
        define: { 'process.env.ROSTER_BUNDLED': JSON.stringify('true') },
        ...(bundledFiles.length > 0 || lazyChunks.length > 0
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (inputDir: string, outputDir: string) => [
                  ...bundledFiles.map((file) => `cp "${path.join(inputDir, file)}" "${outputDir}"`),
                  ...lazyChunks.map((chunk) => lazyChunkCommand(chunk, path.join(outputDir, `${chunk.name}.mjs`))),
                ],
              },
            }
          : {}),
        minify: true,
        sourceMap: true,
        // Maps without the sources embedded: stack traces still name file and line, and Node's
        // --enable-source-maps parses a third of the bytes at every cold start (about 15 ms on the API).
        sourcesContent: false,
        // Pin the SDK the code was tested with (the runtime's copy lags, and lacks some lib-* packages).
        bundleAwsSDK: true,
        externalModules: [],
        esbuildArgs: punycodeAlias,
        forceDockerBundling: false,
      },
    });
    this.functionDirName = name;
    acknowledge(this, 'AwsSolutions::AwsSolutions-L1', 'Node.js 22 is the runtime Roster is built and tested for; a runtime upgrade is a deliberate change with its own test run.');
    acknowledge(this, 'Serverless::Serverless-LambdaLatestVersion', 'Node.js 22 is pinned on purpose (see AwsSolutions-L1).');
    acknowledge(
      this,
      'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AWSLambdaBasicExecutionRole grants only CloudWatch Logs writes (CreateLogGroup/CreateLogStream/PutLogEvents); the function logs into its own log group.',
    );
    if (tunable.vpc) {
      acknowledge(
        this,
        'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        'AWSLambdaVPCAccessExecutionRole grants only the network-interface actions Lambda needs to run in the static-egress VPC, plus log writes.',
      );
    }
    acknowledge(this, 'AwsSolutions::AwsSolutions-IAM5[Resource::*]', 'Tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions (X-Ray requires Resource "*").');
    acknowledge(
      this,
      'Serverless::Serverless-LambdaDLQ',
      tunable.onFailure
        ? 'Asynchronous failures go to an on-failure destination (an SQS queue via EventInvokeConfig), which records the error and the request as a DLQ would, with more context.'
        : 'Invoked synchronously (by API Gateway): the caller receives the error; a DLQ only applies to asynchronous invocations.',
    );
  }

  /**
   * The variables as Lambda wants them (strings, none undefined). The type already demands
   * every key; this repeats the check at synth time for callers that cast, and refuses a key
   * the schema does not know (a typo an object spread can smuggle past the type checker).
   */
  private static checkedEnvironment(name: string, schema: z.ZodObject, environment: object): Record<string, string> {
    const given = environment as Record<string, unknown>;
    for (const [key, field] of Object.entries(schema.shape)) {
      const omittable = field.safeParse(undefined).success;
      if (given[key] === undefined && !omittable) {
        throw new Error(`functions/${name}: environment variable ${key} is missing`);
      }
    }
    const variables: Record<string, string> = {};
    for (const [key, value] of Object.entries(given)) {
      if (!(key in schema.shape)) throw new Error(`functions/${name}: environment variable ${key} is not in its schema`);
      if (value !== undefined) variables[key] = String(value);
    }
    return variables;
  }
}
