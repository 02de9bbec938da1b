import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Context } from 'aws-lambda';
import { lambdaContext } from './lambda-context.js';

export type LocalFunction = (event: unknown, context: Context) => Promise<unknown>;

export interface LocalFunctionSpec {
  handler: LocalFunction;
  timeoutMs: number;
  /** Retries of a failed asynchronous invocation, as the stack's EventInvokeConfig sets them (default 2, Lambda's default). */
  retryAttempts?: number;
}

/** Lambda waits about a minute, then two, before retrying a failed asynchronous invocation. */
export const LAMBDA_RETRY_DELAYS_MS = [60_000, 120_000];

/**
 * The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) for the local
 * stack's functions, so code that invokes a function (the importer continuing itself, the
 * scheduler firing a sync) uses the real SDK client locally too. `Event` invocations answer
 * 202 and run in the background, as in AWS; `RequestResponse` answers with the result.
 */
export class LocalLambda {
  private readonly functions = new Map<string, LocalFunctionSpec>();
  private readonly running = new Set<Promise<unknown>>();
  /** Asynchronous invocations not finished yet, by ID (kept in `journalFile` when one is given). */
  private readonly pending = new Map<string, { name: string; event: unknown; attempt: number }>();

  constructor(
    private readonly log: (message: string) => void,
    private readonly retryDelaysMs: readonly number[] = LAMBDA_RETRY_DELAYS_MS,
    /**
     * Where unfinished asynchronous invocations are written, so that a local stack killed in
     * the middle of one runs it again when it starts (`resumePending`), as Lambda retries an
     * invocation whose sandbox died.
     */
    private readonly journalFile?: string,
  ) {}

  /** Runs again, as retries, the asynchronous invocations a previous process left unfinished. */
  resumePending(): number {
    if (!this.journalFile || !existsSync(this.journalFile)) return 0;
    const entries = JSON.parse(readFileSync(this.journalFile, 'utf8')) as Array<{ id: string; name: string; event: unknown; attempt: number }>;
    for (const entry of entries) {
      this.log(`${entry.name}: resuming an invocation the previous process did not finish (attempt ${entry.attempt + 1})`);
      this.start(entry.name, entry.event, entry.attempt + 1, entry.id);
    }
    return entries.length;
  }

  private persist(): void {
    if (!this.journalFile) return;
    const entries = [...this.pending].map(([id, entry]) => ({ id, ...entry }));
    writeFileSync(`${this.journalFile}.tmp`, JSON.stringify(entries));
    renameSync(`${this.journalFile}.tmp`, this.journalFile);
  }

  register(name: string, spec: LocalFunctionSpec): void {
    this.functions.set(name, spec);
  }

  /**
   * Runs a function in the background (an asynchronous invocation). A failed attempt is
   * retried after Lambda's delays, up to the function's retry attempts (the code relies on
   * it: a busy lease, a dropped connection); then the event is given up, as to a DLQ.
   */
  invokeAsync(name: string, event: unknown): boolean {
    if (!this.functions.has(name)) return false;
    this.start(name, event, 1, randomUUID());
    return true;
  }

  private start(name: string, event: unknown, firstAttempt: number, id: string): void {
    const fn = this.functions.get(name);
    if (!fn) {
      this.log(`${name}: no such local function; the invocation is dropped`);
      return;
    }
    const attempts = (fn.retryAttempts ?? 2) + 1;
    if (firstAttempt > attempts) this.log(`${name}: the previous process died in the last attempt; the event is dropped, as Lambda would send it to the dead-letter queue`);
    const run = (async () => {
      if (firstAttempt > 1) {
        // A resumed invocation is a retry of one that died: Lambda waits before retrying it too.
        this.pending.set(id, { name, event, attempt: firstAttempt - 1 });
        await this.retryDelay(firstAttempt - 1);
      }
      for (let attempt = firstAttempt; attempt <= attempts; attempt += 1) {
        this.pending.set(id, { name, event, attempt });
        this.persist();
        try {
          await fn.handler(event, lambdaContext(name, fn.timeoutMs));
          return;
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          if (attempt >= attempts) {
            this.log(`${name} failed: ${message} (attempt ${attempt} of ${attempts}; the event is dropped, as Lambda would send it to the dead-letter queue)`);
            return;
          }
          this.log(`${name} failed: ${message} (attempt ${attempt} of ${attempts}; retrying in ${Math.round(this.delayAfter(attempt) / 1000)} s)`);
          await this.retryDelay(attempt);
        }
      }
    })().finally(() => {
      this.running.delete(run);
      this.pending.delete(id);
      this.persist();
    });
    this.running.add(run);
  }

  private delayAfter(attempt: number): number {
    return this.retryDelaysMs[Math.min(attempt - 1, this.retryDelaysMs.length - 1)] ?? 0;
  }

  private retryDelay(attempt: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.delayAfter(attempt)).unref());
  }

  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  listen(host: string): Promise<{ server: Server; endpoint: string }> {
    const server = createServer(async (req, res) => {
      const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const name = match ? decodeURIComponent(match[1]!).split(':').pop()! : '';
      const fn = this.functions.get(name);
      if (req.method !== 'POST' || !fn) {
        res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' });
        res.end(JSON.stringify({ Type: 'User', Message: `Function not found: ${name}` }));
        return;
      }
      const payload = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
      if (req.headers['x-amz-invocation-type'] === 'Event') {
        this.invokeAsync(name, payload);
        res.writeHead(202);
        res.end();
        return;
      }
      try {
        const result = await fn.handler(payload, lambdaContext(name, fn.timeoutMs));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(result ?? null));
      } catch (error) {
        res.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' });
        res.end(JSON.stringify({ errorType: (error as Error).name, errorMessage: (error as Error).message }));
      }
    });
    return new Promise((resolve) => server.listen(0, host, () => {
      const address = server.address();
      resolve({ server, endpoint: `http://${host}:${typeof address === 'object' && address ? address.port : 0}` });
    }));
  }
}
