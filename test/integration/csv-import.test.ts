import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { dynamoDocumentClient } from '../../shared/aws/clients.js';
import { NotFoundError } from '../../shared/errors/domain-errors.js';
import { runCsvImport } from '../../shared/imports/csv-import-run.js';
import { createImport, getImport, listImports } from '../../shared/imports/import-service.js';
import { uploadKey } from '../../shared/imports/upload-key.js';
import { userStore } from '../../shared/wiring/stores.js';
import { allUsers, blobs, CountingUserStore, env, importFile, imports, registry, uniqueTenant, userByEmail } from '../support/import-harness.js';
import { testTables } from '../support/test-resources.js';

describe('CSV import (DynamoDB Local + s3rver)', () => {
  it('imports a UTF-8 file with BOM and CRLF: users, typed properties, events', async () => {
    const tenant = uniqueTenant();
    await registry.define(tenant, 'age', 'number');
    await registry.define(tenant, 'vip', 'boolean');
    const csv = '\uFEFFEmail,First Name,Age,VIP\r\nAda@Example.com,Ada,36,yes\r\nbob@example.com,Bob,41,no\r\n';
    const { record } = await importFile(tenant, csv, { filename: 'people.csv' });
    expect(record).toMatchObject({ status: 'completed', encoding: 'utf-8', delimiter: ',', filename: 'people.csv' });
    expect(record.counts).toEqual({ rows: 2, created: 2, updated: 0, unchanged: 0, skipped: 0, failed: 0 });
    const ada = await userByEmail(tenant, 'ada@example.com');
    expect(ada?.properties).toEqual({ first_name: 'Ada', age: 36, vip: true });
    const types = await registry.types(tenant);
    expect(types.get('first_name')).toBe('string');
    const events = await dynamoDocumentClient().send(
      new QueryCommand({ TableName: testTables.EVENTS_TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `${tenant}#${ada!.userId}` } }),
    );
    expect(events.Items).toEqual([expect.objectContaining({ type: 'user.created', source: 'csv', properties: { changed: ['first_name', 'age', 'vip'] } })]);
  });

  it('points errors at the line where a record starts, after quoted newlines', async () => {
    const tenant = uniqueTenant();
    await registry.define(tenant, 'score', 'number');
    const csv = [
      'email,note,score',
      'a@example.com,"two',
      'lines",1',
      'b@example.com,"three\r\nline\r\ncell",not-a-number',
      'c@example.com,plain,3',
      'not-an-email,plain,4',
    ].join('\n');
    const { record } = await importFile(tenant, csv);
    expect(record.counts).toMatchObject({ rows: 4, created: 2, failed: 2 });
    expect(record.errors).toEqual([
      { line: 4, column: 'score', value: 'not-a-number', message: expect.stringMatching(/not a number/) },
      { line: 8, column: 'email', value: 'not-an-email', message: expect.stringMatching(/not a valid email/) },
    ]);
    expect((await userByEmail(tenant, 'a@example.com'))?.properties).toEqual({ note: 'two\nlines', score: 1 });
    expect(await userByEmail(tenant, 'b@example.com')).toBeUndefined();
  });

  it('reads a ;-delimited Windows-1252 file (as Excel writes it) and says so', async () => {
    const tenant = uniqueTenant();
    const csv = iconv.encode('E-Mail;Stadt;Name\r\nuwe@example.de;Düsseldorf;Jürgen Groß\r\nzoe@example.fr;Orléans;Zoé\r\n', 'windows-1252');
    const { record } = await importFile(tenant, csv);
    expect(record).toMatchObject({ status: 'completed', encoding: 'windows-1252', delimiter: ';' });
    expect((await userByEmail(tenant, 'uwe@example.de'))?.properties).toEqual({ stadt: 'Düsseldorf', name: 'Jürgen Groß' });
    expect((await userByEmail(tenant, 'zoe@example.fr'))?.properties).toEqual({ stadt: 'Orléans', name: 'Zoé' });
  });

  it('finds the "Email Address" column and honours a mapping and emailColumn', async () => {
    const tenant = uniqueTenant();
    const first = await importFile(tenant, 'Email Address,Plan\nx@example.com,gold\n');
    expect(first.record.counts.created).toBe(1);
    const mapped = await importFile(tenant, 'Contact,Tier,Ignored\ny@example.com,silver,zzz\n', { emailColumn: 'Contact', mapping: { Tier: 'plan' } });
    expect(mapped.record.counts.created).toBe(1);
    expect((await userByEmail(tenant, 'y@example.com'))?.properties).toEqual({ plan: 'silver' });
  });

  it('collapses mixed-case duplicate emails into one user, last row winning per property', async () => {
    const tenant = uniqueTenant();
    const csv = 'email,plan,city\nSam@Example.com,gold,Paris\nsam@example.com,silver,\nSAM@EXAMPLE.COM,,Rome\n';
    const { record } = await importFile(tenant, csv);
    expect(record.counts).toEqual({ rows: 3, created: 1, updated: 2, unchanged: 0, skipped: 0, failed: 0 });
    expect(record.duplicateRows).toBe(2);
    const users = await allUsers(tenant);
    expect(users).toHaveLength(1);
    expect(users[0]!.properties).toEqual({ plan: 'silver', city: 'Rome' });
  });


  it('applies rows of one email in file order when they fall in different batches in flight', async () => {
    const tenant = uniqueTenant();
    // Batches of 2 rows, 4 in flight: `same@` comes back every third row, so its rows keep
    // landing in a batch while an earlier batch holding it is still being written.
    const lines = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? `same@example.com,v${i}` : `other${i}@example.com,v${i}`));
    const { record } = await importFile(tenant, `email,plan\n${lines.join('\n')}\n`, { settings: { batchSize: 2, batchesInFlight: 4 } });
    expect(record.counts).toEqual({ rows: 60, created: 41, updated: 19, unchanged: 0, skipped: 0, failed: 0 });
    expect(record.duplicateRows).toBe(19);
    expect((await userByEmail(tenant, 'same@example.com'))?.properties).toEqual({ plan: 'v57' });
    expect((await userByEmail(tenant, 'other58@example.com'))?.properties).toEqual({ plan: 'v58' });
    expect(await allUsers(tenant)).toHaveLength(41);
  });
  it('fails rows with too many or too few fields, and writes none of them', async () => {
    const tenant = uniqueTenant();
    const { record } = await importFile(tenant, 'email,a,b\nok@example.com,1,2\nlong@example.com,1,2,3\nshort@example.com,1\n');
    expect(record.status).toBe('completed_with_errors');
    expect(record.counts).toMatchObject({ rows: 3, created: 1, failed: 2 });
    expect(record.errors.map((error) => [error.line, error.message])).toEqual([
      [3, 'expected 3 fields (as in the header), found 4'],
      [4, 'expected 3 fields (as in the header), found 2'],
    ]);
    expect((await allUsers(tenant)).map((user) => user.email)).toEqual(['ok@example.com']);
  });

  it('completes a header-only file with zero counts', async () => {
    const { record } = await importFile(uniqueTenant(), 'email,name\r\n');
    expect(record.status).toBe('completed');
    expect(record.counts).toEqual({ rows: 0, created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0 });
  });

  it('fails fast without an email column and writes nothing', async () => {
    const tenant = uniqueTenant();
    const { record } = await importFile(tenant, 'name,phone\nAda,123\n');
    expect(record.status).toBe('failed');
    expect(record.error).toEqual({ code: 'no_email_column', message: expect.stringMatching(/no email column.*columns: name, phone/) });
    expect(await allUsers(tenant)).toEqual([]);
    expect(record.counts.rows).toBe(0);
  });

  it('update_only skips unknown emails and updates known ones', async () => {
    const tenant = uniqueTenant();
    await importFile(tenant, 'email,plan\nknown@example.com,free\n');
    const { record } = await importFile(tenant, 'email,plan\nknown@example.com,pro\nstranger@example.com,pro\n', { mode: 'update_only' });
    expect(record.counts).toMatchObject({ rows: 2, updated: 1, skipped: 1, created: 0 });
    expect((await allUsers(tenant)).map((user) => [user.email, user.properties.plan])).toEqual([['known@example.com', 'pro']]);
  });

  it('a re-import of the same file changes nothing and writes nothing', async () => {
    const tenant = uniqueTenant();
    const csv = 'email,plan,visits\n' + Array.from({ length: 300 }, (_, i) => `user${i}@example.com,gold,${i}`).join('\n');
    await importFile(tenant, csv);
    const counting = new CountingUserStore();
    const { record } = await importFile(tenant, csv, { users: counting });
    expect(record.counts).toEqual({ rows: 300, created: 0, updated: 0, unchanged: 300, skipped: 0, failed: 0 });
    expect(counting.writtenItems).toBe(0);
  });

  it('ignores a duplicate S3 event: one run, counts not doubled', async () => {
    const tenant = uniqueTenant();
    const { importId, deps, size, record } = await importFile(tenant, 'email\none@example.com\ntwo@example.com\n');
    const again = await runCsvImport(deps, { kind: 'upload', tenantId: tenant, importId, size, sequencer: 'seq-1' }, () => 900_000);
    expect(again).toBe('ignored');
    expect((await imports.get(tenant, importId))?.counts).toEqual(record.counts);
  });

  it('refuses an object whose key matches no import of that tenant', async () => {
    const tenant = uniqueTenant();
    const deps = { imports, users: userStore(env), registry, blobs, continueLater: async () => undefined };
    await blobs.put(uploadKey(tenant, 'imp_doesnotexist'), 'email\nx@example.com\n', 'text/csv');
    expect(await runCsvImport(deps, { kind: 'upload', tenantId: tenant, importId: 'imp_doesnotexist', size: 20, sequencer: 's' }, () => 900_000)).toBe('ignored');
    expect(await allUsers(tenant)).toEqual([]);
  });

  it('two concurrent imports of the same 2,000 emails create exactly 2,000 users', async () => {
    const tenant = uniqueTenant();
    const csv = 'email,n\n' + Array.from({ length: 2000 }, (_, i) => `person${i}@example.com,${i}`).join('\n');
    const [first, second] = await Promise.all([importFile(tenant, csv), importFile(tenant, csv)]);
    expect(first.record.counts.rows + second.record.counts.rows).toBe(4000);
    const users = await allUsers(tenant);
    expect(users).toHaveLength(2000);
    expect(new Set(users.map((user) => user.email)).size).toBe(2000);
  }, 120_000);

  it('continues across invocations from the last committed record when time runs short', async () => {
    const tenant = uniqueTenant();
    const csv = 'email,n\n' + Array.from({ length: 1000 }, (_, i) => `c${i}@example.com,${i}`).join('\n') + '\nbad-email,1\n';
    const { record, invocations, results } = await importFile(tenant, csv, {
      settings: { batchSize: 100, batchesInFlight: 2, stopWhenRemainingMs: 60_000 },
      remainingMs: () => 1_000, // always "near the limit": each invocation commits one batch or two, then continues
    });
    expect(invocations).toBeGreaterThan(3);
    expect(results.at(-1)).toBe('completed');
    expect(results.slice(0, -1).every((result) => result === 'continued')).toBe(true);
    expect(record.counts).toEqual({ rows: 1001, created: 1000, updated: 0, unchanged: 0, skipped: 0, failed: 1 });
    expect(record.errors).toEqual([expect.objectContaining({ line: 1002, value: 'bad-email' })]);
    expect(await allUsers(tenant)).toHaveLength(1000);
  }, 120_000);

  it('writes every row error into a downloadable report behind errorReportUrl', async () => {
    const tenant = uniqueTenant();
    const rows = Array.from({ length: 150 }, (_, i) => `=bad${i},x`);
    const { importId, record } = await importFile(tenant, `email,name\n${rows.join('\n')}\n`);
    expect(record.errorCount).toBe(150);
    expect(record.errors).toHaveLength(100);
    const view = await getImport({ imports, blobs, maxUploadBytes: 1e9 }, tenant, importId);
    expect(view.errorReportUrl).toMatch(/^http/);
    const report = await (await fetch(view.errorReportUrl!)).text();
    const lines = report.replace(/^\uFEFF/, '').trim().split(/\r?\n/);
    expect(lines[0]).toBe('line,column,value,message');
    expect(lines).toHaveLength(151);
    expect(lines[1]).toMatch(/^2,email,'=bad0,/); // formula neutralised
    // The list shows each import as GET /imports/{id} does, report URL included.
    const listed = await listImports({ imports, blobs, maxUploadBytes: 1e9 }, tenant, 10);
    expect(listed.items.find((item) => item.importId === importId)?.errorReportUrl).toMatch(/^http/);
  });

  it('a file that is only a byte-order mark fails as empty (it does not stay processing)', async () => {
    for (const bom of [Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from([0xff, 0xfe])]) {
      const { record } = await importFile(uniqueTenant(), bom);
      expect(record).toMatchObject({ status: 'failed', error: { code: 'empty_file' } });
    }
  });

  it('a row that would grow a user past one DynamoDB item is a row error naming its column; the rest of the file imports', async () => {
    const tenant = uniqueTenant();
    const csv = `email,note,plan\nbig@example.com,${'y'.repeat(500 * 1024)},gold\nafter@example.com,ok,silver\nwide@example.com,${'é'.repeat(210 * 1024)},x\n`;
    const { record } = await importFile(tenant, csv);
    expect(record.status).toBe('completed_with_errors');
    expect(record.counts).toEqual({ rows: 3, created: 1, updated: 0, unchanged: 0, skipped: 0, failed: 2 });
    expect(record.errors).toEqual([
      { line: 2, column: 'note', message: expect.stringMatching(/would take \d+ KB, above the 392 KB one user may hold/) },
      { line: 4, column: 'note', message: expect.stringMatching(/would take 4\d\d KB/) }, // 210 K "é" are 420 KB of UTF-8
    ]);
    expect((await allUsers(tenant)).map((user) => user.email)).toEqual(['after@example.com']);
  });

  it('two spellings of one address (Unicode and punycode domain) in concurrent batches are one user: the later row wins', async () => {
    const tenant = uniqueTenant();
    const filler = Array.from({ length: 600 }, (_, i) => `f${i}@example.com,x`);
    const csv = `email,plan\nrace@zürich8.ch,first\n${filler.join('\n')}\nRACE@xn--zrich8-3ya.ch,second\n`;
    const { record } = await importFile(tenant, csv);
    expect(record.counts).toEqual({ rows: 602, created: 601, updated: 1, unchanged: 0, skipped: 0, failed: 0 });
    const user = await userByEmail(tenant, 'race@xn--zrich8-3ya.ch');
    expect(user?.properties).toEqual({ plan: 'second' });
  });

  it('refuses a file larger than maxBytes whatever way it arrived', async () => {
    const tenant = uniqueTenant();
    const { record } = await importFile(tenant, 'email\nbig@example.com\n', { maxUploadBytes: 10 });
    expect(record.status).toBe('failed');
    expect(record.error?.code).toBe('file_too_large');
    expect(await allUsers(tenant)).toEqual([]);
  });

  it("keeps tenants apart: B cannot read A's import, A's users stay A's", async () => {
    const a = uniqueTenant('a');
    const b = uniqueTenant('b');
    const { importId } = await importFile(a, 'email\nshared@example.com\n');
    await expect(getImport({ imports, blobs, maxUploadBytes: 1e9 }, b, importId)).rejects.toBeInstanceOf(NotFoundError);
    await importFile(b, 'email,plan\nshared@example.com,b-plan\n');
    expect((await userByEmail(a, 'shared@example.com'))?.properties).toEqual({});
    expect((await userByEmail(b, 'shared@example.com'))?.properties).toEqual({ plan: 'b-plan' });
    expect((await userByEmail(a, 'shared@example.com'))?.userId).not.toBe((await userByEmail(b, 'shared@example.com'))?.userId);
  });

  it('pasted CSV goes through the same pipeline', async () => {
    const tenant = uniqueTenant();
    const created = await createImport({ imports, blobs, maxUploadBytes: 1e9 }, tenant, { csv: 'email\npasted@example.com\n' });
    expect(created).toMatchObject({ status: 202, body: { status: 'processing' } });
    const size = 'email\npasted@example.com\n'.length;
    const deps = { imports, users: userStore(env), registry, blobs, continueLater: async () => undefined };
    expect(await runCsvImport(deps, { kind: 'upload', tenantId: tenant, importId: created.body.importId, size, sequencer: 's' }, () => 900_000)).toBe('completed');
    expect((await allUsers(tenant)).map((user) => user.email)).toEqual(['pasted@example.com']);
  });
});
