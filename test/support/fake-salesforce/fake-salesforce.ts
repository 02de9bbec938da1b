/**
 * A faithful fake Salesforce for tests and local use: one HTTP server that is both the login server
 * (OAuth 2.0 web-server flow with PKCE) and the instance of every fake org (REST API: limits,
 * describe, SOQL query with cursors, sObject rows and Collections; Bulk API 2.0 query and ingest).
 *
 * Orgs are fully isolated: an access token belongs to one org and only ever sees that org's data,
 * limits and jobs. Wire formats follow Salesforce's documentation, so production code using
 * jsforce's Connection / OAuth2 / request / bulk2 can be tested against it unchanged.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BulkJobs, type BulkOrgContext } from './bulk-jobs.js';
import { AuthorizeError, OAuthError, OAuthServer, type TokenResponse } from './oauth.js';
import {
  ApiError,
  OrgData,
  isNumberType,
  normalizeId,
  soapType,
  toBase62,
  toJsonValue,
  type FakeFieldSpec,
  type FieldDef,
  type Row,
  type Table,
  type WriteOutcome,
} from './org-data.js';
import { compileSoql } from './soql.js';

export type { FakeFieldSpec, FieldType } from './org-data.js';
export { DEFAULT_QUERY_PAGE_SIZE } from './bulk-jobs.js';

export interface FakeSalesforceOptions {
  port?: number;
  clientId?: string;
  clientSecret?: string;
  /** Issue a new refresh token on every refresh and revoke the family when an old one is reused (default true). */
  rotateRefreshTokens?: boolean;
  /** Access tokens stop working this long after they were issued (default: never by time). */
  accessTokenTtlMs?: number;
}

export interface FakeRequestLogEntry {
  method: string;
  path: string;
  orgId?: string;
  status: number;
  /** false for the login server's /services/oauth2/* (and /id) requests. */
  api: boolean;
}

export interface FakeFault {
  method?: string;
  /** Matched against the URL's pathname + search. */
  path: RegExp;
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** How many matching requests answer this fault (default 1). */
  times?: number;
}

export interface FakeSalesforce {
  /** http://127.0.0.1:<port>: both the login server (loginUrl) and every org's instance URL. */
  url: string;
  clientId: string;
  clientSecret: string;
  /** The org with this id, created on first use. */
  org(orgId: string): FakeOrg;
  defaultOrgId: string;
  /**
   * The user logs in and clicks Allow (or Deny) on the authorize URL: returns the redirect URL
   * (redirect_uri?code=..&state=..), validating the request like the real authorize endpoint.
   */
  approve(authorizeUrl: string, options?: { orgId?: string; deny?: boolean }): string;
  /** Tokens for an org without the OAuth dance (extra: for tests that only need a session). */
  login(orgId?: string): TokenResponse;
  expireSessions(orgId?: string): void;
  revokeAll(orgId: string): void;
  injectFault(fault: FakeFault): void;
  requests: FakeRequestLogEntry[];
  apiCalls(orgId?: string): number;
  resetCounters(): void;
  close(): Promise<void>;
}

export interface FakeOrg {
  id: string;
  setApiUsage(used: number, max: number): void;
  apiUsage(): { used: number; max: number };
  setClock(iso: string | (() => string)): void;
  insert(object: string, records: Array<Record<string, unknown>>): string[];
  update(object: string, id: string, values: Record<string, unknown>): void;
  delete(object: string, id: string): void;
  records(object: string): Array<Record<string, unknown>>;
  find(object: string, id: string): Record<string, unknown> | undefined;
  failWrites(
    predicate: ((object: string, record: Record<string, unknown>) => { statusCode: string; message: string; fields?: string[] } | undefined) | undefined,
  ): void;
  stallIngestJobs(stall: boolean): void;
  stallQueryJobs(stall: boolean): void;
  failNextQueryJob(message: string): void;
  addField(object: string, field: FakeFieldSpec): void;
  jobs(): { query: Array<{ id: string; state: string }>; ingest: Array<{ id: string; state: string }> };
}

const DEFAULT_API_MAX = 100_000;
const DEFAULT_QUERY_BATCH = 2_000;
const MIN_QUERY_BATCH = 200;
const COLLECTION_MAX = 200;
const API_VERSIONS = ['58.0', '59.0', '60.0', '61.0', '62.0', '63.0', '64.0'];

/** A REST query in progress: the snapshot of its rows and the page size it started with. */
interface QueryCursor {
  table: Table;
  fields: FieldDef[];
  rows: Row[];
  batchSize: number;
}

