import { describe, expect, it } from 'vitest';
import { handler } from '../../functions/api/handler.js';
import { lambdaContext } from '../../infra/local/lambda-context.js';
import { dynamoDocumentClient } from '../../shared/aws/clients.js';
import { RateLimitedError } from '../../shared/errors/domain-errors.js';
import { TENANT_RATE_LIMITS, TenantRateLimiter } from '../../shared/http/tenant-rate-limit.js';
import { apiEvent, jsonBody } from '../support/api-events.js';
import { env, uniqueTenant } from '../support/import-harness.js';

/** The per-tenant limit of the expensive routes, against DynamoDB Local. */
describe('per-tenant rate limit', () => {
  const limits = { imports: 3, exports: 1, 'integration-runs': 1, 'integration-previews': 2 };

  it('allows the limit per minute, refuses the next with a 429 saying when to retry, and starts afresh in the next minute', async () => {
    let now = Date.parse('2031-01-01T10:00:30.000Z');
    const limiter = new TenantRateLimiter(dynamoDocumentClient(), env.CONTROL_TABLE, limits, () => now);
    const tenant = uniqueTenant('rl');
    for (let call = 0; call < 3; call += 1) await limiter.take(tenant, 'imports');
    const refused = await limiter.take(tenant, 'imports').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect(refused).toMatchObject({ status: 429, message: 'too many imports requests: at most 3 a minute per tenant; try again in 30 s' });
    // Other groups and other tenants have their own budgets.
    await limiter.take(tenant, 'exports');
    await limiter.take(uniqueTenant('rl'), 'imports');
    now += 30_000;
    await limiter.take(tenant, 'imports');
  });

  it('counts concurrent requests exactly: of 10 at once with a limit of 3, 3 pass', async () => {
    const limiter = new TenantRateLimiter(dynamoDocumentClient(), env.CONTROL_TABLE, limits, () => Date.parse('2031-01-01T11:00:00.000Z'));
    const tenant = uniqueTenant('rl');
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => limiter.take(tenant, 'imports')));
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(3);
  });

  it('the API applies it to previews: the 31st in a minute is a 429 before anything connects', async () => {
    const limit = TENANT_RATE_LIMITS['integration-previews'];
    const preview = async (tenant: string) => {
      const result = await handler(
        apiEvent({
          method: 'POST',
          path: '/integrations/postgres/preview',
          tenantId: tenant,
          body: { connectionUrl: 'postgresql://u:p@127.0.0.1:1/db?sslmode=disable', query: 'SELECT 1 AS email' },
        }),
        lambdaContext('roster-api'),
      );
      return { status: result.statusCode, body: jsonBody(result) };
    };
    // A run that straddles a minute boundary proves nothing: take one that does not.
    let answers: Array<{ status: number | undefined; body: any }> = [];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const minute = Math.floor(Date.now() / 60_000);
      const tenant = uniqueTenant('rl');
      answers = [];
      for (let call = 0; call <= limit; call += 1) answers.push(await preview(tenant));
      if (Math.floor(Date.now() / 60_000) === minute) break;
    }
    expect(answers.slice(0, limit).map((answer) => answer.status)).toEqual(Array(limit).fill(422));
    expect(answers[limit]).toMatchObject({ status: 429, body: { error: { code: 'rate_limited', message: expect.stringMatching(/at most 30 a minute per tenant; try again in \d+ s/) } } });
  });
});
