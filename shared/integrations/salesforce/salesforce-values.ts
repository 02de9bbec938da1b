import { coerceValue, type Coercion, type PropertyValue } from '../../properties/property-coercion.js';
import type { PropertyType } from '../../properties/property.js';

/**
 * Values between Salesforce and Roster. REST answers JSON (numbers, booleans, `null`);
 * Bulk API 2.0 answers CSV (all text, an empty cell is null). Both become the property's
 * type through the shared coercion, after the Salesforce-specific forms are normalised:
 * datetimes (`2024-05-01T10:00:00.000+0000`) to ISO UTC, multi-select picklists (`A;B`) to lists.
 */
export function fromSalesforce(raw: unknown, fieldType: string, propertyType: PropertyType): Coercion {
  if (raw === null || raw === undefined || raw === '') return { ok: true, value: undefined };
  let value: unknown = raw;
  if (fieldType === 'datetime' && typeof raw === 'string') {
    const instant = Date.parse(raw.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
    if (!Number.isNaN(instant)) value = new Date(instant).toISOString();
  } else if (fieldType === 'multipicklist' && typeof raw === 'string') {
    value = raw.split(';').map((part) => part.trim()).filter(Boolean);
    if (propertyType !== 'list') value = (value as string[]).join(';');
  } else if (fieldType === 'boolean' && typeof raw === 'string') {
    value = raw.toLowerCase() === 'true';
  }
  return coerceValue(value, propertyType);
}

/** A property value as a Salesforce field of `fieldType` takes it (JSON for Collections); `null` when there is nothing to write. */
export function toSalesforce(value: PropertyValue | undefined, fieldType: string): string | number | boolean | null {
  if (value === undefined) return null;
  if (Array.isArray(value)) return fieldType === 'multipicklist' ? value.join(';') : value.join(', ');
  switch (fieldType) {
    case 'boolean':
      return typeof value === 'boolean' ? value : ['true', '1', 'yes'].includes(String(value).toLowerCase());
    case 'int':
    case 'double':
    case 'currency':
    case 'percent':
    case 'long': {
      const number = typeof value === 'number' ? value : Number(value);
      return Number.isFinite(number) ? number : null;
    }
    case 'date':
      return String(value).slice(0, 10);
    case 'datetime':
      return String(value).length === 10 ? `${String(value)}T00:00:00.000Z` : String(value);
    default:
      return String(value);
  }
}

/** A field value as a Bulk API 2.0 CSV cell (an empty cell leaves the field as it is; Roster never clears one). */
export function toCsvCell(value: string | number | boolean): string {
  return String(value);
}
