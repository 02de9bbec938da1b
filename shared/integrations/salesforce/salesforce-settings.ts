import * as z from 'zod';
import type { ErrorDetail } from '../../errors/domain-errors.js';
import { propertyNameFromSalesforceField, validatePropertyName } from '../../properties/property-names.js';
import type { PropertyType } from '../../properties/property.js';
import { scheduleExpressionField } from '../../scheduling/schedule-expression.js';
import { DEFAULT_SYNC_SCHEDULE } from '../../scheduling/sync-scheduler.js';

/**
 * The Salesforce integration's settings (API.md, Integrations). The tokens are the secret
 * (Secrets Manager, `roster/<tenant>/salesforce`); DynamoDB holds these settings, resolved
 * against the org's describe at PUT time (field types are kept, so a run coerces without
 * describing again and a UI sees what was chosen).
 */

/** Salesforce API names: a letter, then letters, digits and single underscores (custom: `__c`, namespaced: `ns__X__c`). */
const API_NAME = /^[A-Za-z][A-Za-z0-9_]{0,79}$/;
const apiName = z.string().regex(API_NAME, 'must be a Salesforce API name (letters, digits, underscores)');

const propertyName = z.string().superRefine((name, context) => {
  const problem = validatePropertyName(name);
  if (problem) context.addIssue({ code: 'custom', message: problem });
});

const scheduleField = scheduleExpressionField;

export const putSalesforceSettingsBody = z
  .object({
    import: z
      .object({
        enabled: z.boolean(),
        object: apiName,
        emailField: apiName,
        mode: z.enum(['all', 'existing']).default('all'),
        fields: z.union([z.array(apiName).max(500), z.record(apiName, propertyName)]).default([]),
      })
      .strict(),
    export: z
      .object({
        enabled: z.boolean(),
        userIdField: apiName,
        mode: z.enum(['all', 'existing']).default('existing'),
        mapping: z.record(propertyName, apiName).default({}),
      })
      .strict()
      .optional(),
    schedule: scheduleField.optional(),
    /** Share of the org's daily API requests a run may take the org to (0–1]; a run that would pass it stops. */
    maxApiShare: z.number().gt(0).max(1).optional(),
  })
  .strict();

export type PutSalesforceSettings = z.infer<typeof putSalesforceSettingsBody>;

/** A field of the org as describe shows it (what discovery answers, and what settings are checked against). */
export interface SalesforceField {
  name: string;
  label: string;
  type: string;
  length?: number;
  updateable: boolean;
  createable: boolean;
  externalId: boolean;
  unique: boolean;
  nillable?: boolean;
  defaultedOnCreate?: boolean;
}

export interface SalesforceImportSettings {
  enabled: boolean;
  object: string;
  emailField: string;
  mode: 'all' | 'existing';
  /** Field API name → property name. */
  fields: Record<string, string>;
  /** Field API name → its Salesforce type (email field included): how values are coerced. */
  fieldTypes: Record<string, string>;
}

export interface SalesforceExportSettings {
  enabled: boolean;
  userIdField: string;
  mode: 'all' | 'existing';
  /** Property name → field API name. */
  mapping: Record<string, string>;
  /** Field API name → its Salesforce type (userIdField and email field included): how values are written. */
  fieldTypes: Record<string, string>;
  /** Whether Salesforce can match on `userIdField` itself (External ID + Unique). */
  userIdFieldIsExternalId: boolean;
}

export interface SalesforceSettings {
  import: SalesforceImportSettings;
  export?: SalesforceExportSettings;
  schedule: string;
  maxApiShare: number;
  enabled: boolean;
  warnings: string[];
}

export const DEFAULT_MAX_API_SHARE = 0.5;

/** Field types whose values are text in Salesforce (what an email or a Roster ID can be stored in). */
const TEXT_TYPES = new Set(['string', 'email', 'textarea', 'phone', 'url', 'picklist', 'combobox', 'encryptedstring']);
/** Types Roster can read (compound and binary fields are not offered). */
const UNREADABLE_TYPES = new Set(['address', 'location', 'base64', 'complexvalue', 'anyType']);

