import { describe, expect, it } from 'vitest';
import {
  isReservedPropertyName,
  propertyNameFromHeader,
  propertyNameFromSalesforceField,
  RESERVED_PROPERTY_NAMES,
  validatePropertyName,
} from '../../shared/properties/property-names.js';

describe('propertyNameFromHeader', () => {
  it.each([
    ['First Name', 'first_name'],
    [' E-Mail Address ', 'e_mail_address'],
    ['plan', 'plan'],
    ['PLAN', 'plan'],
    ['Plan  Tier', 'plan_tier'],
    ['plan_tier', 'plan_tier'],
    ['plan__tier', 'plan_tier'],
    ['_plan_', 'plan'],
    ['--Lifetime Value ($)--', 'lifetime_value'],
    ['Revenue (USD) / Year', 'revenue_usd_year'],
    ['2024 Revenue', '2024_revenue'],
    ['Address Line 2', 'address_line_2'],
    ['camelCase', 'camelcase'],
    ['tab\tseparated\nlines', 'tab_separated_lines'],
    ['\ufeffemail', 'email'],
    ['Created At', 'created_at'],
  ])('names the header %j %j', (header, name) => {
    expect(propertyNameFromHeader(header)).toBe(name);
  });

  it.each([
    ['Ünïcode', 'n_code'],
    ['Straße', 'stra_e'],
    ['Café Visits', 'caf_visits'],
    ['Größe (cm)', 'gr_e_cm'],
    ['\u212Aelvin', 'elvin'], // the Kelvin sign lower-cases to an ASCII k, but is not a-z
    ['\u0130stanbul', 'stanbul'],
  ])('treats the non-ASCII letters of %j as separators: %j', (header, name) => {
    expect(propertyNameFromHeader(header)).toBe(name);
  });

  it.each(['', '   ', '!!!', '___', '-_-', 'Ü', '日本語', '\u00a0'])('gives %j no name', (header) => {
    expect(propertyNameFromHeader(header)).toBeUndefined();
  });
});

describe('propertyNameFromSalesforceField', () => {
  it.each([
    ['FirstName', 'first_name'],
    ['LastName', 'last_name'],
    ['MailingPostalCode', 'mailing_postal_code'],
    ['SLAExpirationDate__c', 'sla_expiration_date'],
    ['Loyalty_Tier__c', 'loyalty_tier'],
    ['loyalty_tier__c', 'loyalty_tier'],
    ['LOYALTY_TIER__C', 'loyalty_tier'],
    ['Email', 'email'],
    ['Id', 'id'],
    ['AccountId', 'account_id'],
    ['HTMLBody', 'html_body'],
    ['NumberOfEmployees', 'number_of_employees'],
    ['Address2Street', 'address2_street'],
    ['Q1Revenue__c', 'q1_revenue'],
    ['IsDeleted', 'is_deleted'],
    ['isActive__c', 'is_active'],
    ['CustomerID', 'customer_id'],
    ['NPS_Score__c', 'nps_score'],
    ['Region__pc', 'region_pc'],
    ['acme__Tier__c', 'acme_tier'],
    ['Name__cx', 'name_cx'],
  ])('names the field %j %j', (field, name) => {
    expect(propertyNameFromSalesforceField(field)).toBe(name);
  });

  it.each(['', '__c', '___c'])('gives %j no name', (field) => {
    expect(propertyNameFromSalesforceField(field)).toBeUndefined();
  });
});

describe('reserved names', () => {
  it('are the user fields every export carries', () => {
    expect(RESERVED_PROPERTY_NAMES).toEqual(['email', 'user_id', 'external_id', 'created_at', 'updated_at']);
  });

  it.each([
    ['email', true],
    ['EMAIL', true],
    ['Email', true],
    ['user_id', true],
    ['User_ID', true],
    ['external_id', true],
    ['created_at', true],
    ['UPDATED_AT', true],
    ['emails', false],
    ['email_address', false],
    ['userid', false],
    [' email', false],
    ['', false],
  ])('isReservedPropertyName(%j) is %s', (name, reserved) => {
    expect(isReservedPropertyName(name)).toBe(reserved);
  });
});

describe('validatePropertyName', () => {
  it.each(['plan', 'a', 'first_name', 'address_line_2', 'x1', 'tier_', 'a__b', 'constructor', 'to_string', 'a'.repeat(64), 'emails', '2024_revenue', '9'])(
    'accepts %j',
    (name) => {
      expect(validatePropertyName(name)).toBeUndefined();
    },
  );

  it.each([
    ['', 'must not be empty'],
    ['a'.repeat(65), 'at most 64 characters'],
    ['First_Name', 'only a-z, 0-9 and _'],
    ['first name', 'only a-z, 0-9 and _'],
    ['first-name', 'only a-z, 0-9 and _'],
    ['größe', 'only a-z, 0-9 and _'],
    ['\u212Aelvin', 'only a-z, 0-9 and _'],
    ['_private', 'must start with a letter or a digit'],
    ['__proto__', 'must start with a letter or a digit'],
    ['email', '"email" is reserved'],
    ['user_id', '"user_id" is reserved'],
    ['external_id', '"external_id" is reserved'],
    ['created_at', '"created_at" is reserved'],
    ['updated_at', '"updated_at" is reserved'],
  ])('refuses %j (%s)', (name, reason) => {
    expect(validatePropertyName(name)).toContain(reason);
  });

  it('lists the reserved names in the reason', () => {
    expect(validatePropertyName('email')).toBe('"email" is reserved (email, user_id, external_id, created_at, updated_at)');
  });

  it('accepts every name the header rule makes, unless reserved or too long', () => {
    for (const header of ['First Name', ' E-Mail Address ', 'Plan Tier (2024)', 'Ünïcode', '2024 Revenue', '__Score__', '(1) Rank']) {
      const name = propertyNameFromHeader(header);
      expect(name).toBeDefined();
      expect(validatePropertyName(name!)).toBeUndefined();
    }
  });
});
