/**
 * DynamoDB's attribute-value JSON for the plain values Roster stores (strings, finite
 * numbers, booleans, null, lists and maps). A hand-written codec because the hot path
 * (millions of items per import) spent more CPU in the SDK's generic marshaller, which
 * probes every value for binary and set types, than in parsing the CSV. Items written here
 * read back identically through the DocumentClient, and vice versa.
 */
export type AttributeValue =
  | { S: string }
  | { N: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { L: AttributeValue[] }
  | { M: Record<string, AttributeValue> }
  | { SS: string[] }
  | { NS: string[] };

export type AttributeMap = Record<string, AttributeValue>;

export class UnsupportedValueError extends Error {
  override readonly name = 'UnsupportedValueError';
}

export function toAttributeValue(value: unknown, path = 'value'): AttributeValue | undefined {
  switch (typeof value) {
    case 'string':
      return { S: value };
    case 'number':
      if (!Number.isFinite(value)) throw new UnsupportedValueError(`${path}: ${value} cannot be stored in DynamoDB`);
      return { N: String(value) };
    case 'boolean':
      return { BOOL: value };
    case 'undefined':
      return undefined;
    case 'object': {
      if (value === null) return { NULL: true };
      if (Array.isArray(value)) {
        const list: AttributeValue[] = [];
        for (let index = 0; index < value.length; index += 1) list.push(toAttributeValue(value[index], `${path}[${index}]`) ?? { NULL: true });
        return { L: list };
      }
      if (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) return { M: toAttributeMap(value as Record<string, unknown>, path) };
      throw new UnsupportedValueError(`${path}: ${Object.prototype.toString.call(value)} is not a plain value`);
    }
    default:
      throw new UnsupportedValueError(`${path}: a ${typeof value} cannot be stored in DynamoDB`);
  }
}

/** Marshals a plain object; attributes whose value is `undefined` are left out. */
export function toAttributeMap(item: Record<string, unknown>, path = 'item'): AttributeMap {
  const out: AttributeMap = {};
  for (const key in item) {
    const attribute = toAttributeValue(item[key], `${path}.${key}`);
    if (attribute !== undefined) out[key] = attribute;
  }
  return out;
}

export function fromAttributeValue(attribute: AttributeValue): unknown {
  if ('S' in attribute) return attribute.S;
  if ('N' in attribute) return Number(attribute.N);
  if ('BOOL' in attribute) return attribute.BOOL;
  if ('NULL' in attribute) return null;
  if ('L' in attribute) return attribute.L.map(fromAttributeValue);
  if ('M' in attribute) return fromAttributeMap(attribute.M);
  if ('SS' in attribute) return new Set(attribute.SS);
  if ('NS' in attribute) return new Set(attribute.NS.map(Number));
  throw new UnsupportedValueError(`unsupported attribute type ${Object.keys(attribute).join(',')}`);
}

export function fromAttributeMap(item: AttributeMap): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in item) out[key] = fromAttributeValue(item[key]!);
  return out;
}

/**
 * The same marshalling straight to JSON text (what goes on the wire), without building the
 * attribute-value objects first: the batch writer's hottest loop.
 */
// Characters JSON.stringify would escape; strings without them are quoted as they are.
const NEEDS_ESCAPING = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as JSON text: JSON.stringify only when something needs escaping (rare, and 5× slower). */
export const jsonString = (value: string): string => (NEEDS_ESCAPING.test(value) ? JSON.stringify(value) : `"${value}"`);

export function attributeValueJson(value: unknown, path = 'value'): string | undefined {
  switch (typeof value) {
    case 'string':
      return `{"S":${jsonString(value)}}`;
    case 'number':
      if (!Number.isFinite(value)) throw new UnsupportedValueError(`${path}: ${value} cannot be stored in DynamoDB`);
      return `{"N":"${value}"}`;
    case 'boolean':
      return value ? '{"BOOL":true}' : '{"BOOL":false}';
    case 'undefined':
      return undefined;
    case 'object': {
      if (value === null) return '{"NULL":true}';
      if (Array.isArray(value)) {
        const parts: string[] = [];
        for (let index = 0; index < value.length; index += 1) parts.push(attributeValueJson(value[index], `${path}[${index}]`) ?? '{"NULL":true}');
        return `{"L":[${parts.join(',')}]}`;
      }
      if (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) return `{"M":${attributeMapJson(value as Record<string, unknown>, path)}}`;
      throw new UnsupportedValueError(`${path}: ${Object.prototype.toString.call(value)} is not a plain value`);
    }
    default:
      throw new UnsupportedValueError(`${path}: a ${typeof value} cannot be stored in DynamoDB`);
  }
}

export function attributeMapJson(item: Record<string, unknown>, path = 'item'): string {
  let out = '';
  for (const key in item) {
    const attribute = attributeValueJson(item[key], `${path}.${key}`);
    if (attribute === undefined) continue;
    out += `${out ? ',' : ''}${jsonString(key)}:${attribute}`;
  }
  return `{${out}}`;
}
