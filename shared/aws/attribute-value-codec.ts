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
 * attribute-value objects first: the batch writer's hottest loop (an import encodes every
 * new user twice, as a profile and as its `user.created` event).
 */
// Characters JSON.stringify would escape; strings without them are quoted as they are.
const NEEDS_ESCAPING = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as JSON text: JSON.stringify only when something needs escaping (rare, and 5× slower). */
export const jsonString = (value: string): string => (NEEDS_ESCAPING.test(value) ? JSON.stringify(value) : `"${value}"`);

/**
 * A string as it appears between the quotes of JSON text. Escaped parts joined by `#` (the key
 * separator) equal the escaped whole, so the item encoders escape each part of a key once.
 */
export const jsonInner = (value: string): string => (NEEDS_ESCAPING.test(value) ? JSON.stringify(value).slice(1, -1) : value);

// Strings that repeat on every row (tenant IDs, property names, event types, sources),
// escaped once per process. Bounded: cleared when full, so odd inputs cannot grow it.
const repeatedInner = new Map<string, string>();
const REPEATED_CAPACITY = 10_000;

/** `jsonInner` for strings that recur across items (not for per-row values: those would only churn the cache). */
export function repeatedJsonInner(value: string): string {
  let inner = repeatedInner.get(value);
  if (inner === undefined) {
    inner = jsonInner(value);
    if (repeatedInner.size >= REPEATED_CAPACITY) repeatedInner.clear();
    repeatedInner.set(value, inner);
  }
  return inner;
}

export function attributeValueJson(value: unknown, path = 'value'): string | undefined {
  return valueJson(value, path, undefined);
}

// The last list of strings encoded, and its JSON: consecutive events of one import name the
// same changed properties, so most lists are encoded once instead of once per row.
let lastList: unknown[] = [];
let lastListJson = '{"L":[]}';

// `path` + `key` name the value in an error; joined only when one is thrown.
function valueJson(value: unknown, path: string, key: string | number | undefined): string | undefined {
  switch (typeof value) {
    case 'string':
      return `{"S":"${jsonInner(value)}"}`;
    case 'number':
      if (!Number.isFinite(value)) throw new UnsupportedValueError(`${pathOf(path, key)}: ${value} cannot be stored in DynamoDB`);
      return `{"N":"${value}"}`;
    case 'boolean':
      return value ? '{"BOOL":true}' : '{"BOOL":false}';
    case 'undefined':
      return undefined;
    case 'object': {
      if (value === null) return '{"NULL":true}';
      if (Array.isArray(value)) return listJson(value, pathOf(path, key));
      if (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) return `{"M":${attributeMapJson(value as Record<string, unknown>, pathOf(path, key))}}`;
      throw new UnsupportedValueError(`${pathOf(path, key)}: ${Object.prototype.toString.call(value)} is not a plain value`);
    }
    default:
      throw new UnsupportedValueError(`${pathOf(path, key)}: a ${typeof value} cannot be stored in DynamoDB`);
  }
}

const pathOf = (path: string, key: string | number | undefined) => (key === undefined ? path : typeof key === 'number' ? `${path}[${key}]` : `${path}.${key}`);

function listJson(list: unknown[], path: string): string {
  if (list.length === lastList.length && list.every((item, index) => item === lastList[index])) return lastListJson;
  let out = '';
  let allStrings = true;
  for (let index = 0; index < list.length; index += 1) {
    const item = list[index];
    if (typeof item !== 'string') allStrings = false;
    out += `${index ? ',' : ''}${valueJson(item, path, index) ?? '{"NULL":true}'}`;
  }
  const json = `{"L":[${out}]}`;
  // Only lists of strings are remembered: `===` on them compares values, on objects identity.
  if (allStrings) {
    lastList = list.slice();
    lastListJson = json;
  }
  return json;
}

export function attributeMapJson(item: Record<string, unknown>, path = 'item'): string {
  let out = '';
  for (const key in item) {
    const attribute = valueJson(item[key], path, key);
    if (attribute === undefined) continue;
    out += `${out ? ',' : ''}"${repeatedJsonInner(key)}":${attribute}`;
  }
  return `{${out}}`;
}