class Org implements FakeOrg, BulkOrgContext {
  readonly data: OrgData;
  readonly bulk: BulkJobs;
  readonly sfOrgId15: string;
  readonly userId: string;
  readonly username: string;
  readonly cursors = new Map<string, QueryCursor>();
  private usage = { used: 0, max: DEFAULT_API_MAX };
  private readonly queryFailures: string[] = [];
  private stallIngest = false;
  private stallQuery = false;
  bulkQueryJobsCreated = 0;
  bulkBatchesUsed = 0;

  constructor(
    readonly id: string,
    index: number,
  ) {
    // Realistic, org-specific ids: the two "pod" characters differ per org, so ids never collide.
    const pod = toBase62(62 * 13 + index, 2);
    this.data = new OrgData(pod);
    this.sfOrgId15 = `00D${pod}0000${toBase62(index + 1, 6)}`;
    this.userId = this.data.newId('005');
    this.username = `integration.user@${id}.example.com`;
    this.bulk = new BulkJobs(this);
  }

  // BulkOrgContext
  get ingestJobsStalled(): boolean {
    return this.stallIngest;
  }
  get queryJobsStalled(): boolean {
    return this.stallQuery;
  }
  takeQueryJobFailure(): string | undefined {
    return this.queryFailures.shift();
  }

  /** Counts one API request; false when the daily allocation is used up (the request is refused). */
  countApiRequest(): boolean {
    if (this.usage.used >= this.usage.max) return false;
    this.usage.used++;
    return true;
  }

  limitInfo(): string {
    return `api-usage=${this.usage.used}/${this.usage.max}`;
  }

  // FakeOrg
  setApiUsage(used: number, max: number): void {
    this.usage = { used, max };
  }
  apiUsage(): { used: number; max: number } {
    return { ...this.usage };
  }
  setClock(iso: string | (() => string)): void {
    this.data.setClock(iso);
  }
  insert(object: string, records: Array<Record<string, unknown>>): string[] {
    return this.data.seed(object, records);
  }
  update(object: string, id: string, values: Record<string, unknown>): void {
    this.data.seedUpdate(object, id, values);
  }
  delete(object: string, id: string): void {
    this.data.softDelete(object, id);
  }
  records(object: string): Array<Record<string, unknown>> {
    const table = this.data.tableOrThrow(object);
    return table.rows.map((row) => table.toObject(row));
  }
  find(object: string, id: string): Record<string, unknown> | undefined {
    const table = this.data.tableOrThrow(object);
    const row = table.rowById(normalizeId(id) ?? id);
    return row ? table.toObject(row) : undefined;
  }
  failWrites(predicate: Parameters<FakeOrg['failWrites']>[0]): void {
    this.data.failWrites(predicate);
  }
  stallIngestJobs(stall: boolean): void {
    this.stallIngest = stall;
  }
  stallQueryJobs(stall: boolean): void {
    this.stallQuery = stall;
  }
  failNextQueryJob(message: string): void {
    this.queryFailures.push(message);
  }
  addField(object: string, field: FakeFieldSpec): void {
    this.data.addField(object, field);
  }
  jobs() {
    return this.bulk.list();
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------------

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseJsonBody(body: Buffer): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(body.toString('utf8') || 'null');
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch (err) {
    throw new ApiError(400, 'JSON_PARSER_ERROR', `Unexpected character: ${(err as Error).message} at [line:1, column:1]`);
  }
  throw new ApiError(400, 'JSON_PARSER_ERROR', 'Cannot deserialize instance of the request body from a non-object value at [line:1, column:1]');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendApiError(res: ServerResponse, err: ApiError, headers: Record<string, string> = {}): void {
  sendJson(res, err.status, [{ message: err.message, errorCode: err.errorCode, ...(err.fields ? { fields: err.fields } : {}) }], headers);
}

/** Default answers for injected faults without a body, in Salesforce's error format. */
function defaultFaultBody(status: number): unknown {
  switch (status) {
    case 503:
      return [{ message: 'Service Unavailable', errorCode: 'SERVER_UNAVAILABLE' }];
    case 401:
      return [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }];
    case 403:
      return [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }];
    case 404:
      return [{ message: 'The requested resource does not exist', errorCode: 'NOT_FOUND' }];
    default:
      return [{ message: 'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)', errorCode: 'UNKNOWN_EXCEPTION' }];
  }
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

interface PendingFault extends FakeFault {
  remaining: number;
}

class FakeSalesforceServer implements FakeSalesforce {
  url = '';
  readonly clientId: string;
  readonly clientSecret: string;
  readonly defaultOrgId = 'org-default';
  readonly requests: FakeRequestLogEntry[] = [];
  private readonly orgs = new Map<string, Org>();
  private readonly faults: PendingFault[] = [];
  private readonly oauth: OAuthServer;
  private readonly server: Server;

