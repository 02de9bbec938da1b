import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { dynamoDocumentClient } from '../../shared/aws/clients.js';
import { eventKeys } from '../../shared/events/event-keys.js';
import { EVENT_TYPE_SHARDS } from '../../shared/storage/table-definitions.js';
import { userKeys } from '../../shared/users/user.js';
import { testTables } from '../support/test-resources.js';
import { handler } from '../../functions/api/handler.js';
import { lambdaContext } from '../../infra/local/lambda-context.js';
import { apiEvent, jsonBody } from '../support/api-events.js';
import { importFile, uniqueTenant } from '../support/import-harness.js';

const runCsv = (tenant: string, csv: string) => importFile(tenant, csv);

const call = async (tenantId: string, method: string, path: string, options: { body?: unknown; query?: Record<string, string> } = {}) => {
  const routePath = path.replace(/^\/users\/[^/]+/, '/users/{userId}');
  const userId = path.match(/^\/users\/([^/]+)/)?.[1];
  const result = await handler(
    apiEvent({ method, path, routePath, tenantId, query: options.query, body: options.body, ...(userId ? { pathParameters: { userId: decodeURIComponent(userId) } } : {}) }),
    lambdaContext('roster-api'),
  );
  return { status: result.statusCode, body: jsonBody(result) };
};

const allPages = async (tenant: string, path: string, query: Record<string, string> = {}) => {
  const items: any[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await call(tenant, 'GET', path, { query: { ...query, ...(cursor ? { cursor } : {}) } });
    expect(page.status).toBe(200);
    items.push(...page.body.items);
    cursor = page.body.nextCursor ?? undefined;
    pages += 1;
  } while (cursor);
  return { items, pages };
};

