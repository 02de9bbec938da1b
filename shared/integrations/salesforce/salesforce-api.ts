import { parse } from 'csv-parse/sync';
import { Connection, type TokenResponse } from 'jsforce';
import { logger } from '../../logging/logger.js';
import type { SalesforceField } from './salesforce-settings.js';
import type { SalesforceTokenSecret, TokenKeeper } from './salesforce-tokens.js';

/**
 * The adapter to one tenant's org, on jsforce's `Connection`: REST (describe, SOQL with
 * `nextRecordsUrl` paging, `/limits`), sObject Collections and Bulk API 2.0 (query and
 * ingest jobs). It counts every API request it sends (the runs report them and the quota
 * guard budgets them), follows the org's `Sforce-Limit-Info`, retries transient failures
 * (5xx, dropped connections) with backoff, and lets `TokenKeeper` refresh the session
 * once when Salesforce answers INVALID_SESSION_ID.
 */
export const SALESFORCE_API_VERSION = '62.0';

export class SalesforceApiError extends Error {
  override readonly name = 'SalesforceApiError';
  constructor(
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

/** The org's daily API request limit is used up (REQUEST_LIMIT_EXCEEDED): no retry helps until it resets. */
export const isLimitExceeded = (error: unknown) => error instanceof SalesforceApiError && error.errorCode === 'REQUEST_LIMIT_EXCEEDED';

export interface QueryPage {
  totalSize: number;
  records: Array<Record<string, unknown>>;
  nextRecordsUrl?: string;
}

export interface SaveResult {
  id?: string;
  success: boolean;
  created?: boolean;
  errors: Array<{ statusCode: string; message: string; fields?: string[] }>;
}

export interface SObjectSummary {
  name: string;
  label: string;
  custom: boolean;
  queryable: boolean;
  createable: boolean;
  updateable: boolean;
}

export interface JobState {
  id: string;
  state: 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';
  errorMessage?: string;
  numberRecordsProcessed?: number;
  numberRecordsFailed?: number;
}

export interface ApiOptions {
  /** Waits between attempts of a request that failed transiently (its length + 1 = attempts). */
  retryDelaysMs: number[];
  sleep?: (ms: number) => Promise<void>;
}

export const defaultApiOptions: ApiOptions = { retryDelaysMs: [500, 2_000, 5_000] };

/** A request that has not answered in two minutes is abandoned (jsforce's own default is 30 minutes). */
const REQUEST_TIMEOUT_MS = 120_000;
const TRANSIENT_CODES = /^(ERROR_HTTP_5\d\d|SERVER_UNAVAILABLE|UNABLE_TO_LOCK_ROW|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|UND_ERR_SOCKET)$/;
const TRANSIENT_MESSAGES = /socket hang up|ECONNRESET|ECONNREFUSED|ETIMEDOUT|network|fetch failed/i;

type Transport = { httpRequest(request: { url: string; method: string }, options?: unknown): PromiseLike<{ statusCode: number; headers: Record<string, string> }> };

export class SalesforceApi {
  /** API requests sent (retries and the request repeated after a refresh included: Salesforce counts them all). */
  calls = 0;
  /** The org's usage as its last answer reported it (`Sforce-Limit-Info: api-usage=used/max`). */
  usage: { used: number; max: number } | undefined;
  private readonly connection: Connection;
  private readonly headersByUrl = new Map<string, Record<string, string>>();
  private lastRefreshAt = 0;

  constructor(
    private readonly tokens: TokenKeeper,
    secret: SalesforceTokenSecret,
    private readonly options: ApiOptions = defaultApiOptions,
  ) {
    this.connection = new Connection({
      instanceUrl: secret.instanceUrl,
      accessToken: secret.accessToken ?? 'none',
      version: SALESFORCE_API_VERSION,
      refreshFn: (connection, callback) => {
        this.refreshSession(connection.accessToken ?? undefined).then(
          (fresh) => callback(null, fresh.accessToken, { access_token: fresh.accessToken, instance_url: fresh.instanceUrl } as TokenResponse),
          (error: Error) => callback(error),
        );
      },
    });
    // Every API request passes the connection's transport: count it and read the org's usage there.
    const inner = (this.connection as unknown as { _transport: Transport })._transport;
    const metered: Transport = {
      httpRequest: (request, options) => {
        this.calls += 1;
        const pending = inner.httpRequest(request, options);
        pending.then(
          (response) => {
            const info = response.headers?.['sforce-limit-info'];
            const match = info ? /api-usage=(\d+)\/(\d+)/.exec(info) : null;
            if (match) this.usage = { used: Number(match[1]), max: Number(match[2]) };
            if (this.headersByUrl.has(request.url)) this.headersByUrl.set(request.url, response.headers);
          },
          () => undefined,
        );
        return pending;
      },
    };
    Object.setPrototypeOf(metered, inner as object);
    (this.connection as unknown as { _transport: Transport })._transport = metered;
  }

  static async open(tokens: TokenKeeper, options?: ApiOptions): Promise<SalesforceApi> {
    return new SalesforceApi(tokens, await tokens.current(), options);
  }

  /**
   * "Refreshed once": a session refused again right after a refresh means the org refuses
   * this client (IP restrictions, a blocked app), and refreshing again would only burn
   * rotated tokens; the request fails instead.
   */
  private async refreshSession(failedAccessToken: string | undefined) {
    if (Date.now() - this.lastRefreshAt < 30_000) throw new SalesforceApiError('INVALID_SESSION_ID', 'Salesforce refused a freshly refreshed session');
    const fresh = await this.tokens.refresh(failedAccessToken);
    this.lastRefreshAt = Date.now();
    this.connection.instanceUrl = fresh.instanceUrl;
    return { accessToken: fresh.accessToken!, instanceUrl: fresh.instanceUrl };
  }

  private url(path: string) {
    return path.startsWith('/services/') ? path : `/services/data/v${SALESFORCE_API_VERSION}${path}`;
  }

  /** One API request, retried on transient failures when `idempotent`. */
  private async send<T>(request: { method: string; url: string; body?: string; headers?: Record<string, string> }, idempotent: boolean, responseType?: string): Promise<T> {
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    for (let attempt = 0; ; attempt += 1) {
      try {
        // jsforce's own fetch retries (up to 5, unseen by the request count) are off: this loop retries, counts and logs every attempt.
        const options = { retry: { maxRetries: 0 }, timeout: REQUEST_TIMEOUT_MS, ...(responseType ? { responseType } : {}) };
        return (await this.connection.request({ ...request, url: this.url(request.url) } as never, options as never)) as T;
      } catch (raw) {
        if (this.tokens.disconnected) throw this.tokens.disconnected;
        const error = toApiError(raw);
        const transient = TRANSIENT_CODES.test(error.errorCode) || TRANSIENT_MESSAGES.test(error.message);
        if (!idempotent || !transient || attempt >= this.options.retryDelaysMs.length) throw error;
        logger.warn('salesforce request failed transiently; retrying', { errorCode: error.errorCode, attempt: attempt + 1, path: request.url.split('?')[0] });
        await sleep(this.options.retryDelaysMs[attempt]!);
      }
    }
  }

  private json(method: string, path: string, body?: unknown, idempotent = method !== 'POST') {
    return this.send<unknown>({ method, url: path, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) }, idempotent);
  }

  /** The org's daily API requests (`/limits`): what the quota guard starts from. */
  async limits(): Promise<{ used: number; max: number }> {
    const answer = (await this.json('GET', '/limits')) as { DailyApiRequests?: { Max: number; Remaining: number } };
    const daily = answer.DailyApiRequests;
    if (!daily) throw new SalesforceApiError('UNEXPECTED_ANSWER', 'Salesforce /limits did not report DailyApiRequests');
    return { used: daily.Max - daily.Remaining, max: daily.Max };
  }

  async describeGlobal(): Promise<SObjectSummary[]> {
    const answer = (await this.json('GET', '/sobjects')) as { sobjects: SObjectSummary[] };
    return answer.sobjects.map(({ name, label, custom, queryable, createable, updateable }) => ({ name, label, custom, queryable, createable, updateable }));
  }

  /** The object's fields, or `undefined` when the org has no such object. */
  async describe(object: string): Promise<{ name: string; label: string; queryable: boolean; fields: SalesforceField[] } | undefined> {
    try {
      const answer = (await this.json('GET', `/sobjects/${encodeURIComponent(object)}/describe`)) as { name: string; label: string; queryable: boolean; fields: SalesforceField[] };
      return {
        name: answer.name,
        label: answer.label,
        queryable: answer.queryable,
        fields: answer.fields.map((field) => ({
          name: field.name,
          label: field.label,
          type: field.type,
          ...(field.length ? { length: field.length } : {}),
          updateable: field.updateable,
          createable: field.createable,
          externalId: field.externalId,
          unique: field.unique,
          nillable: field.nillable,
          defaultedOnCreate: field.defaultedOnCreate,
        })),
      };
    } catch (error) {
      if (error instanceof SalesforceApiError && (error.errorCode === 'NOT_FOUND' || error.errorCode === 'INVALID_TYPE')) return undefined;
      throw error;
    }
  }

  async count(soql: string): Promise<number> {
    return ((await this.json('GET', `/query?q=${encodeURIComponent(soql)}`)) as QueryPage).totalSize;
  }

  /** A REST query's first page (up to 2,000 records), or the page at `nextRecordsUrl`. */
  async query(soqlOrNextUrl: string): Promise<QueryPage> {
    const path = soqlOrNextUrl.startsWith('/services/') ? soqlOrNextUrl : `/query?q=${encodeURIComponent(soqlOrNextUrl)}`;
    return (await this.json('GET', path)) as QueryPage;
  }

  async createQueryJob(soql: string): Promise<string> {
    const job = (await this.json('POST', '/jobs/query', { operation: 'query', query: soql, contentType: 'CSV', columnDelimiter: 'COMMA', lineEnding: 'LF' }, true)) as JobState;
    return job.id;
  }

  async queryJob(jobId: string): Promise<JobState> {
    return (await this.json('GET', `/jobs/query/${encodeURIComponent(jobId)}`)) as JobState;
  }

  /** One page of a finished query job's results (CSV, parsed), and the locator of the next page (none after the last). */
  async queryJobPage(jobId: string, locator: string | undefined, maxRecords: number): Promise<{ rows: Array<Record<string, string>>; locator: string | undefined }> {
    const path = `/jobs/query/${encodeURIComponent(jobId)}/results?maxRecords=${maxRecords}${locator ? `&locator=${encodeURIComponent(locator)}` : ''}`;
    const url = `${this.connection.instanceUrl}${this.url(path)}`;
    this.headersByUrl.set(url, {});
    try {
      const text = await this.send<string>({ method: 'GET', url: path, headers: { accept: 'text/csv' } }, true, 'text/plain');
      const next = this.headersByUrl.get(url)?.['sforce-locator'];
      return { rows: parseCsv(text), locator: next && next !== 'null' ? next : undefined };
    } finally {
      this.headersByUrl.delete(url);
    }
  }

  async abortQueryJob(jobId: string): Promise<void> {
    await this.json('PATCH', `/jobs/query/${encodeURIComponent(jobId)}`, { state: 'Aborted' });
  }

  /** sObject Collections (≤ 200 records): create, or update by `Id`; never all-or-none, so one bad record fails alone. */
  async collections(operation: 'create' | 'update', object: string, records: Array<Record<string, unknown>>): Promise<SaveResult[]> {
    const body = { allOrNone: false, records: records.map((record) => ({ attributes: { type: object }, ...record })) };
    // A create is not repeated on a transient failure: it may have landed (duplicates in the org are worse than a reported failure).
    return (await this.json(operation === 'create' ? 'POST' : 'PATCH', '/composite/sobjects', body, operation === 'update')) as SaveResult[];
  }

  async createIngestJob(object: string, operation: 'insert' | 'update'): Promise<string> {
    const job = (await this.json('POST', '/jobs/ingest', { object, operation, contentType: 'CSV', columnDelimiter: 'COMMA', lineEnding: 'LF' }, true)) as JobState;
    return job.id;
  }

  async uploadIngestData(jobId: string, csv: string): Promise<void> {
    await this.send({ method: 'PUT', url: `/jobs/ingest/${encodeURIComponent(jobId)}/batches`, body: csv, headers: { 'content-type': 'text/csv' } }, true);
  }

  async setIngestState(jobId: string, state: 'UploadComplete' | 'Aborted'): Promise<void> {
    await this.json('PATCH', `/jobs/ingest/${encodeURIComponent(jobId)}`, { state });
  }

  async ingestJob(jobId: string): Promise<JobState> {
    return (await this.json('GET', `/jobs/ingest/${encodeURIComponent(jobId)}`)) as JobState;
  }

  async ingestResults(jobId: string, kind: 'successfulResults' | 'failedResults' | 'unprocessedrecords'): Promise<Array<Record<string, string>>> {
    const text = await this.send<string>({ method: 'GET', url: `/jobs/ingest/${encodeURIComponent(jobId)}/${kind}/`, headers: { accept: 'text/csv' } }, true, 'text/plain');
    return parseCsv(text);
  }
}

function parseCsv(text: unknown): Array<Record<string, string>> {
  if (typeof text !== 'string' || text.trim() === '') return [];
  return parse(text, { columns: true, skip_empty_lines: true, relax_column_count: false }) as Array<Record<string, string>>;
}

function toApiError(raw: unknown): SalesforceApiError {
  if (raw instanceof SalesforceApiError) return raw;
  const error = raw as { errorCode?: string; name?: string; message?: string; code?: string };
  let code = error.errorCode ?? error.code ?? (error.name && error.name !== 'Error' ? error.name : 'UNKNOWN');
  let message = error.message ?? String(raw);
  // A CSV or text request that failed carries Salesforce's JSON error body as its message: read the code from it.
  if (/^ERROR_HTTP_\d+$/.test(code) && message.trim().startsWith('[')) {
    try {
      const [first] = JSON.parse(message) as Array<{ errorCode?: string; message?: string }>;
      if (first?.errorCode) {
        code = first.errorCode;
        message = first.message ?? message;
      }
    } catch {
      // not JSON: keep the HTTP status as the code
    }
  }
  // A message is Salesforce's (or the network's): it never holds a token, since tokens travel in headers only.
  return new SalesforceApiError(code, message);
}