  constructor(options: FakeSalesforceOptions) {
    this.clientId = options.clientId ?? 'fake-client-id';
    this.clientSecret = options.clientSecret ?? 'fake-client-secret';
    this.oauth = new OAuthServer(
      {
        clientId: this.clientId,
        clientSecret: this.clientSecret,
        rotateRefreshTokens: options.rotateRefreshTokens ?? true,
        ...(options.accessTokenTtlMs !== undefined ? { accessTokenTtlMs: options.accessTokenTtlMs } : {}),
      },
      () => this.url,
      (orgId) => {
        const org = this.orgState(orgId);
        return { id: org.id, sfOrgId15: org.sfOrgId15, userId: org.userId };
      },
    );
    this.orgState(this.defaultOrgId);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        console.error('fake-salesforce: unexpected error', err);
        if (!res.headersSent) sendApiError(res, new ApiError(500, 'UNKNOWN_EXCEPTION', 'An unexpected error occurred.'));
        else res.destroy();
      });
    });
  }

  async listen(port: number): Promise<void> {
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private orgState(orgId: string): Org {
    let org = this.orgs.get(orgId);
    if (!org) {
      org = new Org(orgId, this.orgs.size);
      this.orgs.set(orgId, org);
    }
    return org;
  }

  org(orgId: string): FakeOrg {
    return this.orgState(orgId);
  }

  approve(authorizeUrl: string, options: { orgId?: string; deny?: boolean } = {}): string {
    const orgId = options.orgId ?? new URL(authorizeUrl, this.url || 'http://localhost').searchParams.get('org') ?? this.defaultOrgId;
    this.orgState(orgId);
    try {
      return this.oauth.approve(authorizeUrl, { orgId, ...(options.deny !== undefined ? { deny: options.deny } : {}) });
    } catch (err) {
      if (err instanceof AuthorizeError) throw new Error(`The authorize request cannot be approved: ${decodeURIComponent(err.message)}`);
      throw err;
    }
  }

  login(orgId: string = this.defaultOrgId): TokenResponse {
    this.orgState(orgId);
    return this.oauth.issueTokens(orgId);
  }

  expireSessions(orgId?: string): void {
    this.oauth.expireSessions(orgId);
  }

  revokeAll(orgId: string): void {
    this.oauth.revokeAll(orgId);
  }

  injectFault(fault: FakeFault): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  apiCalls(orgId?: string): number {
    return this.requests.filter((r) => r.api && (orgId === undefined || r.orgId === orgId)).length;
  }

  resetCounters(): void {
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    const closed = once(this.server, 'close');
    this.server.close();
    this.server.closeAllConnections();
    await closed;
  }

  // -------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = (req.method ?? 'GET').toUpperCase();
    const entry: FakeRequestLogEntry = { method, path: url.pathname + url.search, status: 0, api: false };
    res.on('finish', () => {
      entry.status = res.statusCode;
      this.requests.push(entry);
    });

    if (url.pathname.startsWith('/services/oauth2/')) return this.handleOAuth(req, res, url, method);
    if (url.pathname.startsWith('/id/')) return this.handleIdentity(req, res, url, entry);
    if (url.pathname === '/services/data' || url.pathname === '/services/data/') {
      // The versions list needs no session on Salesforce either.
      return sendJson(res, 200, API_VERSIONS.map((v) => ({ label: `v${v}`, url: `/services/data/v${v}`, version: v })));
    }
    const match = /^\/services\/data\/v(\d+\.\d)(\/.*)?$/.exec(url.pathname);
    if (!match) return sendApiError(res, new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist'));
    entry.api = true;

    const token = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    const orgId = token ? this.oauth.orgOfAccessToken(token) : undefined;
    if (orgId) entry.orgId = orgId;

    const fault = this.takeFault(method, url.pathname + url.search);
    if (fault) {
      await readBody(req);
      // A fault stands for an answer Salesforce gave without doing the work: it is not counted against the quota.
      const limitInfo: Record<string, string> = orgId ? { 'Sforce-Limit-Info': this.orgState(orgId).limitInfo() } : {};
      return sendJson(res, fault.status, fault.body ?? defaultFaultBody(fault.status), { ...limitInfo, ...(fault.headers ?? {}) });
    }
    if (!orgId) {
      await readBody(req);
      return sendJson(res, 401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }], { 'WWW-Authenticate': 'Token' });
    }
    const org = this.orgState(orgId);
    if (!org.countApiRequest()) {
      await readBody(req);
      return sendJson(res, 403, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }], { 'Sforce-Limit-Info': org.limitInfo() });
    }
    res.setHeader('Sforce-Limit-Info', org.limitInfo());
    try {
      await new ApiHandler(org, match[1] as string, req, res, url, method).handle((match[2] ?? '').replace(/\/+$/, ''));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      sendApiError(res, err);
    }
  }

  private takeFault(method: string, path: string): PendingFault | undefined {
    const fault = this.faults.find((f) => f.remaining > 0 && (!f.method || f.method.toUpperCase() === method) && f.path.test(path));
    if (!fault) return undefined;
    fault.remaining--;
    if (fault.remaining <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
    return fault;
  }

  private async handleOAuth(req: IncomingMessage, res: ServerResponse, url: URL, method: string): Promise<void> {
    const body = await readBody(req);
    const noStore = { 'Cache-Control': 'no-cache,must-revalidate,max-age=0,no-store,private' };
    try {
      if (url.pathname === '/services/oauth2/authorize' && method === 'GET') {
        try {
          const location = this.approve(url.toString().replace(/^http:\/\/fake/, this.url));
          res.writeHead(302, { Location: location, ...noStore });
          return void res.end();
        } catch (err) {
          const html = `<html><head><title>Error</title></head><body><h1>error=invalid_client_id</h1><p>${escapeHtml((err as Error).message)}</p></body></html>`;
          res.writeHead(400, { 'Content-Type': 'text/html;charset=UTF-8', ...noStore });
          return void res.end(html);
        }
      }
      if (url.pathname === '/services/oauth2/token' && method === 'POST') {
        return sendJson(res, 200, this.oauth.token(new URLSearchParams(body.toString('utf8'))), noStore);
      }
      if (url.pathname === '/services/oauth2/revoke' && (method === 'POST' || method === 'GET')) {
        const token = method === 'POST' ? new URLSearchParams(body.toString('utf8')).get('token') : url.searchParams.get('token');
        this.oauth.revoke(token ?? '');
        res.writeHead(200, { 'Content-Length': 0, ...noStore });
        return void res.end();
      }
      return sendJson(res, 404, { error: 'not_found', error_description: 'The requested resource does not exist' });
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      sendJson(res, err.status, { error: err.error, error_description: err.description }, noStore);
    }
  }

  /** GET /id/<orgId>/<userId>: the identity service (needs a session of that org). */
  private async handleIdentity(req: IncomingMessage, res: ServerResponse, url: URL, entry: FakeRequestLogEntry): Promise<void> {
    await readBody(req);
    const [, , orgId, userId] = url.pathname.split('/');
    const token = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim() ?? url.searchParams.get('oauth_token') ?? '';
    const tokenOrg = this.oauth.orgOfAccessToken(token);
    if (tokenOrg) entry.orgId = tokenOrg;
    const org = orgId ? this.orgs.get(orgId) : undefined;
    // The identity service answers these two refusals as plain text.
    const refuse = (text: string) => {
      res.writeHead(403, { 'Content-Type': 'text/plain;charset=UTF-8' });
      res.end(text);
    };
    if (!tokenOrg) return refuse('Bad_OAuth_Token');
    if (!org || tokenOrg !== orgId || org.userId !== userId) return refuse('Bad_Id');
    sendJson(res, 200, {
      id: `${this.url}/id/${org.id}/${org.userId}`,
      asserted_user: true,
      user_id: org.userId,
      organization_id: org.id,
      username: org.username,
      nick_name: 'integration.user',
      display_name: 'Integration User',
      email: org.username,
      active: true,
      user_type: 'STANDARD',
      language: 'en_US',
      locale: 'en_US',
      utcOffset: 0,
      urls: {
        rest: `${this.url}/services/data/v{version}/`,
        sobjects: `${this.url}/services/data/v{version}/sobjects/`,
        query: `${this.url}/services/data/v{version}/query/`,
        profile: `${this.url}/${org.userId}`,
      },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// REST API and Bulk API 2.0 routes of one authenticated request
// ---------------------------------------------------------------------------------------------

class ApiHandler {
  private readonly base: string;

  constructor(
    private readonly org: Org,
    private readonly version: string,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly url: URL,
    private readonly method: string,
  ) {
    this.base = `/services/data/v${version}`;
  }

  private methodNotAllowed(allowed: string): ApiError {
    return new ApiError(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${this.method}' not allowed. Allowed are ${allowed}`);
  }

  private notFound(): ApiError {
    return new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
  }

  private async json(): Promise<Record<string, unknown>> {
    return parseJsonBody(await readBody(this.req));
  }

  private table(object: string): Table {
    const table = this.org.data.table(object);
    if (!table) throw new ApiError(404, 'NOT_FOUND', `The requested resource does not exist`);
    return table;
  }

  async handle(path: string): Promise<void> {
    const m = this.method;
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const [head, a, b, c] = parts;

    if (!head) {
      if (m !== 'GET') throw this.methodNotAllowed('GET,HEAD');
      return sendJson(this.res, 200, {
        sobjects: `${this.base}/sobjects`,
        query: `${this.base}/query`,
        queryAll: `${this.base}/queryAll`,
        limits: `${this.base}/limits`,
        composite: `${this.base}/composite`,
        jobs: `${this.base}/jobs`,
      });
    }
    if (head === 'limits' && parts.length === 1) {
      if (m !== 'GET') throw this.methodNotAllowed('GET,HEAD');
      return this.limits();
    }
    if (head === 'sobjects') {
      if (!a) {
        if (m !== 'GET') throw this.methodNotAllowed('GET,HEAD');
        return this.describeGlobal();
      }
      const table = this.table(a);
      if (!b) {
        if (m === 'GET') return sendJson(this.res, 200, { objectDescribe: this.objectSummary(table), recentItems: [] });
        if (m === 'POST') return this.createOne(table);
        throw this.methodNotAllowed('GET,HEAD,POST');
      }
      if (b === 'describe' && !c) {
        if (m !== 'GET') throw this.methodNotAllowed('GET,HEAD');
        return this.describe(table);
      }
      if (c !== undefined) {
        if (m !== 'PATCH') throw this.methodNotAllowed('PATCH');
        return this.upsertOne(table, b, c);
      }
      return this.recordById(table, b);
    }
    if ((head === 'query' || head === 'queryAll') && parts.length <= 2) {
      if (m !== 'GET') throw this.methodNotAllowed('GET,HEAD');
      return a ? this.queryMore(a) : this.query(head === 'queryAll');
    }
    if (head === 'composite' && a === 'sobjects') {
      if (!b) {
        if (m === 'POST') return this.collection('insert');
        if (m === 'PATCH') return this.collection('update');
        if (m === 'DELETE') return this.collectionDelete();
        throw this.methodNotAllowed('POST,PATCH,DELETE');
      }
      if (c !== undefined && parts.length === 4) {
        if (m !== 'PATCH') throw this.methodNotAllowed('PATCH');
        return this.collection('upsert', b, c);
      }
      throw this.notFound();
    }
    if (head === 'jobs' && a === 'query') return this.queryJobs(b, c, parts.length);
    if (head === 'jobs' && a === 'ingest') return this.ingestJobs(b, c, parts.length);
    throw this.notFound();
  }

  // ------------------------------------------------------------------------------ limits, describe

  private limits(): void {
    const used = this.org.apiUsage();
    sendJson(this.res, 200, {
      DailyApiRequests: { Max: used.max, Remaining: Math.max(0, used.max - used.used) },
      DailyBulkApiBatches: { Max: 15_000, Remaining: Math.max(0, 15_000 - this.org.bulkBatchesUsed) },
      DailyBulkV2QueryFileStorageMB: { Max: 976_562, Remaining: 976_562 },
      DailyBulkV2QueryJobs: { Max: 10_000, Remaining: Math.max(0, 10_000 - this.org.bulkQueryJobsCreated) },
    });
  }

  private objectUrls(table: Table): Record<string, string> {
    const sobject = `${this.base}/sobjects/${table.schema.name}`;
    return { sobject, describe: `${sobject}/describe`, rowTemplate: `${sobject}/{ID}` };
  }

  private objectSummary(table: Table): Record<string, unknown> {
    const { schema } = table;
    return {
      name: schema.name,
      label: schema.label,
      labelPlural: schema.labelPlural,
      keyPrefix: schema.keyPrefix,
      custom: schema.custom,
      activateable: false,
      createable: true,
      updateable: true,
      deletable: true,
      queryable: true,
      retrieveable: true,
      searchable: true,
      layoutable: true,
      triggerable: true,
      replicateable: true,
      undeletable: true,
      urls: this.objectUrls(table),
    };
  }

  private describeGlobal(): void {
    sendJson(this.res, 200, {
      encoding: 'UTF-8',
      maxBatchSize: 200,
      sobjects: this.org.data.allTables().map((t) => this.objectSummary(t)),
    });
  }

  private describe(table: Table): void {
    const { schema } = table;
    const fields = schema.fields.map((f) => {
      const calculated = !f.createable && !f.updateable && f.name.endsWith('__c');
      return {
        name: f.name,
        label: f.label,
        type: f.type,
        soapType: soapType(f.type),
        length: f.length,
        byteLength: f.length * 3,
        digits: f.type === 'int' ? 9 : 0,
        precision: isNumberType(f.type) && f.type !== 'int' ? 18 : 0,
        scale: f.type === 'currency' || f.type === 'percent' ? 2 : 0,
        updateable: f.updateable,
        createable: f.createable,
        externalId: f.externalId,
        unique: f.unique,
        nillable: f.nillable,
        defaultedOnCreate: f.defaultedOnCreate,
        idLookup: f.type === 'id' || f.externalId || f.unique,
        calculated,
        custom: f.name.endsWith('__c'),
        caseSensitive: false,
        filterable: f.type !== 'textarea',
        sortable: f.type !== 'textarea' && f.type !== 'multipicklist',
        groupable: f.type !== 'textarea' && f.type !== 'multipicklist' && !isNumberType(f.type),
        nameField: false,
        defaultValue: f.type === 'boolean' ? f.defaultValue : null,
        picklistValues: f.picklistValues.map((p) => ({ ...p, defaultValue: p.value === f.defaultValue, validFor: null })),
        referenceTo: f.referenceTo,
        relationshipName: f.type === 'reference' && f.name.endsWith('Id') ? f.name.slice(0, -2) : null,
      };
    });
    sendJson(this.res, 200, {
      ...this.objectSummary(table),
      fields,
      childRelationships: [],
      recordTypeInfos: [],
    });
  }

  // ------------------------------------------------------------------------------ single records

  private recordJson(table: Table, row: Row, fields: FieldDef[]): Record<string, unknown> {
    const id = row[table.idField.index] as string;
    const out: Record<string, unknown> = { attributes: { type: table.schema.name, url: `${this.base}/sobjects/${table.schema.name}/${id}` } };
    for (const f of fields) out[f.name] = toJsonValue(f, row[f.index]);
    return out;
  }

  private async recordById(table: Table, rawId: string): Promise<void> {
    const id = normalizeId(rawId);
    const pos = id ? table.positionOf(id) : undefined;
    const row = pos === undefined ? undefined : table.rows[pos];
    if (this.method === 'GET') {
      if (!row || row[table.deletedField.index]) throw this.notFound();
      const names = this.url.searchParams.get('fields');
      const fields = names ? names.split(',').map((n) => table.schema.field(n.trim())) : table.schema.fields;
      const unknownAt = fields.indexOf(undefined);
      if (unknownAt >= 0) throw new ApiError(400, 'INVALID_FIELD', `No such column '${names?.split(',')[unknownAt]?.trim()}' on sobject of type ${table.schema.name}`);
      return sendJson(this.res, 200, this.recordJson(table, row, fields as FieldDef[]));
    }
    if (this.method === 'PATCH') {
      const body = await this.json();
      const outcome = this.org.data.write(table, { operation: 'update', values: { ...body, Id: rawId }, format: 'json' });
      if (!outcome.ok) throw this.recordError(outcome);
      this.res.writeHead(204);
      return void this.res.end();
    }
    if (this.method === 'DELETE') {
      if (!row) throw this.notFound();
      if (row[table.deletedField.index]) throw new ApiError(404, 'ENTITY_IS_DELETED', 'entity is deleted', []);
      this.org.data.softDelete(table.schema.name, id as string);
      this.res.writeHead(204);
      return void this.res.end();
    }
    throw this.methodNotAllowed('GET,HEAD,PATCH,DELETE');
  }

  private recordError(outcome: Extract<WriteOutcome, { ok: false }>): ApiError {
    const error = outcome.errors[0] as { statusCode: string; message: string; fields: string[] };
    return new ApiError(400, error.statusCode, error.message, error.fields);
  }

  private async createOne(table: Table): Promise<void> {
    const body = await this.json();
    const outcome = this.org.data.write(table, { operation: 'insert', values: body, format: 'json' });
    if (!outcome.ok) throw this.recordError(outcome);
    sendJson(this.res, 201, { id: outcome.id, success: true, errors: [] });
  }

  private async upsertOne(table: Table, fieldName: string, value: string): Promise<void> {
    const field = this.externalIdField(table, fieldName);
    const body = await this.json();
    const outcome = this.org.data.write(table, { operation: 'upsert', values: { ...body, [field.name]: value }, format: 'json', externalIdField: field });
    if (!outcome.ok) throw this.recordError(outcome);
    sendJson(this.res, outcome.created ? 201 : 200, { id: outcome.id, success: true, errors: [], created: outcome.created });
  }

  private externalIdField(table: Table, fieldName: string): FieldDef {
    const field = table.schema.field(fieldName);
    if (!field) throw new ApiError(404, 'NOT_FOUND', `Provided external ID field does not exist or is not accessible: ${fieldName}`);
    if (!field.externalId && field.type !== 'id') {
      throw new ApiError(400, 'INVALID_FIELD', `Field name provided, ${field.name} is not an External ID or indexed field for ${table.schema.name}`);
    }
    return field;
  }

  // ------------------------------------------------------------------------------ SOQL

  private batchSize(): number {
    const header = this.req.headers['sforce-query-options'];
    const m = /batchSize\s*=\s*(\d+)/i.exec(Array.isArray(header) ? header.join(',') : (header ?? ''));
    if (!m) return DEFAULT_QUERY_BATCH;
    // Salesforce treats the batch size as a hint within 200..2000.
    return Math.min(DEFAULT_QUERY_BATCH, Math.max(MIN_QUERY_BATCH, Number(m[1])));
  }

  private query(includeDeleted: boolean): void {
    const q = this.url.searchParams.get('q');
    if (q === null) throw new ApiError(400, 'MALFORMED_QUERY', 'A query string has to be specified');
    const compiled = compileSoql(q, (name) => this.org.data.table(name));
    const rows = compiled.run({ includeDeleted });
    if (compiled.fields === 'count') return sendJson(this.res, 200, { totalSize: rows.length, done: true, records: [] });
    const cursor: QueryCursor = { table: compiled.table, fields: compiled.fields, rows, batchSize: this.batchSize() };
    const cursorId = this.org.data.newId('01g');
    if (rows.length > cursor.batchSize) this.org.cursors.set(cursorId, cursor);
    this.sendPage(cursor, cursorId, 0);
  }

  /** GET /query/<cursorId>-<offset>: the next page of a query's snapshot. */
  private queryMore(locator: string): void {
    const m = /^(.+)-(\d+)$/.exec(locator);
    const cursor = m ? this.org.cursors.get(m[1] as string) : undefined;
    if (!m || !cursor || Number(m[2]) > cursor.rows.length) {
      throw new ApiError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    }
    this.sendPage(cursor, m[1] as string, Number(m[2]));
  }

  private sendPage(cursor: QueryCursor, cursorId: string, offset: number): void {
    const end = Math.min(cursor.rows.length, offset + cursor.batchSize);
    const done = end >= cursor.rows.length;
    if (done) this.org.cursors.delete(cursorId);
    const records: unknown[] = [];
    for (let i = offset; i < end; i++) records.push(this.recordJson(cursor.table, cursor.rows[i] as Row, cursor.fields));
    sendJson(this.res, 200, {
      totalSize: cursor.rows.length,
      done,
      ...(done ? {} : { nextRecordsUrl: `${this.base}/query/${cursorId}-${end}` }),
      records,
    });
  }

  // ------------------------------------------------------------------------------ sObject Collections

  private async collection(operation: 'insert' | 'update' | 'upsert', objectName?: string, extFieldName?: string): Promise<void> {
    const body = await this.json();
    const records = body.records;
    if (!Array.isArray(records)) throw new ApiError(400, 'INVALID_INPUT', 'records is required');
    if (records.length > COLLECTION_MAX) {
      throw new ApiError(400, 'EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${COLLECTION_MAX} records into this call`);
    }
    const allOrNone = body.allOrNone === true;
    let upsertTable: Table | undefined;
    let extField: FieldDef | undefined;
    if (operation === 'upsert') {
      upsertTable = this.table(objectName as string);
      extField = this.externalIdField(upsertTable, extFieldName as string);
    }

    const outcomes: WriteOutcome[] = [];
    try {
      for (const record of records as Array<Record<string, unknown>>) {
        if (!record || typeof record !== 'object') throw new ApiError(400, 'JSON_PARSER_ERROR', 'Cannot deserialize instance of SObject from a non-object value');
        const type = (record.attributes as { type?: unknown } | undefined)?.type;
        let table = upsertTable;
        if (!table) {
          if (typeof type !== 'string') throw new ApiError(400, 'INVALID_TYPE', 'Must send a concrete entity type.');
          table = this.org.data.table(type);
          if (!table) throw new ApiError(400, 'INVALID_TYPE', `sObject type '${type}' is not supported.`);
        }
        const outcome = this.org.data.write(table, { operation, values: record, format: 'json', ...(extField ? { externalIdField: extField } : {}) });
        outcomes.push(outcome);
      }
    } catch (err) {
      // The request failed as a whole (like Salesforce failing to deserialize it): nothing stays applied.
      this.undo(outcomes);
      throw err;
    }
    const failed = outcomes.some((o) => !o.ok);
    if (allOrNone && failed) this.undo(outcomes);
    sendJson(
      this.res,
      200,
      outcomes.map((o) => {
        if (o.ok && allOrNone && failed) {
          return {
            success: false,
            errors: [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK', message: 'Record rolled back because not all records were valid and the request was using AllOrNone header', fields: [] }],
            ...(operation === 'upsert' ? { created: false } : {}),
          };
        }
        if (o.ok) return { id: o.id, success: true, errors: [], ...(operation === 'upsert' ? { created: o.created } : {}) };
        return { ...(o.id ? { id: o.id } : {}), success: false, errors: o.errors, ...(operation === 'upsert' ? { created: false } : {}) };
      }),
    );
  }

  private undo(outcomes: WriteOutcome[]): void {
    for (const o of [...outcomes].reverse()) if (o.ok) o.undo();
  }

  /** DELETE /composite/sobjects?ids=...&allOrNone=... */
  private async collectionDelete(): Promise<void> {
    await readBody(this.req);
    const ids = (this.url.searchParams.get('ids') ?? '').split(',').filter(Boolean);
    if (ids.length > COLLECTION_MAX) throw new ApiError(400, 'EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${COLLECTION_MAX} records into this call`);
    const results = ids.map((raw) => {
      const id = normalizeId(raw);
      const table = id ? this.org.data.allTables().find((t) => id.startsWith(t.schema.keyPrefix)) : undefined;
      const row = id && table ? table.rowById(id) : undefined;
      if (!id || !table) return { success: false, errors: [{ statusCode: 'MALFORMED_ID', message: `malformed id ${raw}`, fields: [] }] };
      if (!row) return { id, success: false, errors: [{ statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] }] };
      if (row[table.deletedField.index]) return { id, success: false, errors: [{ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }] };
      this.org.data.softDelete(table.schema.name, id);
      return { id, success: true, errors: [] };
    });
    sendJson(this.res, 200, results);
  }

  // ------------------------------------------------------------------------------ Bulk API 2.0

  private async queryJobs(id: string | undefined, sub: string | undefined, depth: number): Promise<void> {
    const bulk = this.org.bulk;
    if (!id) {
      if (this.method === 'POST') return sendJson(this.res, 200, bulk.createQueryJob(await this.json(), this.version));
      if (this.method === 'GET') return sendJson(this.res, 200, { done: true, records: bulk.allQueryJobs(), nextRecordsUrl: null });
      throw this.methodNotAllowed('GET,POST');
    }
    if (!sub && depth === 3) {
      if (this.method === 'GET') return sendJson(this.res, 200, bulk.checkQueryJob(id));
      if (this.method === 'PATCH') return sendJson(this.res, 200, bulk.patchQueryJob(id, await this.json()));
      if (this.method === 'DELETE') {
        bulk.deleteQueryJob(id);
        this.res.writeHead(204);
        return void this.res.end();
      }
      throw this.methodNotAllowed('GET,PATCH,DELETE');
    }
    if (sub === 'results' && depth === 4) {
      if (this.method !== 'GET') throw this.methodNotAllowed('GET');
      const page = bulk.queryResults(id, this.url.searchParams.get('locator'), this.url.searchParams.get('maxRecords'));
      this.res.writeHead(200, {
        'Content-Type': 'text/csv',
        'Sforce-Locator': page.locator,
        'Sforce-NumberOfRecords': String(page.numberOfRecords),
      });
      // Stream the page in chunks, respecting backpressure, instead of building one huge string.
      for (const chunk of page.chunks) {
        if (!this.res.write(chunk)) await once(this.res, 'drain');
      }
      return void this.res.end();
    }
    throw this.notFound();
  }

  private async ingestJobs(id: string | undefined, sub: string | undefined, depth: number): Promise<void> {
    const bulk = this.org.bulk;
    if (!id) {
      if (this.method === 'POST') return sendJson(this.res, 200, bulk.createIngestJob(await this.json(), this.version));
      if (this.method === 'GET') return sendJson(this.res, 200, { done: true, records: bulk.allIngestJobs(), nextRecordsUrl: null });
      throw this.methodNotAllowed('GET,POST');
    }
    if (!sub && depth === 3) {
      if (this.method === 'GET') return sendJson(this.res, 200, bulk.checkIngestJob(id));
      if (this.method === 'PATCH') return sendJson(this.res, 200, bulk.patchIngestJob(id, await this.json()));
      if (this.method === 'DELETE') {
        bulk.deleteIngestJob(id);
        this.res.writeHead(204);
        return void this.res.end();
      }
      throw this.methodNotAllowed('GET,PATCH,DELETE');
    }
    if (sub === 'batches' && depth === 4) {
      if (this.method !== 'PUT') throw this.methodNotAllowed('PUT');
      bulk.upload(id, await readBody(this.req));
      this.res.writeHead(201, { 'Content-Length': 0 });
      return void this.res.end();
    }
    const kinds = { successfulresults: 'successful', failedresults: 'failed', unprocessedrecords: 'unprocessed' } as const;
    const kind = sub ? kinds[sub.toLowerCase() as keyof typeof kinds] : undefined;
    if (kind && depth === 4) {
      if (this.method !== 'GET') throw this.methodNotAllowed('GET');
      const csv = bulk.ingestResults(id, kind);
      this.res.writeHead(200, { 'Content-Type': 'text/csv', 'Content-Length': Buffer.byteLength(csv) });
      return void this.res.end(csv);
    }
    throw this.notFound();
  }
}

/** Starts a fake Salesforce on 127.0.0.1 (a free port unless options.port is given). */
export async function startFakeSalesforce(options: FakeSalesforceOptions = {}): Promise<FakeSalesforce> {
  const fake = new FakeSalesforceServer(options);
  await fake.listen(options.port ?? 0);
  return fake;
}
