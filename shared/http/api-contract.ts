import { z } from 'zod';
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
};

export const allApiRoutes = Object.values(apiRoutes);
