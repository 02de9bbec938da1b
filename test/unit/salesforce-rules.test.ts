import { describe, expect, it } from 'vitest';
import { callbackPage } from '../../shared/integrations/salesforce/callback-page.js';
import { checkInstanceUrl, checkLoginUrl } from '../../shared/integrations/salesforce/login-url.js';
import { pkcePair } from '../../shared/integrations/salesforce/oauth-state-store.js';
import { laterKey, sinceCondition } from '../../shared/integrations/salesforce/salesforce-import.js';
import { putSalesforceSettingsBody, resolveSalesforceSettings, type SalesforceField } from '../../shared/integrations/salesforce/salesforce-settings.js';
import { fromSalesforce, toCsvCell, toSalesforce } from '../../shared/integrations/salesforce/salesforce-values.js';
import { parseBulkError } from '../../shared/integrations/salesforce/salesforce-export.js';
import { createHash } from 'node:crypto';

const field = (name: string, type: string, extra: Partial<SalesforceField> = {}): SalesforceField => ({
  name,
  label: name,
  type,
  updateable: true,
  createable: true,
  externalId: false,
  unique: false,
  ...extra,
});

const contactFields = [
  field('Id', 'id', { updateable: false, createable: false }),
  field('Email', 'email'),
  field('FirstName', 'string'),
  field('Loyalty_Tier__c', 'picklist'),
  field('Birthdate', 'date'),
  field('MailingAddress', 'address'),
  field('Roster_Id__c', 'string', { externalId: true, unique: true, length: 64 }),
  field('Short_Ref__c', 'string', { length: 10 }),
  field('Name_Formula__c', 'string', { updateable: false, createable: false }),
  field('Plan__c', 'string'),
];

const resolve = (body: unknown) => resolveSalesforceSettings(putSalesforceSettingsBody.parse(body), contactFields);

