/**
 * Runs at most `limit` tasks at once (a small p-limit): batch writers use it to keep a
 * bounded number of requests in flight, so memory and connections stay flat.
 */
export function createLimiter(limit: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  const next = () => {
    active -= 1;
    waiting.shift()?.();
  };
  return async function run<T>(task: () => Promise<T>): Promise<T> {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active += 1;
    try {
      return await task();
    } finally {
      next();
    }
  };
}

export type Limiter = ReturnType<typeof createLimiter>;

/** Full-jitter exponential backoff (AWS's recommendation): a random delay in [0, min(cap, base·2^attempt)). */
export function backoffDelayMs(attempt: number, baseMs = 25, capMs = 2_000): number {
  return Math.floor(Math.random() * Math.min(capMs, baseMs * 2 ** attempt));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
