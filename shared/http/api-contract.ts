import * as z from 'zod';
import { EVENT_NAME_PATTERN } from '../events/event-service.js';
import { csvEncodings } from '../imports/csv-encodings.js';
import { validatePropertyName } from '../properties/property-names.js';
import { propertyTypeSchema } from '../properties/property.js';
import { defineRoute } from './route-spec.js';
import { previewPostgresBody, putPostgresSettingsBody } from '../integrations/postgres/postgres-settings.js';
import { putSalesforceSettingsBody } from '../integrations/salesforce/salesforce-settings.js';

/**
 * The largest body a route may take: Lambda refuses a synchronous invocation over 6 MB, and the
 * event holds the body JSON-escaped once more plus the headers, so 4 MB leaves room for both.
 */
const LAMBDA_REQUEST_MAX_BYTES = 4 * 1024 * 1024;

/** Shapes shared by many routes (API.md: error format, lists). */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  }),
});

export const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: z.string().max(4096).optional(),
});

const listOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

const errors = {
  400: { description: 'Bad input; `details` names the fields', schema: errorBodySchema },
  401: { description: 'Missing, wrong or revoked API key', schema: errorBodySchema },
} as const;

/** The expensive routes count against a per-tenant budget per minute (shared/http/tenant-rate-limit.ts). */
/** The expensive routes also get a tighter API Gateway throttle than the stage's 100/s, across all tenants. */
const expensiveRouteThrottle = { rateLimit: 10, burstLimit: 20 } as const;

const rateLimited = { 429: { description: 'Too many such requests this minute for this tenant; the message says when to retry', schema: errorBodySchema } } as const;

export const propertySchema = z.object({
  name: z.string(),
  type: propertyTypeSchema,
  source: z.enum(['api', 'csv', 'postgres', 'salesforce']),
  createdAt: z.string(),
});

const propertyName = z.string().superRefine((name, context) => {
  const problem = validatePropertyName(name);
  if (problem) context.addIssue({ code: 'custom', message: problem });
});

export const createImportBody = z
  .object({
    filename: z.string().min(1).max(255).optional(),
    sizeBytes: z.number().int().min(1).optional(),
    encoding: z.enum(csvEncodings).optional(),
    mapping: z
      .record(z.string().min(1).max(255), propertyName)
      .superRefine((mapping, context) => {
        // Two columns into one property would let the later column silently win on every row.
        const seen = new Map<string, string>();
        for (const [column, property] of Object.entries(mapping)) {
          const earlier = seen.get(property);
          if (earlier !== undefined) context.addIssue({ code: 'custom', path: [column], message: `the columns "${earlier}" and "${column}" both map to the property "${property}"` });
          seen.set(property, column);
        }
      })
      .optional(),
    emailColumn: z.string().min(1).max(255).optional(),
    mode: z.enum(['upsert', 'update_only']).optional(),
    csv: z.string().optional(),
  })
  .strict()
  .refine((body) => !(body.csv !== undefined && body.sizeBytes !== undefined), {
    message: 'sizeBytes is for uploads; pasted csv needs none',
    path: ['sizeBytes'],
  });

const countsSchema = z.object({
  rows: z.number(),
  created: z.number(),
  updated: z.number(),
  unchanged: z.number(),
  skipped: z.number(),
  failed: z.number(),
});