describe('Salesforce settings', () => {
  it('names properties from field API names (camelCase split, __c dropped), keeps explicit names, and records field types', () => {
    const checked = resolve({ import: { enabled: true, object: 'Contact', emailField: 'email', fields: ['FirstName', 'Loyalty_Tier__c', 'birthdate'] } });
    expect(checked.ok && checked.settings.import).toEqual({
      enabled: true,
      object: 'Contact',
      emailField: 'Email',
      mode: 'all',
      fields: { FirstName: 'first_name', Loyalty_Tier__c: 'loyalty_tier', Birthdate: 'birthdate' },
      fieldTypes: { Email: 'email', FirstName: 'string', Loyalty_Tier__c: 'picklist', Birthdate: 'date' },
    });
    const mapped = resolve({ import: { enabled: true, object: 'Contact', emailField: 'Email', fields: { FirstName: 'given_name' } } });
    expect(mapped.ok && mapped.settings.import.fields).toEqual({ FirstName: 'given_name' });
  });

  it('names each bad field: unknown fields, compound fields, the email field as a property, two fields on one property', () => {
    const checked = resolve({ import: { enabled: true, object: 'Contact', emailField: 'Email', fields: { Shoe__c: 'shoe', MailingAddress: 'address', Email: 'mail', FirstName: 'name', Plan__c: 'name' } } });
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.details.map((detail) => detail.field)).toEqual([
      'body.import.fields.Shoe__c',
      'body.import.fields.MailingAddress',
      'body.import.fields.Email',
      'body.import.fields.Plan__c',
    ]);
    const noEmail = resolve({ import: { enabled: true, object: 'Contact', emailField: 'Birthdate', fields: [] } });
    expect(!noEmail.ok && noEmail.details).toEqual([expect.objectContaining({ field: 'body.import.emailField', message: expect.stringContaining('must hold text') })]);
    expect(resolveSalesforceSettings(putSalesforceSettingsBody.parse({ import: { enabled: true, object: 'Nope', emailField: 'Email' } }), undefined)).toEqual({
      ok: false,
      details: [expect.objectContaining({ field: 'body.import.object' })],
    });
  });

  it('checks the export: userIdField a long enough, updateable text field (a warning unless External ID + Unique), mapped fields writable, nothing imported written back', () => {
    const ok = resolve({
      import: { enabled: true, object: 'Contact', emailField: 'Email', fields: ['FirstName'] },
      export: { enabled: true, userIdField: 'Roster_Id__c', mode: 'all', mapping: { plan: 'Plan__c' } },
    });
    expect(ok.ok && ok.settings.export).toMatchObject({ userIdField: 'Roster_Id__c', userIdFieldIsExternalId: true, mapping: { plan: 'Plan__c' } });
    expect(ok.ok && ok.settings.warnings).toEqual([]);
    const weak = resolve({ import: { enabled: true, object: 'Contact', emailField: 'Email' }, export: { enabled: true, userIdField: 'Plan__c' } });
    expect(weak.ok && weak.settings.warnings).toEqual([expect.stringContaining('not an External ID + Unique field')]);
    const bad = resolve({
      import: { enabled: true, object: 'Contact', emailField: 'Email', fields: ['FirstName'] },
      export: { enabled: true, userIdField: 'Short_Ref__c', mode: 'all', mapping: { first_name: 'Plan__c', formula: 'Name_Formula__c', mail: 'Email' } },
    });
    expect(!bad.ok && bad.details.map((detail) => detail.field)).toEqual([
      'body.export.userIdField',
      'body.export.mapping.first_name',
      'body.export.mapping.formula',
      'body.export.mapping.mail',
    ]);
    const exportOnly = resolve({ import: { enabled: false, object: 'Contact', emailField: 'Email' }, export: { enabled: true, userIdField: 'Roster_Id__c' } });
    expect(!exportOnly.ok && exportOnly.details).toEqual([expect.objectContaining({ field: 'body.export.enabled', message: 'export requires import to be enabled' })]);
  });

  it('refuses unknown keys, modes and names that are not API names at the schema', () => {
    expect(putSalesforceSettingsBody.safeParse({ import: { enabled: true, object: 'Contact', emailField: 'Email', mode: 'some' } }).success).toBe(false);
    expect(putSalesforceSettingsBody.safeParse({ import: { enabled: true, object: "Contact'; --", emailField: 'Email' } }).success).toBe(false);
    expect(putSalesforceSettingsBody.safeParse({ import: { enabled: true, object: 'Contact', emailField: 'Email' }, extra: 1 }).success).toBe(false);
    expect(putSalesforceSettingsBody.safeParse({ import: { enabled: true, object: 'Contact', emailField: 'Email' }, maxApiShare: 1.5 }).success).toBe(false);
  });
});

describe('Salesforce values', () => {
  it('coerces REST JSON and Bulk CSV forms to the property type', () => {
    expect(fromSalesforce('2024-05-01T10:00:00.000+0000', 'datetime', 'date')).toEqual({ ok: true, value: '2024-05-01T10:00:00.000Z' });
    expect(fromSalesforce('2024-05-01T12:00:00.000+0200', 'datetime', 'string')).toEqual({ ok: true, value: '2024-05-01T10:00:00.000Z' });
    expect(fromSalesforce('A;B', 'multipicklist', 'list')).toEqual({ ok: true, value: ['A', 'B'] });
    expect(fromSalesforce('true', 'boolean', 'boolean')).toEqual({ ok: true, value: true });
    expect(fromSalesforce('12.5', 'currency', 'number')).toEqual({ ok: true, value: 12.5 });
    expect(fromSalesforce('', 'string', 'string')).toEqual({ ok: true, value: undefined });
    expect(fromSalesforce(null, 'double', 'number')).toEqual({ ok: true, value: undefined });
    expect(fromSalesforce('soon', 'string', 'number').ok).toBe(false);
  });

  it('writes property values in the field type; nothing for a missing value (a Salesforce field is never cleared)', () => {
    expect(toSalesforce(['A', 'B'], 'multipicklist')).toBe('A;B');
    expect(toSalesforce('12', 'double')).toBe(12);
    expect(toSalesforce('yes', 'boolean')).toBe(true);
    expect(toSalesforce('2024-05-01', 'datetime')).toBe('2024-05-01T00:00:00.000Z');
    expect(toSalesforce(undefined, 'string')).toBeNull();
    expect(toSalesforce('n/a', 'currency')).toBeNull();
    expect(toCsvCell(false)).toBe('false');
  });
});

