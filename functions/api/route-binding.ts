import type { Route } from '@middy/http-router';
import type { z } from 'zod';
import { PayloadTooLargeError, UnauthorizedError, ValidationError, type ErrorDetail } from '../../shared/errors/domain-errors.js';
import type { RouteSpec } from '../../shared/http/route-spec.js';
import { appendTenant } from '../../shared/logging/logger.js';
import type { ApiEvent, ApiResult } from './api-event.js';

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

type Parsed<S> = S extends z.ZodType ? z.infer<S> : undefined;

export interface RouteRequest<Q, B, P> {
  /** The tenant of the API key, from the authorizer context only (empty on public routes). */
  tenantId: string;
  query: Q;
  body: B;
  params: P;
  event: ApiEvent;
}

export interface RouteReply {
  status: number;
  body?: unknown;
  /** An HTML page instead of JSON (the OAuth callback, which a browser shows). */
  html?: string;
  headers?: Record<string, string>;
}

/** A page that loads nothing and runs nothing, is never cached, and cannot be framed. */
const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

function validate<S extends z.ZodType>(schema: S, value: unknown, location: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const details: ErrorDetail[] = parsed.error.issues.map((issue) => ({
    field: [location, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  throw new ValidationError(`invalid ${location}: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`, details);
}

function readBody(event: ApiEvent, maxBytes: number): unknown {
  if (event.body === undefined || event.body === null || event.body === '') return undefined;
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (raw.byteLength > maxBytes) throw new PayloadTooLargeError(`request body is larger than ${maxBytes} bytes`);
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ValidationError('request body is not valid JSON', [{ field: 'body', message: 'not valid JSON' }]);
  }
}

/**
 * Turns a route spec and its domain call into a router route: checks the tenant context,
 * validates path, query and body against the spec's schemas (400 naming each bad field),
 * and shapes the JSON answer.
 */
export function bindRoute<Q extends z.ZodType | undefined, B extends z.ZodType | undefined, P extends z.ZodType | undefined>(
  spec: RouteSpec<Q, B, P>,
  handle: (request: RouteRequest<Parsed<Q>, Parsed<B>, Parsed<P>>) => Promise<RouteReply>,
): Route<ApiEvent, ApiResult> {
  return {
    method: spec.method,
    path: spec.path,
    handler: async (event: ApiEvent): Promise<ApiResult> => {
      let tenantId = '';
      if (spec.auth) {
        // The tenant comes from the authorizer's context alone; the authorizer never refuses, so this is the check.
        const context = event.requestContext.authorizer?.lambda;
        tenantId = context?.tenantId ?? '';
        if (!tenantId) {
          throw new UnauthorizedError(
            context?.refusal === 'invalid' ? 'the API key is not valid (unknown, malformed or revoked)' : 'an API key is required: send Authorization: Bearer <apiKey>',
          );
        }
        appendTenant(tenantId);
      }
      const body = readBody(event, spec.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
      if (!spec.body && body !== undefined) {
        throw new ValidationError('this route takes no request body', [{ field: 'body', message: 'unexpected' }]);
      }
      const request = {
        tenantId,
        event,
        params: (spec.params ? validate(spec.params, event.pathParameters ?? {}, 'path') : undefined) as Parsed<P>,
        query: (spec.query ? validate(spec.query, event.queryStringParameters ?? {}, 'query') : undefined) as Parsed<Q>,
        // No body at all is an empty object: a route whose fields are all optional takes it, others name the missing fields.
        body: (spec.body ? validate(spec.body, body ?? {}, 'body') : undefined) as Parsed<B>,
      };
      const reply = await handle(request);
      if (reply.html !== undefined) return { statusCode: reply.status, headers: { ...HTML_HEADERS, ...reply.headers }, body: reply.html };
      return {
        statusCode: reply.status,
        headers: { 'content-type': 'application/json', ...reply.headers },
        ...(reply.body === undefined ? {} : { body: JSON.stringify(reply.body) }),
      };
    },
  };
}
