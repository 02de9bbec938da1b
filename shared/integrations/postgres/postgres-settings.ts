import * as z from 'zod';
import { validatePropertyName } from '../../properties/property-names.js';
import { scheduleExpressionField } from '../../scheduling/schedule-expression.js';
import { DEFAULT_SYNC_SCHEDULE } from '../../scheduling/sync-scheduler.js';
import { buildConnectionUrl, maskedConnectionUrl, parseConnectionUrl, type ConnectionParts } from './connection-url.js';

/**
 * The PostgreSQL integration's settings (API.md, Integrations). The connection URL, schema
 * and CA certificate are the secret (Secrets Manager, `roster/<tenant>/postgres`); the rest,
 * with the URL masked, is stored in DynamoDB and shown by `GET /integrations/postgres`.
 */

/** PostgreSQL truncates identifiers at 63 bytes (NAMEDATALEN − 1): a longer column name cannot exist. */
const MAX_IDENTIFIER_BYTES = 63;
const MAX_QUERY_LENGTH = 100_000;
const MAX_CA_LENGTH = 64 * 1024;
export const MASK = '****';

const columnName = z
  .string()
  .min(1, 'must not be empty')
  .refine((name) => Buffer.byteLength(name, 'utf8') <= MAX_IDENTIFIER_BYTES, `must be at most ${MAX_IDENTIFIER_BYTES} bytes (PostgreSQL's identifier limit)`)
  .refine((name) => !name.includes('\u0000'), 'must not contain NUL');

const propertyName = z.string().superRefine((name, context) => {
  const problem = validatePropertyName(name);
  if (problem) context.addIssue({ code: 'custom', message: problem });
});

const pemCertificate = z
  .string()
  .max(MAX_CA_LENGTH)
  .refine((pem) => /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(pem), 'must be a PEM certificate (-----BEGIN CERTIFICATE----- …)');

const schemaName = columnName;

const connectionUrlField = z
  .string()
  .max(2048)
  .superRefine((url, context) => {
    const parsed = parseConnectionUrl(url);
    if (!parsed.ok) context.addIssue({ code: 'custom', message: parsed.message });
  });

const scheduleField = scheduleExpressionField;

export const putPostgresSettingsBody = z
  .object({
    /** Optional on a later PUT: the saved one is kept (a masked `****` password keeps the saved password too). */
    connectionUrl: connectionUrlField.optional(),
    schema: schemaName.optional(),
    /** Omitted or `****`: the saved certificate is kept; `null` removes it. */
    sslCa: z.union([pemCertificate, z.literal(MASK), z.null()]).optional(),
    query: z.string().min(1).max(MAX_QUERY_LENGTH),
    emailColumn: columnName.optional(),
    idColumn: columnName.optional(),
    fallbackToEmail: z.boolean().optional(),
    mapping: z.record(columnName, propertyName).optional(),
    mode: z.enum(['upsert', 'update_only']).optional(),
    schedule: scheduleField.optional(),
    enabled: z.boolean(),
  })
  .strict()
  .refine((body) => body.fallbackToEmail === undefined || body.idColumn !== undefined, {
    message: 'fallbackToEmail needs an idColumn',
    path: ['fallbackToEmail'],
  })
  .refine((body) => !body.mapping || Object.keys(body.mapping).length <= 500, { message: 'at most 500 mapped columns', path: ['mapping'] })
  .refine((body) => !body.mapping || new Set(Object.values(body.mapping).map((name) => name.toLowerCase())).size === Object.keys(body.mapping).length, {
    message: 'two columns map to the same property',
    path: ['mapping'],
  })
  .refine((body) => !body.mapping || !body.emailColumn || !(body.emailColumn in body.mapping), {
    message: 'the email column is the identity; it cannot also be a property',
    path: ['mapping'],
  });

export const previewPostgresBody = z
  .object({
    connectionUrl: connectionUrlField.optional(),
    schema: schemaName.optional(),
    sslCa: pemCertificate.optional(),
    query: z.string().min(1).max(MAX_QUERY_LENGTH),
  })
  .strict();

export type PutPostgresSettings = z.infer<typeof putPostgresSettingsBody>;

/** What DynamoDB holds (no secret in it). */
export interface PostgresSettings {
  /** Masked: `postgresql://reader:****@db.example.com:5432/app`. */
  connectionUrl: string;
  /** `host:port/database`: a change of database resets the watermark too. */
  databaseIdentity: string;
  schema?: string;
  hasSslCa: boolean;
  query: string;
  emailColumn?: string;
  idColumn?: string;
  fallbackToEmail: boolean;
  mapping?: Record<string, string>;
  mode: 'upsert' | 'update_only';
  schedule: string;
  enabled: boolean;
}