describe('users routes', () => {
  it('POST /users creates (201) then upserts by normalised email (200), coercing to the registry’s types and recording events with source api', async () => {
    const tenant = uniqueTenant();
    expect((await call(tenant, 'POST', '/properties', { body: { name: 'visits', type: 'number' } })).status).toBe(201);
    const created = await call(tenant, 'POST', '/users', { body: { email: '  Ada@Example.COM ', properties: { visits: '3', plan: 'gold' } } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ userId: expect.stringMatching(/^u_/), email: 'ada@example.com', properties: { visits: 3, plan: 'gold' } });
    const again = await call(tenant, 'POST', '/users', { body: { email: 'ada@example.com', properties: { visits: 4 } } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ userId: created.body.userId, properties: { visits: 4, plan: 'gold' } });
    const events = await call(tenant, 'GET', `/users/${created.body.userId}/events`);
    expect(events.body.items.map((event: any) => [event.type, event.source, event.properties.changed])).toEqual([
      ['user.updated', 'api', ['visits']],
      ['user.created', 'api', ['visits', 'plan']],
    ]);
  });

  it('POST /users with an externalId creates the user with it: one user.created event, updatedAt = createdAt', async () => {
    const tenant = uniqueTenant();
    const created = await call(tenant, 'POST', '/users', { body: { email: 'cy@example.com', externalId: 'crm-9', properties: { plan: 'gold' } } });
    expect(created).toMatchObject({ status: 201, body: { externalId: 'crm-9', properties: { plan: 'gold' } } });
    expect(created.body.updatedAt).toBe(created.body.createdAt);
    // A PATCH that would outgrow one item is a 400 naming the property, and changes nothing (not the email either).
    const huge = await call(tenant, 'PATCH', `/users/${created.body.userId}`, { body: { email: 'cy2@example.com', properties: { note: 'n'.repeat(200 * 1024), more: 'm'.repeat(200 * 1024) } } });
    expect(huge).toMatchObject({ status: 400, body: { error: { details: [{ field: expect.stringMatching(/^body\.properties\.(note|more)$/) }] } } });
    expect((await call(tenant, 'GET', `/users/${created.body.userId}`)).body).toMatchObject({ email: 'cy@example.com', properties: { plan: 'gold' } });
    // Numbers beyond 2^53 read back as (imprecise) JSON numbers, never as a 500; out of DynamoDB's range is a 400.
    await call(tenant, 'POST', '/properties', { body: { name: 'big', type: 'number' } });
    expect((await call(tenant, 'PATCH', `/users/${created.body.userId}`, { body: { properties: { big: 12345678901234567890 } } })).status).toBe(200);
    expect((await call(tenant, 'GET', `/users/${created.body.userId}`)).body.properties.big).toBe(12345678901234567890);
    expect((await call(tenant, 'GET', '/users', { query: { email: 'cy@example.com' } })).status).toBe(200);
    const tooBig = await call(tenant, 'PATCH', `/users/${created.body.userId}`, { body: { properties: { big: 1e300 } } });
    expect(tooBig).toMatchObject({ status: 400, body: { error: { details: [{ field: 'body.properties.big', message: expect.stringMatching(/out of range/) }] } } });
    // A name the header rule makes from `2024 Revenue` is a valid name on the API too.
    expect((await call(tenant, 'PATCH', `/users/${created.body.userId}`, { body: { properties: { '2024_revenue': '5' } } })).body.properties).toEqual({ plan: 'gold', big: 12345678901234567890, '2024_revenue': '5' });
    const events = (await call(tenant, 'GET', `/users/${created.body.userId}/events`)).body.items.filter((event: any) => event.type === 'user.created');
    expect(events.map((event: any) => [event.type, event.properties.changed])).toEqual([['user.created', ['plan']]]);
    expect((await call(tenant, 'GET', '/users', { query: { externalId: 'crm-9' } })).body.items.map((user: any) => user.userId)).toEqual([created.body.userId]);
    // An existing user gaining one is an update, recorded as such.
    const later = await call(tenant, 'POST', '/users', { body: { email: 'dee@example.com' } });
    const gained = await call(tenant, 'POST', '/users', { body: { email: 'dee@example.com', externalId: 'crm-10' } });
    expect(gained).toMatchObject({ status: 200, body: { userId: later.body.userId, externalId: 'crm-10' } });
    const deeEvents = (await call(tenant, 'GET', `/users/${later.body.userId}/events`)).body.items;
    expect(deeEvents.map((event: any) => [event.type, event.properties.changed]).sort()).toEqual([
      ['user.created', []],
      ['user.updated', ['external_id']],
    ]);
  });

  it('refuses bad input with 400 naming the field, and writes nothing', async () => {
    const tenant = uniqueTenant();
    await call(tenant, 'POST', '/properties', { body: { name: 'visits', type: 'number' } });
    const badValue = await call(tenant, 'POST', '/users', { body: { email: 'bob@example.com', properties: { visits: 'many' } } });
    expect(badValue.status).toBe(400);
    expect(badValue.body.error.details).toEqual([{ field: 'body.properties.visits', message: expect.any(String) }]);
    const badEmail = await call(tenant, 'POST', '/users', { body: { email: 'not an email' } });
    expect(badEmail.status).toBe(400);
    expect(badEmail.body.error.details[0].field).toBe('body.email');
    const reserved = await call(tenant, 'POST', '/users', { body: { email: 'bob@example.com', properties: { email: 'x' } } });
    expect(reserved.status).toBe(400);
    expect((await call(tenant, 'GET', '/users')).body.items).toEqual([]);
  });

  it('GET /users pages through every user across shards exactly once, and filters by email and externalId', async () => {
    const tenant = uniqueTenant();
    const csv = `email,n\n${Array.from({ length: 2500 }, (_, i) => `p${i}@example.com,${i}`).join('\n')}\n`;
    await runCsv(tenant, csv);
    const { items, pages } = await allPages(tenant, '/users', { limit: '200' });
    expect(items).toHaveLength(2500);
    expect(new Set(items.map((user) => user.email)).size).toBe(2500);
    expect(new Set(items.map((user) => user.userId)).size).toBe(2500);
    expect(pages).toBeGreaterThanOrEqual(13);
    const one = await call(tenant, 'GET', '/users', { query: { email: 'P7@Example.com' } });
    expect(one.body.items.map((user: any) => user.email)).toEqual(['p7@example.com']);
    await call(tenant, 'PATCH', `/users/${one.body.items[0].userId}`, { body: { externalId: 'crm-7' } });
    expect((await call(tenant, 'GET', '/users', { query: { externalId: 'crm-7' } })).body.items.map((user: any) => user.email)).toEqual(['p7@example.com']);
    expect((await call(tenant, 'GET', '/users', { query: { externalId: 'crm-7', email: 'p8@example.com' } })).body.items).toEqual([]);
    expect((await call(tenant, 'GET', '/users', { query: { email: 'nobody@example.com' } })).body.items).toEqual([]);
    const tampered = await call(tenant, 'GET', '/users', { query: { cursor: Buffer.from(JSON.stringify({ t: tenant, k: { s: 99 } })).toString('base64url') } });
    expect(tampered.status).toBe(400);
  });

  it('PATCH changes email (old email free, new one taken by nobody else), externalId and properties; conflicts are 409', async () => {
    const tenant = uniqueTenant();
    const ada = (await call(tenant, 'POST', '/users', { body: { email: 'ada@example.com' } })).body;
    const bob = (await call(tenant, 'POST', '/users', { body: { email: 'bob@example.com', externalId: 'crm-b' } })).body;
    expect(bob.externalId).toBe('crm-b');
    expect((await call(tenant, 'PATCH', `/users/${ada.userId}`, { body: { email: 'BOB@example.com' } })).status).toBe(409);
    expect((await call(tenant, 'PATCH', `/users/${ada.userId}`, { body: { externalId: 'crm-b' } })).status).toBe(409);
    const moved = await call(tenant, 'PATCH', `/users/${ada.userId}`, { body: { email: 'ada.new@example.com', properties: { plan: 'pro' } } });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ userId: ada.userId, email: 'ada.new@example.com', properties: { plan: 'pro' } });
    // The new email finds Ada; the old one is free and creates a different user.
    expect((await call(tenant, 'GET', '/users', { query: { email: 'ada.new@example.com' } })).body.items[0].userId).toBe(ada.userId);
    const fresh = await call(tenant, 'POST', '/users', { body: { email: 'ada@example.com' } });
    expect(fresh.status).toBe(201);
    expect(fresh.body.userId).not.toBe(ada.userId);
    // An import of the new email updates Ada, not a new user.
    await runCsv(tenant, 'email,plan\nada.new@example.com,team\n');
    expect((await call(tenant, 'GET', `/users/${ada.userId}`)).body.properties.plan).toBe('team');
    expect((await call(tenant, 'PATCH', `/users/u_nobody`, { body: { properties: { plan: 'x' } } })).status).toBe(404);
    expect((await call(tenant, 'PATCH', `/users/${ada.userId}`, { body: {} })).status).toBe(400);
  });

  it('DELETE erases the user, their lookups and all their events; the email can then be used again', async () => {
    const tenant = uniqueTenant();
    const ada = (await call(tenant, 'POST', '/users', { body: { email: 'ada@example.com', externalId: 'crm-a' } })).body;
    const posted = await call(tenant, 'POST', '/events', { body: { events: Array.from({ length: 30 }, (_, i) => ({ userId: ada.userId, type: 'page.viewed', occurredAt: `2026-01-01T00:00:${String(i).padStart(2, '0')}Z` })) } });
    expect(posted.body.accepted).toBe(30);
    expect((await call(tenant, 'DELETE', `/users/${ada.userId}`)).status).toBe(204);
    expect((await call(tenant, 'GET', `/users/${ada.userId}`)).status).toBe(404);
    expect((await call(tenant, 'GET', `/users/${ada.userId}/events`)).status).toBe(404);
    expect((await call(tenant, 'GET', '/users', { query: { externalId: 'crm-a' } })).body.items).toEqual([]);
    expect((await call(tenant, 'DELETE', `/users/${ada.userId}`)).status).toBe(404);
    // The tables themselves hold nothing of her: profile, email and external-ID lookups, timeline.
    const client = dynamoDocumentClient();
    for (const key of [userKeys.profile(tenant, ada.userId), userKeys.email(tenant, 'ada@example.com'), userKeys.externalId(tenant, 'crm-a')]) {
      expect((await client.send(new GetCommand({ TableName: testTables.USERS_TABLE, Key: key, ConsistentRead: true }))).Item).toBeUndefined();
    }
    const timelineItems = await client.send(
      new QueryCommand({ TableName: testTables.EVENTS_TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': eventKeys.timeline(tenant, ada.userId) }, ConsistentRead: true }),
    );
    expect(timelineItems.Items).toEqual([]);
    const indexed = await Promise.all(
      Array.from({ length: EVENT_TYPE_SHARDS }, (_, shard) =>
        client.send(new QueryCommand({ TableName: testTables.EVENTS_TABLE, IndexName: 'byTypeDay', KeyConditionExpression: 'typeBucket = :bucket', ExpressionAttributeValues: { ':bucket': eventKeys.typeDayShard(tenant, 'page.viewed', '2026-01-01', shard) } })),
      ),
    );
    expect(indexed.flatMap((page) => page.Items ?? [])).toEqual([]);
    // Nothing is left in the timeline partition either (a re-created user starts empty).
    const again = await call(tenant, 'POST', '/users', { body: { email: 'ada@example.com' } });
    expect(again.status).toBe(201);
    const timeline = (await call(tenant, 'GET', `/users/${again.body.userId}/events`)).body.items;
    expect(timeline.map((event: any) => event.type)).toEqual(['user.created']);
  });
});

