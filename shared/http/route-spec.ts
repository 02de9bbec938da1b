import type { z } from 'zod';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
}

/**
 * One route of the public API, as data: the API function validates requests with these
 * schemas, the OpenAPI document is generated from them, the CDK stack creates one API
 * Gateway route per spec, and the local stack routes with them. One source of truth.
 */
export interface RouteSpec<
  Q extends z.ZodType | undefined = z.ZodType | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
  P extends z.ZodType | undefined = z.ZodType | undefined,
> {
  operationId: string;
  method: HttpMethod;
  /** API Gateway style: `/users/{userId}`. */
  path: string;
  /** Needs `Authorization: Bearer <apiKey>` (checked by the authorizer). */
  auth: boolean;
  summary: string;
  query?: Q;
  body?: B;
  params?: P;
  /** Largest accepted request body in bytes (413 above it). */
  maxBodyBytes?: number;
  /** API Gateway's throttle of this route across all tenants (requests/s and burst); the stage's default otherwise. */
  throttle?: { rateLimit: number; burstLimit: number };
  responses: Record<number, ResponseSpec>;
}

export function defineRoute<Q extends z.ZodType | undefined, B extends z.ZodType | undefined, P extends z.ZodType | undefined>(
  spec: RouteSpec<Q, B, P>,
): RouteSpec<Q, B, P> {
  return spec;
}

/** `GET /users/{userId}` → the route key API Gateway uses. */
export const routeKey = (spec: Pick<RouteSpec, 'method' | 'path'>) => `${spec.method} ${spec.path}`;