/** The property type a Salesforce field becomes on first sight. */
export function propertyTypeOfField(type: string): PropertyType {
  switch (type) {
    case 'boolean':
      return 'boolean';
    case 'int':
    case 'double':
    case 'currency':
    case 'percent':
    case 'long':
      return 'number';
    case 'date':
    case 'datetime':
      return 'date';
    case 'multipicklist':
      return 'list';
    default:
      return 'string';
  }
}

export type SettingsCheck = { ok: true; settings: SalesforceSettings } | { ok: false; details: ErrorDetail[] };

/**
 * Checks a PUT against the org (the import object's fields and, for export, the same
 * object's), and resolves it to the stored settings. Every problem names its field.
 */
export function resolveSalesforceSettings(body: PutSalesforceSettings, objectFields: SalesforceField[] | undefined): SettingsCheck {
  const details: ErrorDetail[] = [];
  const warnings: string[] = [];
  const problem = (field: string, message: string) => details.push({ field, message });
  if (!objectFields) {
    problem('body.import.object', `the org has no object "${body.import.object}" that can be queried`);
    return { ok: false, details };
  }
  const byName = new Map(objectFields.map((field) => [field.name.toLowerCase(), field]));
  const lookup = (name: string) => byName.get(name.toLowerCase());

  const emailField = lookup(body.import.emailField);
  if (!emailField) problem('body.import.emailField', `${body.import.object} has no field "${body.import.emailField}"`);
  else if (!TEXT_TYPES.has(emailField.type)) problem('body.import.emailField', `${emailField.name} is a ${emailField.type} field; the email field must hold text`);

  const fields: Record<string, string> = {};
  const fieldTypes: Record<string, string> = {};
  if (emailField) fieldTypes[emailField.name] = emailField.type;
  const entries: Array<[string, string | undefined]> = Array.isArray(body.import.fields)
    ? body.import.fields.map((name) => [name, undefined])
    : Object.entries(body.import.fields);
  const properties = new Map<string, string>();
  for (const [given, chosen] of entries) {
    const path = `body.import.fields.${given}`;
    const field = lookup(given);
    if (!field) {
      problem(path, `${body.import.object} has no field "${given}"`);
      continue;
    }
    if (UNREADABLE_TYPES.has(field.type)) {
      problem(path, `${field.name} is a ${field.type} field, which Roster cannot import; choose its component fields`);
      continue;
    }
    if (emailField && field.name === emailField.name) {
      problem(path, `${field.name} is the email field: it identifies the user and cannot also be a property`);
      continue;
    }
    const property = chosen ?? propertyNameFromSalesforceField(field.name);
    const nameProblem = property === undefined ? 'has no usable property name; map it explicitly' : validatePropertyName(property);
    if (nameProblem || property === undefined) {
      problem(path, `the property name for ${field.name} ${nameProblem}`);
      continue;
    }
    const other = properties.get(property);
    if (other) {
      problem(path, `${field.name} and ${other} both become property "${property}"`);
      continue;
    }
    properties.set(property, field.name);
    fields[field.name] = property;
    fieldTypes[field.name] = field.type;
  }

  let exportSettings: SalesforceExportSettings | undefined;
  if (body.export) {
    const exportTypes: Record<string, string> = {};
    if (body.export.enabled && !body.import.enabled) {
      // API.md: the export needs the import (it matches by the import's email field, and the import keeps users in step).
      problem('body.export.enabled', 'export requires import to be enabled');
    }
    const userIdField = lookup(body.export.userIdField);
    if (!userIdField) problem('body.export.userIdField', `${body.import.object} has no field "${body.export.userIdField}"`);
    else {
      if (!TEXT_TYPES.has(userIdField.type) || userIdField.type === 'picklist') problem('body.export.userIdField', `${userIdField.name} is a ${userIdField.type} field; the Roster user ID needs a text field`);
      if (!userIdField.updateable) problem('body.export.userIdField', `${userIdField.name} is not updateable`);
      else if (body.export.mode === 'all' && !userIdField.createable) problem('body.export.userIdField', `${userIdField.name} cannot be set on create (mode "all" creates records)`);
      if (userIdField.length !== undefined && userIdField.length < 40) problem('body.export.userIdField', `${userIdField.name} holds ${userIdField.length} characters; a Roster user ID needs 40`);
      if (!(userIdField.externalId && userIdField.unique)) {
        warnings.push(`${userIdField.name} is not an External ID + Unique field: matching users needs a lookup query per batch; mark it External ID and Unique in Salesforce to let upserts match on it`);
      }
      exportTypes[userIdField.name] = userIdField.type;
    }
    if (emailField) exportTypes[emailField.name] = emailField.type;
    for (const [property, given] of Object.entries(body.export.mapping)) {
      const path = `body.export.mapping.${property}`;
      const field = lookup(given);
      if (!field) {
        problem(path, `${body.import.object} has no field "${given}"`);
        continue;
      }
      if (!field.updateable) problem(path, `${field.name} is not updateable`);
      else if (body.export.mode === 'all' && !field.createable) problem(path, `${field.name} cannot be set on create (mode "all" creates records)`);
      if (properties.has(property)) {
        // API.md: the export never writes back values that this integration imported.
        problem(path, `property "${property}" is imported from ${properties.get(property)}; exporting it would write back what was imported`);
      }
      if ((emailField && field.name === emailField.name) || (userIdField && field.name === userIdField.name)) {
        problem(path, `${field.name} is written by the export itself (the email, or the Roster user ID)`);
      }
      exportTypes[field.name] = field.type;
    }
    const targets = Object.values(body.export.mapping).map((name) => name.toLowerCase());
    if (new Set(targets).size !== targets.length) problem('body.export.mapping', 'two properties map to the same field');
    if (userIdField) {
      exportSettings = {
        enabled: body.export.enabled,
        userIdField: userIdField.name,
        mode: body.export.mode,
        mapping: Object.fromEntries(Object.entries(body.export.mapping).map(([property, field]) => [property, lookup(field)?.name ?? field])),
        fieldTypes: exportTypes,
        userIdFieldIsExternalId: userIdField.externalId && userIdField.unique,
      };
    }
  }
  if (details.length > 0 || !emailField) return { ok: false, details };
  return {
    ok: true,
    settings: {
      import: { enabled: body.import.enabled, object: body.import.object, emailField: emailField.name, mode: body.import.mode, fields, fieldTypes },
      ...(exportSettings ? { export: exportSettings } : {}),
      schedule: body.schedule ?? DEFAULT_SYNC_SCHEDULE,
      maxApiShare: body.maxApiShare ?? DEFAULT_MAX_API_SHARE,
      enabled: body.import.enabled || (exportSettings?.enabled ?? false),
      warnings,
    },
  };
}

/** A PUT that changes what the import reads (object, email field, fields) makes the next run read everything. */
export function changesWhatIsImported(before: SalesforceSettings | undefined, after: SalesforceSettings): boolean {
  if (!before) return true;
  return (
    before.import.object !== after.import.object ||
    before.import.emailField !== after.import.emailField ||
    JSON.stringify(before.import.fields) !== JSON.stringify(after.import.fields)
  );
}

/** What GET shows of the settings (field types stay internal). */
export function publicSalesforceSettings(settings: SalesforceSettings) {
  const { fieldTypes: _importTypes, ...importSettings } = settings.import;
  const exportSettings = settings.export ? (({ fieldTypes: _types, userIdFieldIsExternalId: _external, ...rest }) => rest)(settings.export) : undefined;
  return {
    import: importSettings,
    ...(exportSettings ? { export: exportSettings } : {}),
    schedule: settings.schedule,
    maxApiShare: settings.maxApiShare,
    ...(settings.warnings.length > 0 ? { warnings: settings.warnings } : {}),
  };
}
