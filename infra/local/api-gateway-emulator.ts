import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  APIGatewayRequestAuthorizerEventV2,
  Context,
} from 'aws-lambda';
import { routeKey, type RouteSpec } from '../../shared/http/route-spec.js';
import { lambdaContext } from './lambda-context.js';
import { readBodyUpTo } from './request-body.js';

type ApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2 | string | undefined>;
type Authorizer = (event: APIGatewayRequestAuthorizerEventV2) => Promise<{ isAuthorized: boolean; context?: object }>;

export interface ApiGatewayEmulatorOptions {
  host: string;
  port: number;
  routes: readonly Pick<RouteSpec, 'method' | 'path' | 'auth'>[];
  api: ApiHandler;
  authorizer: Authorizer;
  corsOrigins: string[];
}

/** API Gateway HTTP API's payload limit. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
const TEXT_TYPES = /^(text\/|application\/(json|x-www-form-urlencoded|xml|javascript|csv))|\+json/i;

interface CompiledRoute {
  spec: Pick<RouteSpec, 'method' | 'path' | 'auth'>;
  pattern: RegExp;
  names: string[];
  /** The `$default` route's key instead of `METHOD /path`. */
  key?: string;
}

const DEFAULT_ROUTE: CompiledRoute = { spec: { method: 'GET', path: '/', auth: true }, pattern: /^$/, names: [], key: '$default' };

function compile(spec: Pick<RouteSpec, 'method' | 'path' | 'auth'>): CompiledRoute {
  const names: string[] = [];
  const source = spec.path
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(param[1]!);
      return '([^/]+)';
    })
    .join('/');
  return { spec, pattern: new RegExp(`^${source}$`), names };
}

/**
 * Serves the API locally the way API Gateway's HTTP API does in AWS with the stack's
 * configuration: it matches the request to a route of the stack's route table (anything
 * else to `$default`), runs the same Lambda authorizer for authenticated routes and
 * `$default` (no identity source, so for every request; a thrown `Unauthorized` → 401,
 * `isAuthorized: false` → 403, as API Gateway would), builds the payload v2 event, and writes
 * back what the API function answers.
 */
export function startApiGatewayEmulator(options: ApiGatewayEmulatorOptions): Promise<{ server: Server; url: string }> {
  // Like API Gateway: literal paths win over paths with parameters.
  const compiled = options.routes.map(compile).sort((a, b) => a.names.length - b.names.length);

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      console.error('local API gateway error', error);
      send(res, 500, { message: 'Internal Server Error' });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const origin = req.headers.origin;
    if (method === 'OPTIONS' && origin && req.headers['access-control-request-method']) {
      res.writeHead(204, corsHeaders(origin, options.corsOrigins));
      res.end();
      return;
    }
    const body = await readBodyUpTo(req, MAX_PAYLOAD_BYTES);
    if (body === undefined) {
      send(res, 413, { message: 'Request Entity Too Large' });
      return;
    }
    let match: { route: CompiledRoute; values: string[] } | undefined;
    for (const route of compiled) {
      if (route.spec.method !== method) continue;
      const found = route.pattern.exec(url.pathname);
      if (found) {
        match = { route, values: found.slice(1) };
        break;
      }
    }
    // Like the stack's `$default` route: anything else goes to the function (its router's 404), authorized.
    const route = match?.route ?? DEFAULT_ROUTE;
    const event = toEvent(req, url, method, body, route, match?.values ?? []);
    if (route.spec.auth) {
      // No identity source (as in the stack): the authorizer sees every request, with or without the header.
      let verdict: Awaited<ReturnType<Authorizer>>;
      try {
        verdict = await options.authorizer(toAuthorizerEvent(event));
      } catch (error) {
        const unauthorized = error instanceof Error && error.message === 'Unauthorized';
        send(res, unauthorized ? 401 : 500, { message: unauthorized ? 'Unauthorized' : 'Internal Server Error' });
        return;
      }
      if (!verdict.isAuthorized) {
        send(res, 403, { message: 'Forbidden' });
        return;
      }
      (event.requestContext as unknown as { authorizer: unknown }).authorizer = { lambda: verdict.context ?? {} };
    }
    const result = await options.api(event, lambdaContext('roster-api', 29_000));
    writeResult(res, result, origin ? corsHeaders(origin, options.corsOrigins) : {});
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : options.port;
      resolve({ server, url: `http://${options.host}:${port}` });
    });
  });
}

function corsHeaders(origin: string, allowed: string[]): Record<string, string> {
  if (!allowed.includes('*') && !allowed.includes(origin)) return {};
  return {
    'access-control-allow-origin': allowed.includes('*') ? '*' : origin,
    'access-control-allow-headers': 'authorization,content-type',
    'access-control-allow-methods': 'GET,POST,PUT,PATCH,DELETE,OPTIONS',
    'access-control-max-age': '3600',
  };
}


function toEvent(req: IncomingMessage, url: URL, method: string, body: Buffer, route: CompiledRoute, values: string[]): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === 'cookie') continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  // API Gateway tells the function the scheme the client used; locally that is plain HTTP.
  headers['x-forwarded-proto'] ??= 'http';
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = name in query ? `${query[name]},${value}` : value;
  const pathParameters = Object.fromEntries(route.names.map((name, index) => [name, decodeURIComponent(values[index]!)]));
  const isText = body.length === 0 || TEXT_TYPES.test(headers['content-type'] ?? 'application/json');
  const now = new Date();
  const key = route.key ?? routeKey(route.spec);
  return {
    version: '2.0',
    routeKey: key,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    ...(req.headers.cookie ? { cookies: req.headers.cookie.split(/;\s*/) } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(route.names.length > 0 ? { pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: key,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: isText ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !isText,
  };
}

function toAuthorizerEvent(event: APIGatewayProxyEventV2): APIGatewayRequestAuthorizerEventV2 {
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: `arn:aws:execute-api:us-east-1:000000000000:local/$default/${event.requestContext.http.method}${event.rawPath}`,
    identitySource: [event.headers.authorization ?? ''],
    routeKey: event.routeKey,
    rawPath: event.rawPath,
    rawQueryString: event.rawQueryString,
    cookies: event.cookies ?? [],
    headers: event.headers as Record<string, string>,
    queryStringParameters: (event.queryStringParameters ?? {}) as Record<string, string>,
    requestContext: event.requestContext,
    pathParameters: (event.pathParameters ?? {}) as Record<string, string>,
    stageVariables: {},
  };
}

function writeResult(res: ServerResponse, result: APIGatewayProxyStructuredResultV2 | string | undefined, extraHeaders: Record<string, string>) {
  // Like API Gateway: a non-structured result is a 200 JSON answer.
  const structured: APIGatewayProxyStructuredResultV2 =
    typeof result === 'object' && result !== null && 'statusCode' in result
      ? result
      : { statusCode: 200, headers: { 'content-type': 'application/json' }, body: typeof result === 'string' ? result : JSON.stringify(result) };
  const headers: Record<string, string | string[]> = { ...extraHeaders };
  for (const [name, value] of Object.entries(structured.headers ?? {})) headers[name.toLowerCase()] = String(value);
  if (structured.cookies?.length) headers['set-cookie'] = structured.cookies;
  const body = structured.body === undefined ? undefined : Buffer.from(structured.body, structured.isBase64Encoded ? 'base64' : 'utf8');
  res.writeHead(structured.statusCode ?? 200, headers);
  res.end(body);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
