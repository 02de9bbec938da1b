import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalLambda } from '../../infra/local/lambda-emulator.js';

/** The local Lambda's asynchronous invocations retry like Lambda's (the code relies on it). */
describe('local Lambda asynchronous retries', () => {
  it('retries a failed invocation after the delays, up to the retry attempts, and logs when it gives up', async () => {
    const logged: string[] = [];
    const lambda = new LocalLambda((message) => logged.push(message), [5, 10]);
    const calls: number[] = [];
    lambda.register('flaky', {
      timeoutMs: 1000,
      handler: async (event) => {
        calls.push(Date.now());
        if (calls.length < 3) throw new Error(`busy ${(event as { n: number }).n}`);
        return 'done';
      },
    });
    lambda.register('broken', { timeoutMs: 1000, retryAttempts: 1, handler: async () => Promise.reject(new Error('always')) });
    expect(lambda.invokeAsync('flaky', { n: 1 })).toBe(true);
    expect(lambda.invokeAsync('broken', {})).toBe(true);
    expect(lambda.invokeAsync('missing', {})).toBe(false);
    await lambda.idle();
    expect(calls).toHaveLength(3);
    expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(4);
    expect(logged).toEqual(
      expect.arrayContaining([
        'flaky failed: busy 1 (attempt 1 of 3; retrying in 0 s)',
        'flaky failed: busy 1 (attempt 2 of 3; retrying in 0 s)',
        'broken failed: always (attempt 2 of 2; the event is dropped, as Lambda would send it to the dead-letter queue)',
      ]),
    );
    expect(logged.filter((line) => line.startsWith('flaky') && line.includes('dropped'))).toEqual([]);
  });

  it('keeps unfinished invocations in its journal, and a new process resumes them as the next attempt', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'roster-lambda-journal-'));
    const journal = join(directory, 'pending.json');
    try {
      // The first process starts an invocation that never finishes (it is killed).
      const first = new LocalLambda(() => undefined, [5], journal);
      first.register('importer', { timeoutMs: 1000, handler: () => new Promise(() => undefined) });
      first.invokeAsync('importer', { importId: 'imp_1' });
      expect(JSON.parse(readFileSync(journal, 'utf8'))).toEqual([{ id: expect.any(String), name: 'importer', event: { importId: 'imp_1' }, attempt: 1 }]);

      const logged: string[] = [];
      const second = new LocalLambda((message) => logged.push(message), [5], journal);
      const seen: unknown[] = [];
      second.register('importer', { timeoutMs: 1000, handler: async (event) => void seen.push(event) });
      expect(second.resumePending()).toBe(1);
      await second.idle();
      expect(seen).toEqual([{ importId: 'imp_1' }]);
      expect(logged).toEqual(['importer: resuming an invocation the previous process did not finish (attempt 2)']);
      expect(JSON.parse(readFileSync(journal, 'utf8'))).toEqual([]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
