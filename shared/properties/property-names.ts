/**
 * Property names: what a CSV header or a Salesforce field becomes, and what a name may be.
 *
 * - A valid name is 1–64 characters of `a-z`, `0-9` and `_`, starts with a letter or a digit
 *   (as every name the header rule makes does: `2024 Revenue` → `2024_revenue`), and is not
 *   one of the reserved names (the user's own fields, which every export already carries).
 * - From a CSV header (API.md): trimmed, lower-cased, every run of characters other than
 *   `a-z0-9` replaced by `_`, leading and trailing `_` removed: `First Name` → `first_name`,
 *   ` E-Mail Address ` → `e_mail_address`. Non-ASCII letters are NOT `a-z`: they are separators
 *   like any other character (`Ünïcode` → `n_code`, `Straße` → `stra_e`); no transliteration.
 *   Only ASCII letters are lower-cased, so characters whose Unicode lower case is ASCII (the
 *   Kelvin sign `K`, `İ`) are separators too. A header with no `a-z0-9` at all has no name
 *   (`undefined`). The result is not validated: a header may yield a name that
 *   `validatePropertyName` refuses (`Created At` → `created_at`, reserved; a name over 64 characters).
 * - From a Salesforce field API name (API.md): camelCase split into words (an acronym run stays one
 *   word: `SLAExpirationDate__c` → `SLA Expiration Date`), a trailing `__c` dropped, then the
 *   header rule: `FirstName` → `first_name`, `Loyalty_Tier__c` → `loyalty_tier`,
 *   `Address2Street` → `address2_street`. Other suffixes (`__pc`, `__r`) and namespace prefixes
 *   (`ns__Field__c`) are kept and go through the header rule like any other text.
 */

export const PROPERTY_NAME_MAX_LENGTH = 64;

export const RESERVED_PROPERTY_NAMES = ['email', 'user_id', 'external_id', 'created_at', 'updated_at'] as const;
export type ReservedPropertyName = (typeof RESERVED_PROPERTY_NAMES)[number];

const RESERVED = new Set<string>(RESERVED_PROPERTY_NAMES);
const NOT_NAME_CHARS = /[^A-Za-z0-9]+/g;
const EDGE_UNDERSCORES = /^_+|_+$/g;
const NAME_CHARS = /^[a-z0-9_]+$/;
/** Between a lower-case letter or digit and an upper-case letter, or inside `ABc` (acronym, then a word). */
const CAMEL_BOUNDARY = /(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/g;
const CUSTOM_SUFFIX = /__c$/i;

export function propertyNameFromHeader(header: string): string | undefined {
  // Replacing before lower-casing keeps non-ASCII letters out even where their lower case is ASCII.
  const name = header.replace(NOT_NAME_CHARS, '_').replace(EDGE_UNDERSCORES, '').toLowerCase();
  return name.length > 0 ? name : undefined;
}

export function propertyNameFromSalesforceField(field: string): string | undefined {
  return propertyNameFromHeader(field.replace(CUSTOM_SUFFIX, '').replace(CAMEL_BOUNDARY, ' '));
}

export function isReservedPropertyName(name: string): boolean {
  return RESERVED.has(name.toLowerCase());
}

/** Why `name` is not a valid property name, or `undefined` when it is one. */
export function validatePropertyName(name: string): string | undefined {
  if (name.length === 0) return 'a property name must not be empty';
  if (name.length > PROPERTY_NAME_MAX_LENGTH) return `a property name is at most ${PROPERTY_NAME_MAX_LENGTH} characters`;
  if (!NAME_CHARS.test(name)) return 'a property name may contain only a-z, 0-9 and _';
  // `_` is the header rule's separator, never its first character (and `__proto__` stays out).
  if (name.charCodeAt(0) === 95) return 'a property name must start with a letter or a digit (a-z, 0-9)';
  if (RESERVED.has(name)) return `"${name}" is reserved (${RESERVED_PROPERTY_NAMES.join(', ')})`;
  return undefined;
}
