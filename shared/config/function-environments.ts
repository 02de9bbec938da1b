import * as z from 'zod';

/**
 * One schema per function's environment. Each function validates its environment with its
 * schema at start-up (`loadEnvironment`), and the CDK stack types the function's
 * `environment` with the same schema's input type, so a variable the code needs but the
 * stack forgot is a compile error, not a 3 a.m. page.
 */
const tableName = z.string().min(3).max(255);
const bucketName = z.string().min(3).max(63);
const functionName = z.string().min(1).max(140);
const arn = z.string().regex(/^arn:[a-z-]+:[a-z0-9-]+:/, 'must be an ARN');
/** `true` lets integrations reach loopback and private addresses (the local stack); deployed it is `false`. */
const allowPrivateHosts = z.enum(['true', 'false']).default('false').transform((value) => value === 'true');

/**
 * Roster's Salesforce connected app: deployed, the platform secret's name (it holds
 * `{"clientId","clientSecret"}`); locally, the two variables themselves (API.md).
 */
const salesforceAppVariables = {
  SALESFORCE_APP_SECRET_NAME: z.string().min(1).max(512).optional(),
  SALESFORCE_CLIENT_ID: z.string().min(1).optional(),
  SALESFORCE_CLIENT_SECRET: z.string().min(1).optional(),
};

export const authorizerEnvironment = z.object({
  CONTROL_TABLE: tableName,
  /** How long a container remembers a key's answer; a revoked key stops working within it (API.md: ≤ 60 s). 0: ask every time. */
  API_KEY_CACHE_SECONDS: z.coerce.number().int().min(0).max(60).default(0),
});

export const apiEnvironment = z.object({
  CONTROL_TABLE: tableName,
  USERS_TABLE: tableName,
  EVENTS_TABLE: tableName,
  DATA_BUCKET: bucketName,
  /** Comma-separated origins allowed by CORS; `*` allows any. */
  CORS_ORIGINS: z.string().default('*'),
  /** Largest CSV file an import accepts; S3 takes up to 5 GiB in one PUT. */
  MAX_UPLOAD_BYTES: z.coerce.number().int().positive().max(5 * 1024 ** 3).default(5 * 1024 ** 3),
  /** The export function, invoked asynchronously by `POST /exports`. */
  EXPORT_FUNCTION_NAME: functionName,
  /** The PostgreSQL sync function: invoked by "run now", and the target of the schedules the API creates. */
  POSTGRES_SYNC_FUNCTION_NAME: functionName,
  POSTGRES_SYNC_FUNCTION_ARN: arn,
  /** The stack's EventBridge Scheduler group, the role its schedules assume, and their dead-letter queue. */
  SCHEDULE_GROUP: z.string().min(1).max(64),
  SCHEDULER_ROLE_ARN: arn,
  SCHEDULER_DLQ_ARN: arn.optional(),
  ROSTER_ALLOW_PRIVATE_HOSTS: allowPrivateHosts,
  /** The Salesforce sync function: "run now" invokes it; the Salesforce schedules target it. */
  SALESFORCE_SYNC_FUNCTION_NAME: functionName,
  SALESFORCE_SYNC_FUNCTION_ARN: arn,
  ...salesforceAppVariables,
  /** The API's public base URL (for the OAuth redirect URI); absent: the request's own scheme and host. */
  PUBLIC_API_URL: z.url().optional(),
});

export const csvImportEnvironment = z.object({
  CONTROL_TABLE: tableName,
  USERS_TABLE: tableName,
  EVENTS_TABLE: tableName,
  DATA_BUCKET: bucketName,
  /**
   * How long an import's lease outlives its last save: after a crash, the retry that comes
   * later than this resumes the import. Lambda retries after ~1 and ~3 minutes, so 120 s.
   */
  IMPORT_LEASE_SECONDS: z.coerce.number().int().min(5).max(900).default(120),
});

export const exportEnvironment = z.object({
  CONTROL_TABLE: tableName,
  USERS_TABLE: tableName,
  EVENTS_TABLE: tableName,
  DATA_BUCKET: bucketName,
});

export const postgresSyncEnvironment = z.object({
  CONTROL_TABLE: tableName,
  USERS_TABLE: tableName,
  EVENTS_TABLE: tableName,
  ROSTER_ALLOW_PRIVATE_HOSTS: allowPrivateHosts,
});

export const salesforceSyncEnvironment = z.object({
  CONTROL_TABLE: tableName,
  USERS_TABLE: tableName,
  EVENTS_TABLE: tableName,
  ROSTER_ALLOW_PRIVATE_HOSTS: allowPrivateHosts,
  ...salesforceAppVariables,
});

export type AuthorizerEnvironment = z.infer<typeof authorizerEnvironment>;
export type ApiEnvironment = z.infer<typeof apiEnvironment>;
export type CsvImportEnvironment = z.infer<typeof csvImportEnvironment>;
export type ExportEnvironment = z.infer<typeof exportEnvironment>;
export type PostgresSyncEnvironment = z.infer<typeof postgresSyncEnvironment>;
export type SalesforceSyncEnvironment = z.infer<typeof salesforceSyncEnvironment>;

/** What the stack must provide for a function: the schema's input (defaults may be omitted). */
export type EnvironmentOf<S extends z.ZodType> = { [K in keyof z.input<S>]: z.input<S>[K] };

export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/** Validates `source` (default: `process.env`) against a function's schema; names every bad variable. */
export function loadEnvironment<S extends z.ZodType>(schema: S, source: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ConfigurationError(`invalid function environment: ${problems.join('; ')}`);
  }
  return parsed.data;
}