export const importSchema = z.object({
  importId: z.string(),
  status: z.enum(['waiting_upload', 'processing', 'completed', 'completed_with_errors', 'failed']),
  filename: z.string().nullable(),
  encoding: z.enum(csvEncodings).optional(),
  delimiter: z.string().optional(),
  mode: z.enum(['upsert', 'update_only']),
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  counts: countsSchema,
  errors: z.array(z.object({ line: z.number(), column: z.string().optional(), value: z.string().optional(), message: z.string() })),
  errorCount: z.number().describe('All row errors; `errors` holds the first 100'),
  duplicateRows: z.number().describe('Rows whose email appeared earlier in the same file'),
  errorReportUrl: z.string().optional().describe('Presigned GET of the full error report (CSV), valid 15 minutes'),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

const importIdParams = z.object({ importId: z.string().min(1).max(80) });

export const userSchema = z.object({
  userId: z.string(),
  email: z.string(),
  externalId: z.string().optional(),
  properties: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const eventSchema = z.object({
  eventId: z.string(),
  userId: z.string(),
  type: z.string(),
  occurredAt: z.string(),
  properties: z.record(z.string(), z.unknown()),
  source: z.string(),
});

const userIdParams = z.object({ userId: z.string().min(1).max(80) });
const externalIdField = z.string().trim().min(1).max(255);
const propertyValues = z.record(propertyName, z.unknown());
/** What a client may write of a user (POST needs the email; PATCH takes any of them). */
const userFields = { email: z.string().max(400), externalId: externalIdField.optional(), properties: propertyValues.optional() };
const timeBound = z
  .string()
  .max(40)
  .refine((value) => /^\d{4}-\d{2}-\d{2}($|T)/.test(value) && !Number.isNaN(new Date(value).getTime()), 'must be an ISO 8601 date or date-time');

export const createExportBody = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('users'),
      properties: z.array(propertyName).min(1).max(1000).optional().describe('Property columns after the fixed ones; default: every property'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('events'),
      types: z.array(z.string().regex(EVENT_NAME_PATTERN, 'must be 1–100 characters of A-Z a-z 0-9 _ . : -')).min(1).max(100).optional(),
      from: timeBound.optional(),
      to: timeBound.optional(),
    })
    .strict(),
]);

export const exportSchema = z.object({
  exportId: z.string(),
  kind: z.enum(['users', 'events']),
  status: z.enum(['processing', 'completed', 'failed']),
  rows: z.number().describe('Rows written so far (all of them once completed)'),
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  downloadUrl: z.string().optional().describe('Presigned GET of the CSV (UTF-8 with BOM), valid one hour from this answer'),
  expiresAt: z.string().optional().describe('When `downloadUrl` stops working; the file itself is kept 7 days'),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

const rowErrorSchema = z.object({ line: z.number(), column: z.string().optional(), value: z.string().optional(), message: z.string() });

export const syncRunSchema = z.object({
  runId: z.string(),
  trigger: z.enum(['schedule', 'manual']),
  status: z.enum(['running', 'succeeded', 'failed']),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  counts: countsSchema.extend({ nullUpdatedAt: z.number().describe('Rows whose updated_at was null: read on every run') }),
  errors: z.array(rowErrorSchema).optional().describe('The first 100 row errors; `line` is the row number in the result'),
  errorCount: z.number(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

export const postgresIntegrationSchema = z.object({
  kind: z.literal('postgres'),
  connectionUrl: z.string().describe('Masked: the password is ****'),
  schema: z.string().optional(),
  sslCa: z.literal('****').optional(),
  query: z.string(),
  emailColumn: z.string().optional(),
  idColumn: z.string().optional(),
  fallbackToEmail: z.boolean(),
  mapping: z.record(z.string(), z.string()).optional(),
  mode: z.enum(['upsert', 'update_only']),
  schedule: z.string(),
  enabled: z.boolean(),
  connected: z.boolean().describe('false when the last run could not connect or log in'),
  nextRunAt: z.string().nullable().describe('The next scheduled firing (the run starts within the 30-minute flexible window after it)'),
  lastRun: syncRunSchema.optional(),
});

const salesforceRunExtras = {
  exportCounts: z
    .object({ users: z.number(), created: z.number(), updated: z.number(), unchanged: z.number(), skipped: z.number(), failed: z.number() })
    .optional()
    .describe('Salesforce: the export half of the run (users examined; records created, updated, already up to date, skipped in mode existing, failed)'),
  apiCalls: z.number().optional().describe('Salesforce: the API requests the run sent'),
};

export const salesforceIntegrationSchema = z.object({
  kind: z.literal('salesforce'),
  connected: z.boolean().describe('true once the OAuth callback stored tokens, until the org refuses them (invalid_grant)'),
  connection: z
    .object({
      orgId: z.string().optional(),
      instanceUrl: z.string(),
      loginUrl: z.string(),
      connectedAt: z.string(),
      disconnectedAt: z.string().optional(),
      disconnectedReason: z.string().optional(),
    })
    .optional(),
  import: z
    .object({ enabled: z.boolean(), object: z.string(), emailField: z.string(), mode: z.enum(['all', 'existing']), fields: z.record(z.string(), z.string()).describe('field → property') })
    .optional(),
  export: z.object({ enabled: z.boolean(), userIdField: z.string(), mode: z.enum(['all', 'existing']), mapping: z.record(z.string(), z.string()).describe('property → field') }).optional(),
  schedule: z.string().optional(),
  maxApiShare: z.number().optional().describe("A run stops before taking the org past this share of its daily API requests (default 0.5)"),
  warnings: z.array(z.string()).optional(),
  enabled: z.boolean(),
  nextRunAt: z.string().nullable(),
  lastRun: syncRunSchema.extend(salesforceRunExtras).optional(),
});

const salesforceFieldSchema = z.object({
  name: z.string(),
  label: z.string(),
  type: z.string(),
  length: z.number().optional(),
  updateable: z.boolean(),
  createable: z.boolean(),
  externalId: z.boolean(),
  unique: z.boolean(),
  nillable: z.boolean().optional(),
  defaultedOnCreate: z.boolean().optional(),
});

const salesforceOrgErrors = {
  404: { description: 'Salesforce is not connected, or the org has no such object', schema: errorBodySchema },
  422: { description: 'The org refused (disconnected: connect again; or its own error code and message)', schema: errorBodySchema },
} as const;

const kindParams = z.object({ kind: z.enum(['postgres', 'salesforce']) });
const integrationErrors = { 404: { description: 'No such integration is configured', schema: errorBodySchema }, ...errors } as const;

const notFound = { 404: { description: 'No such user for this tenant', schema: errorBodySchema } } as const;

/** The routes of the HTTP API (API.md). Later capabilities add theirs here. */
export const apiRoutes = {
  health: defineRoute({
    operationId: 'getHealth',
    method: 'GET',
    path: '/health',
    auth: false,
    summary: 'Liveness check',
    responses: { 200: { description: 'The API answers', schema: z.object({ status: z.literal('ok') }) } },
  }),
  openapi: defineRoute({
    operationId: 'getOpenApiDocument',
    method: 'GET',
    path: '/openapi.json',
    auth: false,
    summary: 'This document',
    responses: { 200: { description: 'The OpenAPI 3.1 document of this API' } },
  }),
  listProperties: defineRoute({
    operationId: 'listProperties',
    method: 'GET',
    path: '/properties',
    auth: true,
    summary: "The tenant's property registry",
    query: listQuerySchema,
    responses: { 200: { description: 'A page of properties', schema: listOf(propertySchema) }, ...errors },
  }),
  defineProperty: defineRoute({
    operationId: 'defineProperty',
    method: 'POST',
    path: '/properties',
    auth: true,
    summary: 'Declare a property and its type (or change the type of one no user holds a value of)',
    body: z.object({ name: propertyName, type: propertyTypeSchema }).strict(),
    responses: {
      201: { description: 'Created', schema: propertySchema },
      200: { description: 'Already defined (same type), or its type changed', schema: propertySchema },
      409: { description: 'Users hold values of it, so its type cannot change', schema: errorBodySchema },
      ...errors,
    },
  }),
  createImport: defineRoute({
    operationId: 'createImport',
    method: 'POST',
    path: '/imports',
    auth: true,
    throttle: expensiveRouteThrottle,
    summary: 'Start a CSV import: a presigned upload URL, or pasted CSV (`csv`, up to 1 MB)',
    body: createImportBody,
    // Pasted CSV up to 1 MB, JSON-escaped: `\u00e9`-style escapes make a body ~3× the UTF-8 text
    // of accented Latin, so the body may be as large as Lambda allows; the csv itself is checked after parsing.
    maxBodyBytes: LAMBDA_REQUEST_MAX_BYTES,
    responses: {
      201: {
        description: 'Upload the file with PUT to `uploadUrl`, sending `uploadHeaders`; the upload starts the import',
        schema: z.object({
          importId: z.string(),
          status: z.literal('waiting_upload'),
          uploadUrl: z.string(),
          uploadMethod: z.literal('PUT'),
          uploadHeaders: z.record(z.string(), z.string()),
          expiresAt: z.string(),
          maxBytes: z.number(),
        }),
      },
      202: { description: 'Pasted CSV accepted', schema: z.object({ importId: z.string(), status: z.literal('processing') }) },
      413: { description: 'Pasted csv above 1 MB, or sizeBytes above the limit', schema: errorBodySchema },
      ...rateLimited,
      ...errors,
    },
  }),
  listImports: defineRoute({
    operationId: 'listImports',
    method: 'GET',
    path: '/imports',
    auth: true,
    summary: 'Imports, newest first',
    query: listQuerySchema,
    responses: { 200: { description: 'A page of imports', schema: listOf(importSchema) }, ...errors },
  }),
  getImport: defineRoute({
    operationId: 'getImport',
    method: 'GET',
    path: '/imports/{importId}',
    auth: true,
    summary: 'Status, counts and errors of an import',
    params: importIdParams,
    responses: { 200: { description: 'The import', schema: importSchema }, 404: { description: 'No such import', schema: errorBodySchema }, ...errors },
  }),
  listUsers: defineRoute({
    operationId: 'listUsers',
    method: 'GET',
    path: '/users',
    auth: true,
    summary: 'Users, or the one user with an email or external ID',
    query: listQuerySchema.extend({ email: z.string().max(400).optional(), externalId: externalIdField.optional() }),
    responses: { 200: { description: 'A page of users', schema: listOf(userSchema) }, ...errors },
  }),
  createUser: defineRoute({
    operationId: 'createUser',
    method: 'POST',
    path: '/users',
    auth: true,
    summary: 'Create a user, or update the one with this email (an upsert)',
    body: z.object(userFields).strict(),
    responses: {
      201: { description: 'Created', schema: userSchema },
      200: { description: 'A user with this email existed and was updated', schema: userSchema },
      409: { description: 'The externalId belongs to another user', schema: errorBodySchema },
      ...errors,
    },
  }),
  getUser: defineRoute({
    operationId: 'getUser',
    method: 'GET',
    path: '/users/{userId}',
    auth: true,
    summary: 'One user',
    params: userIdParams,
    responses: { 200: { description: 'The user', schema: userSchema }, ...notFound, ...errors },
  }),
  patchUser: defineRoute({
    operationId: 'patchUser',
    method: 'PATCH',
    path: '/users/{userId}',
    auth: true,
    summary: 'Change a user’s email, external ID or properties',
    params: userIdParams,
    body: z
      .object({ ...userFields, email: userFields.email.optional() })
      .strict()
      .refine((body) => body.email !== undefined || body.externalId !== undefined || body.properties !== undefined, { message: 'name at least one of email, externalId, properties' }),
    responses: {
      200: { description: 'The updated user', schema: userSchema },
      409: { description: 'The email or externalId belongs to another user', schema: errorBodySchema },
      ...notFound,
      ...errors,
    },
  }),
  deleteUser: defineRoute({
    operationId: 'deleteUser',
    method: 'DELETE',
    path: '/users/{userId}',
    auth: true,
    summary: 'Erase a user: the profile, its email and external-ID lookups, and all its events',
    params: userIdParams,
    responses: { 204: { description: 'Deleted' }, ...notFound, ...errors },
  }),
  postEvents: defineRoute({
    operationId: 'postEvents',
    method: 'POST',
    path: '/events',
    auth: true,
    summary: 'Record 1–100 events; each bad event is rejected alone',
    body: z.object({ events: z.array(z.unknown()).min(1).max(100) }).strict(),
    responses: {
      202: { description: 'Stored the accepted events', schema: z.object({ accepted: z.number(), rejected: z.array(z.object({ index: z.number(), message: z.string() })) }) },
      ...errors,
    },
  }),
  listUserEvents: defineRoute({
    operationId: 'listUserEvents',
    method: 'GET',
    path: '/users/{userId}/events',
    auth: true,
    summary: 'A user’s timeline, newest first; `from`/`to` inclusive (a date alone covers the whole day, UTC)',
    params: userIdParams,
    query: listQuerySchema.extend({ type: z.string().max(100).optional(), from: timeBound.optional(), to: timeBound.optional() }),
    responses: { 200: { description: 'A page of events', schema: listOf(eventSchema) }, ...notFound, ...errors },
  }),
  createExport: defineRoute({
    operationId: 'createExport',
    method: 'POST',
    path: '/exports',
    auth: true,
    throttle: expensiveRouteThrottle,
    summary: 'Export users (default columns plus chosen properties) or events (types, date range) to CSV',
    body: createExportBody,
    responses: {
      202: { description: 'The export runs; follow it with GET /exports/{exportId}', schema: z.object({ exportId: z.string(), status: z.literal('processing') }) },
      ...rateLimited,
      ...errors,
    },
  }),
  getExport: defineRoute({
    operationId: 'getExport',
    method: 'GET',
    path: '/exports/{exportId}',
    auth: true,
    summary: 'Status and row count of an export; `downloadUrl` once completed',
    params: z.object({ exportId: z.string().min(1).max(80) }),
    responses: { 200: { description: 'The export', schema: exportSchema }, 404: { description: 'No such export', schema: errorBodySchema }, ...errors },
  }),
  putPostgresIntegration: defineRoute({
    operationId: 'putPostgresIntegration',
    method: 'PUT',
    path: '/integrations/postgres',
    auth: true,
    summary: 'Save the PostgreSQL sync: connection (stored in Secrets Manager), query, mapping, mode, schedule',
    body: putPostgresSettingsBody,
    maxBodyBytes: 256 * 1024,
    responses: { 200: { description: 'The saved settings, masked', schema: postgresIntegrationSchema }, ...errors },
  }),
  previewPostgres: defineRoute({
    operationId: 'previewPostgres',
    method: 'POST',
    path: '/integrations/postgres/preview',
    auth: true,
    throttle: expensiveRouteThrottle,
    summary: 'Run the query read-only: its columns with their PostgreSQL types and the first 10 rows',
    body: previewPostgresBody,
    maxBodyBytes: 256 * 1024,
    responses: {
      200: {
        description: 'Columns and rows',
        schema: z.object({
          columns: z.array(z.object({ name: z.string(), type: z.string() })),
          rows: z.array(z.record(z.string(), z.unknown())),
          incremental: z
            .enum(['variable', 'updated_at', 'full'])
            .describe('How runs read it: the query filters on $LAST_SYNC_TIMESTAMP, Roster filters on its updated_at column, or every run reads every row'),
        }),
      },
      422: { description: "PostgreSQL refused the query or the connection: its message (never the password)", schema: errorBodySchema },
      ...rateLimited,
      ...errors,
    },
  }),
  connectSalesforce: defineRoute({
    operationId: 'connectSalesforce',
    method: 'POST',
    path: '/integrations/salesforce/connect',
    auth: true,
    throttle: expensiveRouteThrottle,
    summary: 'Start connecting a Salesforce org: the authorize URL (OAuth 2.0 web-server flow with PKCE; its state is single-use and expires in 10 minutes)',
    body: z.object({ loginUrl: z.string().max(200).optional().describe('https://login.salesforce.com (default), https://test.salesforce.com, or a My Domain URL') }).strict().optional(),
    maxBodyBytes: 4 * 1024,
    responses: {
      200: { description: 'Open authorizeUrl in the admin\'s browser', schema: z.object({ authorizeUrl: z.string(), expiresAt: z.string() }) },
      422: { description: 'No Salesforce connected app is configured on this Roster', schema: errorBodySchema },
      ...errors,
    },
  }),
  salesforceCallback: defineRoute({
    operationId: 'salesforceCallback',
    method: 'GET',
    path: '/integrations/salesforce/callback',
    auth: false,
    summary: "Salesforce's OAuth redirect (no API key: the state binds it to the tenant). An HTML page says whether the org is connected",
    query: z.object({ code: z.string().max(2048).optional(), state: z.string().max(200).optional(), error: z.string().max(200).optional(), error_description: z.string().max(2048).optional() }),
    responses: { 200: { description: 'HTML: connected' }, 400: { description: 'HTML: a missing, expired, replayed or forged state, or a refused code; nothing stored' } },
  }),
  listSalesforceObjects: defineRoute({
    operationId: 'listSalesforceObjects',
    method: 'GET',
    path: '/integrations/salesforce/objects',
    auth: true,
    summary: "The org's queryable objects, for choosing the import's object",
    responses: {
      200: {
        description: 'Objects',
        schema: listOf(z.object({ name: z.string(), label: z.string(), custom: z.boolean(), queryable: z.boolean(), createable: z.boolean(), updateable: z.boolean() })),
      },
      ...salesforceOrgErrors,
      ...errors,
    },
  }),
  listSalesforceFields: defineRoute({
    operationId: 'listSalesforceFields',
    method: 'GET',
    path: '/integrations/salesforce/objects/{name}/fields',
    auth: true,
    summary: "An object's fields (name, label, type, updateable, createable, externalId, unique), for choosing fields and the export's userIdField",
    params: z.object({ name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,79}$/, 'must be a Salesforce API name') }),
    responses: { 200: { description: 'Fields', schema: listOf(salesforceFieldSchema).extend({ object: z.string(), label: z.string() }) }, ...salesforceOrgErrors, ...errors },
  }),
  putSalesforceIntegration: defineRoute({
    operationId: 'putSalesforceIntegration',
    method: 'PUT',
    path: '/integrations/salesforce',
    auth: true,
    summary: 'Save the Salesforce sync (checked against the org): import object, email field, fields, mode; export userIdField, mapping, mode; schedule; maxApiShare',
    body: putSalesforceSettingsBody,
    maxBodyBytes: 256 * 1024,
    responses: {
      200: { description: 'The saved settings (with warnings, e.g. a userIdField that is not External ID + Unique)', schema: salesforceIntegrationSchema },
      ...salesforceOrgErrors,
      ...errors,
    },
  }),
  getIntegration: defineRoute({
    operationId: 'getIntegration',
    method: 'GET',
    path: '/integrations/{kind}',
    auth: true,
    summary: 'The saved settings, masked, with `connected` and `nextRunAt`',
    params: kindParams,
    responses: { 200: { description: 'The integration', schema: z.union([postgresIntegrationSchema, salesforceIntegrationSchema]) }, ...integrationErrors },
  }),
  deleteIntegration: defineRoute({
    operationId: 'deleteIntegration',
    method: 'DELETE',
    path: '/integrations/{kind}',
    auth: true,
    summary: 'Remove the settings, the secret and the schedule (idempotent)',
    params: kindParams,
    responses: { 204: { description: 'Deleted, or there was nothing to delete' }, ...errors },
  }),
  startIntegrationRun: defineRoute({
    operationId: 'startIntegrationRun',
    method: 'POST',
    path: '/integrations/{kind}/runs',
    auth: true,
    throttle: expensiveRouteThrottle,
    summary: 'Run the sync now',
    params: kindParams,
    responses: {
      202: { description: 'The run started; follow it with GET …/runs', schema: z.object({ runId: z.string(), status: z.literal('running') }) },
      409: { description: 'A run is in progress (one at a time)', schema: errorBodySchema },
      ...rateLimited,
      ...integrationErrors,
    },
  }),
  listIntegrationRuns: defineRoute({
    operationId: 'listIntegrationRuns',
    method: 'GET',
    path: '/integrations/{kind}/runs',
    auth: true,
    summary: 'Run history, newest first (kept 90 days)',
    params: kindParams,
    query: listQuerySchema,
    responses: { 200: { description: 'A page of runs', schema: listOf(syncRunSchema.extend(salesforceRunExtras)) }, ...errors },
  }),
};

export const allApiRoutes = Object.values(apiRoutes);