describe('events routes', () => {
  it('stores good events, rejects bad ones alone with their index, and stores a repeated eventId once', async () => {
    const tenant = uniqueTenant();
    const ada = (await call(tenant, 'POST', '/users', { body: { email: 'ada@example.com', externalId: 'crm-a' } })).body;
    const body = {
      events: [
        { email: 'ADA@example.com', type: 'order.placed', occurredAt: '2025-12-24T18:00:00+01:00', properties: { total: 12.5 }, eventId: 'order-1' },
        { userId: ada.userId, type: 'page.viewed' },
        { externalId: 'crm-a', type: 'call:logged', occurredAt: '2025-12-25T09:00:00Z' },
        { email: 'nobody@example.com', type: 'x' },
        { userId: ada.userId, type: 'bad type!' },
        { userId: ada.userId, type: 'ok', occurredAt: 'yesterday' },
        { email: 'ada@example.com', userId: ada.userId, type: 'two.ids' },
        'not an object',
      ],
    };
    const first = await call(tenant, 'POST', '/events', { body });
    expect(first.status).toBe(202);
    expect(first.body.accepted).toBe(3);
    expect(first.body.rejected.map((rejection: any) => rejection.index)).toEqual([3, 4, 5, 6, 7]);
    expect(first.body.rejected[0].message).toMatch(/no user/);
    await call(tenant, 'POST', '/events', { body: { events: [body.events[0]] } });
    const timeline = (await call(tenant, 'GET', `/users/${ada.userId}/events`, { query: { type: 'order.placed' } })).body.items;
    expect(timeline).toEqual([{ eventId: 'order-1', userId: ada.userId, type: 'order.placed', occurredAt: '2025-12-24T17:00:00.000Z', properties: { total: 12.5 }, source: 'api' }]);
    expect((await call(tenant, 'POST', '/events', { body: { events: [] } })).status).toBe(400);
    expect((await call(tenant, 'POST', '/events', { body: { events: Array.from({ length: 101 }, () => ({ userId: ada.userId, type: 'x' })) } })).status).toBe(400);
  });

  it('stores a client eventId once per tenant whatever its occurredAt: repeats in one call, retries, racing calls; deleting the user releases it', async () => {
    const tenant = uniqueTenant();
    const other = uniqueTenant('other');
    const ada = (await call(tenant, 'POST', '/users', { body: { email: 'ada@example.com' } })).body;
    const bob = (await call(other, 'POST', '/users', { body: { email: 'bob@example.com' } })).body;
    const orders = async (owner: string, userId: string) =>
      (await call(owner, 'GET', `/users/${userId}/events`, { query: { type: 'order.placed' } })).body.items.map((event: any) => `${event.eventId}@${event.occurredAt}`);

    // A repeat inside one call (same or other occurredAt) is accepted and stored once; the call still stores the rest.
    const first = await call(tenant, 'POST', '/events', {
      body: {
        events: [
          { userId: ada.userId, type: 'order.placed', eventId: 'o-1', occurredAt: '2026-01-01T10:00:00Z' },
          { userId: ada.userId, type: 'order.placed', eventId: 'o-1', occurredAt: '2026-01-01T10:00:00Z' },
          { userId: ada.userId, type: 'order.placed', eventId: 'o-1', occurredAt: '2026-01-02T10:00:00Z' },
          { userId: ada.userId, type: 'order.placed', eventId: 'o-2' },
        ],
      },
    });
    expect(first).toMatchObject({ status: 202, body: { accepted: 4, rejected: [] } });
    // A retried call without occurredAt (so "now" again) and one with another time store nothing new.
    const retry = await call(tenant, 'POST', '/events', { body: { events: [{ userId: ada.userId, type: 'order.placed', eventId: 'o-2' }, { userId: ada.userId, type: 'order.placed', eventId: 'o-1', occurredAt: '2026-03-01T00:00:00Z' }] } });
    expect(retry).toMatchObject({ status: 202, body: { accepted: 2, rejected: [] } });
    // Racing calls with one new ID: exactly one event.
    await Promise.all(Array.from({ length: 5 }, (_, i) => call(tenant, 'POST', '/events', { body: { events: [{ userId: ada.userId, type: 'order.placed', eventId: 'o-3', occurredAt: `2026-02-0${i + 1}T00:00:00Z` }] } })));
    const stored = await orders(tenant, ada.userId);
    expect(stored.filter((entry: string) => entry.startsWith('o-1@'))).toEqual(['o-1@2026-01-01T10:00:00.000Z']);
    expect(stored.filter((entry: string) => entry.startsWith('o-2@'))).toHaveLength(1);
    expect(stored.filter((entry: string) => entry.startsWith('o-3@'))).toHaveLength(1);
    expect(stored).toHaveLength(3);

    // An event stores the same with or without a client ID (one encoder): a number beyond 2^53 included.
    const big = await call(tenant, 'POST', '/events', { body: { events: [{ userId: ada.userId, type: 'order.placed', eventId: 'o-big', occurredAt: '2026-01-05T00:00:00Z', properties: { total: 12345678901234567890 } }] } });
    expect(big).toMatchObject({ status: 202, body: { accepted: 1, rejected: [] } });
    // Another tenant's ID space is its own.
    expect((await call(other, 'POST', '/events', { body: { events: [{ userId: bob.userId, type: 'order.placed', eventId: 'o-1' }] } })).body.accepted).toBe(1);
    expect(await orders(other, bob.userId)).toHaveLength(1);

    // Deleting the user deletes the events and their claims: the IDs may be sent again for a new user.
    expect((await call(tenant, 'DELETE', `/users/${ada.userId}`)).status).toBe(204);
    const claim = await dynamoDocumentClient().send(new GetCommand({ TableName: testTables.EVENTS_TABLE, Key: eventKeys.eventIdClaim(tenant, 'o-1') }));
    expect(claim.Item).toBeUndefined();
    const again = (await call(tenant, 'POST', '/users', { body: { email: 'ada2@example.com' } })).body;
    await call(tenant, 'POST', '/events', { body: { events: [{ userId: again.userId, type: 'order.placed', eventId: 'o-1', occurredAt: '2026-04-01T00:00:00Z' }] } });
    expect(await orders(tenant, again.userId)).toEqual(['o-1@2026-04-01T00:00:00.000Z']);
  });

  it('refuses a timeline range whose from is after its to (400 naming query.from)', async () => {
    const tenant = uniqueTenant();
    const ada = (await call(tenant, 'POST', '/users', { body: { email: 'ada@example.com' } })).body;
    const reversed = await call(tenant, 'GET', `/users/${ada.userId}/events`, { query: { from: '2026-02-01', to: '2026-01-01' } });
    expect(reversed).toMatchObject({ status: 400, body: { error: { code: 'validation_error', details: [{ field: 'query.from' }] } } });
    expect((await call(tenant, 'GET', `/users/${ada.userId}/events`, { query: { from: '2026-01-01', to: '2026-01-01' } })).status).toBe(200);
  });

  it('GET /users/{id}/events filters by type and inclusive from/to (a date covers its whole day), newest first, paged', async () => {
    const tenant = uniqueTenant();
    const ada = (await call(tenant, 'POST', '/users', { body: { email: 'ada@example.com' } })).body;
    const days = ['2026-03-01T00:00:00Z', '2026-03-01T23:59:59Z', '2026-03-02T12:00:00Z', '2026-03-03T00:00:00Z'];
    await call(tenant, 'POST', '/events', { body: { events: days.map((occurredAt, i) => ({ userId: ada.userId, type: i % 2 ? 'b' : 'a', occurredAt })) } });
    const range = (await call(tenant, 'GET', `/users/${ada.userId}/events`, { query: { from: '2026-03-01', to: '2026-03-02' } })).body.items;
    expect(range.map((event: any) => event.occurredAt)).toEqual(['2026-03-02T12:00:00.000Z', '2026-03-01T23:59:59.000Z', '2026-03-01T00:00:00.000Z']);
    const exact = (await call(tenant, 'GET', `/users/${ada.userId}/events`, { query: { from: '2026-03-01T23:59:59Z', to: '2026-03-03T00:00:00Z', type: 'b' } })).body.items;
    expect(exact.map((event: any) => event.occurredAt)).toEqual(['2026-03-03T00:00:00.000Z', '2026-03-01T23:59:59.000Z']);
    const { items } = await allPages(tenant, `/users/${ada.userId}/events`, { limit: '2' });
    expect(items).toHaveLength(5);
    expect((await call(tenant, 'GET', `/users/${ada.userId}/events`, { query: { from: 'soon' } })).status).toBe(400);
  });
});