describe('Bulk API 2.0 errors', () => {
  it('reads sf__Error cells: the code before the first colon, the fields after the last, the message (colons and all) between', () => {
    expect(parseBulkError('REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --')).toEqual({
      statusCode: 'REQUIRED_FIELD_MISSING',
      message: 'Required fields are missing: [LastName]',
      fields: ['LastName'],
    });
    expect(parseBulkError('ENTITY_IS_DELETED:entity is deleted:--')).toEqual({ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] });
    expect(parseBulkError('DUPLICATES_DETECTED:Use one of these records?:Email,Phone --')).toEqual({ statusCode: 'DUPLICATES_DETECTED', message: 'Use one of these records?', fields: ['Email', 'Phone'] });
    expect(parseBulkError(undefined)).toEqual({ statusCode: 'UNKNOWN', message: 'the record failed', fields: [] });
  });
});

describe('incremental position', () => {
  it('reads after (SystemModstamp, Id) with the Id tie-breaker, flooring to the second and escaping the Id', () => {
    expect(sinceCondition(undefined)).toBeUndefined();
    expect(sinceCondition({ modstamp: '2026-01-01T00:00:00.750+0000', id: "003'x" })).toBe(
      "(SystemModstamp > 2026-01-01T00:00:00Z OR (SystemModstamp = 2026-01-01T00:00:00Z AND Id > '003\\'x'))",
    );
    const a = { modstamp: '2026-01-01T00:00:00.000+0000', id: '003B' };
    expect(laterKey(a, { modstamp: '2026-01-01T00:00:00.000Z', id: '003A' })).toBe(a);
    expect(laterKey(a, { modstamp: '2026-01-01T00:00:00.000Z', id: '003C' }).id).toBe('003C');
    expect(laterKey(a, { modstamp: '2026-01-01T00:00:01.000Z', id: '0030' }).id).toBe('0030');
  });
});

describe('OAuth rules', () => {
  it('accepts Salesforce login servers and My Domains over https, loopback only when private hosts are allowed', () => {
    expect(checkLoginUrl('https://login.salesforce.com/', false)).toEqual({ ok: true, url: 'https://login.salesforce.com' });
    expect(checkLoginUrl('https://acme--dev.sandbox.my.salesforce.com', false).ok).toBe(true);
    expect(checkLoginUrl('http://127.0.0.1:4010', false).ok).toBe(false);
    expect(checkLoginUrl('http://127.0.0.1:4010', true)).toEqual({ ok: true, url: 'http://127.0.0.1:4010' });
    expect(checkLoginUrl('https://login.salesforce.com@evil.example', false).ok).toBe(false);
    expect(checkInstanceUrl('https://acme.my.salesforce.com', false).ok).toBe(true);
    expect(checkInstanceUrl('https://169.254.169.254', false).ok).toBe(false);
  });

  it('makes S256 PKCE pairs (RFC 7636) and escapes the callback page', () => {
    const { verifier, challenge } = pkcePair();
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(challenge).toBe(createHash('sha256').update(verifier).digest('base64url'));
    expect(pkcePair().verifier).not.toBe(verifier);
    const page = callbackPage({ connected: false, reason: '<script>alert(1)</script>' });
    expect(page).not.toContain('<script>');
    expect(page).toContain('&#60;script&#62;');
  });
});
