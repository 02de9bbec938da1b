import { z } from 'zod';

/**
 * One schema per function's environment. Each function validates its environment with its
 * schema at start-up (`loadEnvironment`), and the CDK stack types the function's
 * `environment` with the same schema's input type, so a variable the code needs but the
 * stack forgot is a compile error, not a 3 a.m. page.
 */
const tableName = z.string().min(3).max(255);
const bucketName = z.string().min(3).max(63);

export const authorizerEnvironment = z.object({
  CONTROL_TABLE: tableName,
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
  EXPORT_FUNCTION_NAME: z.string().min(1).max(140),
});

export const csvImportEnvironment = z.object({
  CONTROL_TABLE: tableName,
  USERS_TABLE: tableName,
  EVENTS_TABLE: tableName,
  DATA_BUCKET: bucketName,
});

export const exportEnvironment = z.object({
  CONTROL_TABLE: tableName,
  USERS_TABLE: tableName,
  EVENTS_TABLE: tableName,
  DATA_BUCKET: bucketName,
});

export type AuthorizerEnvironment = z.infer<typeof authorizerEnvironment>;
export type ApiEnvironment = z.infer<typeof apiEnvironment>;
export type CsvImportEnvironment = z.infer<typeof csvImportEnvironment>;
export type ExportEnvironment = z.infer<typeof exportEnvironment>;

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