describe('tenant isolation of users and events', () => {
  it('another tenant gets 404 and no data on every route with A’s IDs, emails and external IDs', async () => {
    const a = uniqueTenant('a');
    const b = uniqueTenant('b');
    const ada = (await call(a, 'POST', '/users', { body: { email: 'ada@example.com', externalId: 'crm-a' } })).body;
    await call(a, 'POST', '/events', { body: { events: [{ userId: ada.userId, type: 'secret.event' }] } });
    expect((await call(b, 'GET', `/users/${ada.userId}`)).status).toBe(404);
    expect((await call(b, 'GET', `/users/${ada.userId}/events`)).status).toBe(404);
    expect((await call(b, 'PATCH', `/users/${ada.userId}`, { body: { properties: { hacked: 'yes' } } })).status).toBe(404);
    expect((await call(b, 'DELETE', `/users/${ada.userId}`)).status).toBe(404);
    expect((await call(b, 'GET', '/users')).body.items).toEqual([]);
    expect((await call(b, 'GET', '/users', { query: { email: 'ada@example.com' } })).body.items).toEqual([]);
    expect((await call(b, 'GET', '/users', { query: { externalId: 'crm-a' } })).body.items).toEqual([]);
    const events = await call(b, 'POST', '/events', { body: { events: [{ userId: ada.userId, type: 'x' }, { email: 'ada@example.com', type: 'x' }, { externalId: 'crm-a', type: 'x' }] } });
    expect(events.body).toEqual({ accepted: 0, rejected: [expect.objectContaining({ index: 0 }), expect.objectContaining({ index: 1 }), expect.objectContaining({ index: 2 })] });
    // A's cursor is refused for B.
    await call(a, 'POST', '/users', { body: { email: 'bob@example.com' } });
    const page = await call(a, 'GET', '/users', { query: { limit: '1' } });
    expect((await call(b, 'GET', '/users', { query: { cursor: page.body.nextCursor } })).status).toBe(400);
    // And A is untouched.
    expect((await call(a, 'GET', `/users/${ada.userId}`)).body.properties).toEqual({});
    expect((await call(a, 'GET', `/users/${ada.userId}/events`, { query: { type: 'secret.event' } })).body.items).toHaveLength(1);
  });
});