/** The secret's JSON (Secrets Manager only). */
export interface PostgresSecret {
  connectionUrl: string;
  schema?: string;
  sslCa?: string;
}

export function parseSecret(text: string): { parts: ConnectionParts; schema?: string; sslCa?: string } {
  const secret = JSON.parse(text) as PostgresSecret;
  const parsed = parseConnectionUrl(secret.connectionUrl);
  // The secret was written from a URL that parsed; this only guards against hand edits.
  if (!parsed.ok) throw new Error('the stored connection URL no longer parses; PUT the integration again');
  return { parts: parsed.parts, schema: secret.schema, sslCa: secret.sslCa };
}

/**
 * Resolves a PUT's connection against the saved secret: an omitted URL keeps the saved one,
 * a URL whose password is `****` keeps the saved password (a client may send back what GET showed).
 */
/** libpq's sslmodes, weakest first. */
const SSL_STRENGTH: readonly ConnectionParts['sslmode'][] = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'];

export function resolveConnection(given: string | undefined, saved: ConnectionParts | undefined): { parts: ConnectionParts } | { missing: string } {
  if (given === undefined) return saved ? { parts: saved } : { missing: 'connectionUrl is required (no connection is saved yet)' };
  const parsed = parseConnectionUrl(given);
  if (!parsed.ok) return { missing: parsed.message };
  if (parsed.parts.password === MASK) {
    if (!saved) return { missing: 'connectionUrl has a masked password (****) but no password is saved yet' };
    // The saved password goes only where it was given for: else anyone holding the tenant's
    // API key could point `****` at a server of their own and receive it.
    const { host, port, database, user, sslmode } = parsed.parts;
    if (host !== saved.host || port !== saved.port || database !== saved.database || user !== saved.user) {
      return { missing: 'connectionUrl has a masked password (****), which stands for the saved password only with the saved host, port, database and user; give the password to connect elsewhere' };
    }
    // Nor over a weaker channel than it was saved for (no TLS, or TLS without checking the server).
    if (SSL_STRENGTH.indexOf(sslmode) < SSL_STRENGTH.indexOf(saved.sslmode)) {
      return { missing: `connectionUrl has a masked password (****) with sslmode=${sslmode}, weaker than the saved sslmode=${saved.sslmode}; give the password to connect that way` };
    }
    return { parts: { ...parsed.parts, password: saved.password } };
  }
  return { parts: parsed.parts };
}

export function toStoredSettings(body: PutPostgresSettings, parts: ConnectionParts, hasSslCa: boolean): PostgresSettings {
  return {
    connectionUrl: maskedConnectionUrl(parts),
    databaseIdentity: `${parts.host}:${parts.port}/${parts.database}`,
    ...(body.schema ? { schema: body.schema } : {}),
    hasSslCa,
    query: body.query,
    ...(body.emailColumn ? { emailColumn: body.emailColumn } : {}),
    ...(body.idColumn ? { idColumn: body.idColumn } : {}),
    fallbackToEmail: body.fallbackToEmail ?? false,
    ...(body.mapping ? { mapping: body.mapping } : {}),
    mode: body.mode ?? 'upsert',
    schedule: body.schedule ?? DEFAULT_SYNC_SCHEDULE,
    enabled: body.enabled,
  };
}

export function toSecret(parts: ConnectionParts, schema: string | undefined, sslCa: string | undefined): PostgresSecret {
  return { connectionUrl: buildConnectionUrl(parts), ...(schema ? { schema } : {}), ...(sslCa ? { sslCa } : {}) };
}

/** A PUT that changes what the query reads (query, mapping, idColumn, or the database) makes the next run read everything. */
export function changesWhatIsRead(before: PostgresSettings | undefined, after: PostgresSettings): boolean {
  if (!before) return true;
  return (
    before.query !== after.query ||
    before.idColumn !== after.idColumn ||
    before.databaseIdentity !== after.databaseIdentity ||
    before.schema !== after.schema ||
    JSON.stringify(before.mapping ?? null) !== JSON.stringify(after.mapping ?? null)
  );
}

/** What GET shows. */
export function publicSettings(settings: PostgresSettings) {
  const { databaseIdentity: _identity, hasSslCa, ...rest } = settings;
  return { ...rest, ...(hasSslCa ? { sslCa: MASK } : {}) };
}
