import { z } from 'zod';
import { csvEncodings } from '../imports/csv-layout.js';
import { PASTED_CSV_MAX_BYTES } from '../imports/import-service.js';
import { validatePropertyName } from '../properties/property-names.js';
import { propertyTypeSchema } from '../properties/property.js';
import { defineRoute } from './route-spec.js';

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
    mapping: z.record(z.string().min(1).max(255), propertyName).optional(),
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
    summary: 'Start a CSV import: a presigned upload URL, or pasted CSV (`csv`, up to 1 MB)',
    body: createImportBody,
    // Pasted CSV up to 1 MB, JSON-escaped (quotes and newlines may double it).
    maxBodyBytes: PASTED_CSV_MAX_BYTES * 2 + 64 * 1024,
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
};

export const allApiRoutes = Object.values(apiRoutes);
