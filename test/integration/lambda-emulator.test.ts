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
});
