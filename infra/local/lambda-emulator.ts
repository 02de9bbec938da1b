import { createServer, type Server } from 'node:http';
import type { Context } from 'aws-lambda';
import { lambdaContext } from './lambda-context.js';

export type LocalFunction = (event: unknown, context: Context) => Promise<unknown>;

export interface LocalFunctionSpec {
  handler: LocalFunction;
  timeoutMs: number;
}

/**
 * The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) for the local
 * stack's functions, so code that invokes a function (the importer continuing itself, the
 * scheduler firing a sync) uses the real SDK client locally too. `Event` invocations answer
 * 202 and run in the background, as in AWS; `RequestResponse` answers with the result.
 */
export class LocalLambda {
  private readonly functions = new Map<string, LocalFunctionSpec>();
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly log: (message: string) => void) {}

  register(name: string, spec: LocalFunctionSpec): void {
    this.functions.set(name, spec);
  }

  /** Runs a function in the background (an asynchronous invocation); errors are logged. */
  invokeAsync(name: string, event: unknown): boolean {
    const fn = this.functions.get(name);
    if (!fn) return false;
    const run = fn
      .handler(event, lambdaContext(name, fn.timeoutMs))
      .catch((error: unknown) => this.log(`${name} failed: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => this.running.delete(run));
    this.running.add(run);
    return true;
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
