import type { PropertyValue } from '../properties/property-coercion.js';

/**
 * A user is one DynamoDB item, and an item holds at most 400 KB (attribute names and values).
 * Properties may use that less room for the profile's own fields (keys, email, IDs, refs,
 * timestamps: under 2 KB). A row that would grow a user past it is a row error, not a failed
 * batch: DynamoDB refuses the whole BatchWriteItem for one oversized item.
 */
export const MAX_PROPERTIES_BYTES = 400 * 1024 - 8 * 1024;

/** DynamoDB's own sizing of a value: UTF-8 text, numbers ≤ 21 bytes, 1 per boolean, lists 3 + 1 per element. */
function valueBytes(value: PropertyValue): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number') return 21;
  if (typeof value === 'boolean') return 1;
  let bytes = 3;
  for (const item of value) bytes += 1 + Buffer.byteLength(item, 'utf8');
  return bytes;
}

/** An upper bound, without encoding: every UTF-16 unit takes at most 3 UTF-8 bytes. */
function quickBound(properties: Record<string, PropertyValue | undefined>): number {
  let bound = 3;
  for (const name in properties) {
    const value = properties[name];
    if (value === undefined) continue;
    bound += 1 + name.length * 3;
    if (typeof value === 'string') bound += value.length * 3;
    else if (Array.isArray(value)) for (const item of value) bound += 1 + item.length * 3;
    else bound += 21;
  }
  return bound;
}

/** The bytes the `props` map takes in the item once `incoming` (undefined: left as is) is applied to `current`. */
export function mergedPropertiesBytes(current: Record<string, PropertyValue>, incoming: Record<string, PropertyValue | undefined>): number {
  let bytes = 3;
  const visit = (name: string, value: PropertyValue) => (bytes += 1 + Buffer.byteLength(name, 'utf8') + valueBytes(value));
  for (const name in current) if (incoming[name] === undefined) visit(name, current[name]!);
  for (const name in incoming) if (incoming[name] !== undefined) visit(name, incoming[name]!);
  return bytes;
}

/**
 * Why applying `incoming` would make the user too large for one item, or undefined (the
 * common case costs no encoding). A row that does not grow the user is never refused, so a
 * user stored near the limit before stays writable.
 */
export function propertiesTooLarge(current: Record<string, PropertyValue>, incoming: Record<string, PropertyValue | undefined>): string | undefined {
  if (quickBound(current) + quickBound(incoming) <= MAX_PROPERTIES_BYTES) return undefined;
  const bytes = mergedPropertiesBytes(current, incoming);
  if (bytes <= MAX_PROPERTIES_BYTES || bytes <= mergedPropertiesBytes(current, {})) return undefined;
  return `the user's properties would take ${Math.ceil(bytes / 1024)} KB, above the ${MAX_PROPERTIES_BYTES / 1024} KB one user may hold (DynamoDB's item limit)`;
}

/** The incoming property with the largest value: the one a size error names. */
export function largestProperty(incoming: Record<string, PropertyValue | undefined>): string {
  let largest = '';
  let size = -1;
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined) continue;
    const bytes = valueBytes(value);
    if (bytes > size) [largest, size] = [name, bytes];
  }
  return largest;
}
