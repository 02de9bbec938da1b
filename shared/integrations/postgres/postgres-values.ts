import pg from 'pg';
import { coerceValue } from '../../properties/property-coercion.js';
import type { PropertyType } from '../../properties/property.js';

/**
 * How PostgreSQL values become Roster values. The session runs with `TimeZone = 'UTC'` and
 * `DateStyle = ISO`, and these parsers read the text the server sends:
 * - `timestamptz` → ISO 8601 UTC (`2024-03-01T12:30:00.000Z`), whatever zone it was written in;
 * - `timestamp` (no zone) → read as UTC, the same form (documented: store zones in the database);
 * - `date` → `YYYY-MM-DD` (never a JS Date at local midnight, the classic off-by-one-day bug);
 * - `numeric`, `int8` → numbers; other numbers, booleans as pg reads them;
 * - `json`, `jsonb` → their JSON text (a string property);
 * - arrays → arrays (a `list` property), their items as text;
 * - `bytea` and everything else → the server's text form.
 */
const OID = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  money: 790,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  jsonb: 3802,
} as const;

const NUMBER_TYPES = new Set<number>([OID.int8, OID.int2, OID.int4, OID.oid, OID.float4, OID.float8, OID.numeric]);
const DATE_TYPES = new Set<number>([OID.date, OID.timestamp, OID.timestamptz]);
const arrayParser = pg.types.getTypeParser(1009 as never /* text[] */);

/** `2024-03-01 12:30:00.123456+00` (or without zone) → `2024-03-01T12:30:00.123Z`; `infinity` and BC dates stay text. */
export function timestampText(text: string): string {
  const rearranged = serverUtcText(text);
  if (rearranged !== undefined) return rearranged;
  const coerced = coerceValue(text, 'date');
  return coerced.ok && typeof coerced.value === 'string' ? coerced.value : text;
}

/**
 * The fast path of `timestampText` (two timestamps a row on a typical sync): the exact form
 * the server writes for timestamp columns in this session (DateStyle ISO, TimeZone UTC; the
 * server only writes valid dates, so the fields are not range-checked), `YYYY-MM-DD HH:MM:SS`, an
 * optional fraction of 1–6 digits and an optional `+00`, is rearranged without parsing (the
 * fraction truncated to milliseconds, as the full parser does). Anything else (another zone,
 * BC, a five-digit year, `infinity`) goes to the full parser. A unit test keeps the two equal.
 */
export function serverUtcText(text: string): string | undefined {
  let end = text.length;
  if (end >= 22 && text.charCodeAt(end - 3) === 43 && text.charCodeAt(end - 2) === 48 && text.charCodeAt(end - 1) === 48) end -= 3;
  if (end < 19 || end === 20 || end > 26) return undefined;
  for (let index = 0; index < 19; index += 1) {
    const code = text.charCodeAt(index);
    const expected = SHAPE.charCodeAt(index);
    if (expected === 100 /* d */ ? code < 48 || code > 57 : code !== expected) return undefined;
  }
  const head = `${text.slice(0, 10)}T${text.slice(11, 19)}`;
  if (end === 19) return `${head}.000Z`;
  if (text.charCodeAt(19) !== 46) return undefined;
  for (let index = 20; index < end; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 48 || code > 57) return undefined;
  }
  const digits = end - 20;
  return `${head}.${digits >= 3 ? text.slice(20, 23) : digits === 2 ? `${text.slice(20, 22)}0` : `${text[20]}00`}Z`;
}

const SHAPE = 'dddd-dd-dd dd:dd:dd';

const identity = (text: string) => text;
const numberOrText = (text: string) => {
  const value = Number(text);
  return Number.isFinite(value) ? value : text;
};

const noParser = pg.types.getTypeParser(0 as never, 'text');

/** Type parsers of a sync session (text format); `arrayOids` are the array types the result holds. */
export function syncTypeParsers(arrayOids: ReadonlySet<number> = new Set()) {
  return { getTypeParser: (oid: number, format?: string) => parserOf(oid, format, arrayOids) };
}

function parserOf(oid: number, format: string | undefined, arrayOids: ReadonlySet<number>): (text: string) => unknown {
  {
    if (format === 'binary') return identity;
    switch (oid) {
      case OID.timestamp:
      case OID.timestamptz:
        return timestampText;
      case OID.date:
      case OID.json:
      case OID.jsonb:
      case OID.bytea:
      case OID.money:
        return identity;
      case OID.int8:
      case OID.numeric:
        return numberOrText;
      case 1115: // timestamp[]
      case 1185: // timestamptz[]
        return (text: string) => (arrayParser(text) as Array<string | null>).map((item) => (item === null ? null : timestampText(item)));
      case 1182: // date[]
        return arrayParser;
      default: {
        const parser = pg.types.getTypeParser(oid as never, 'text');
        // An array type pg has no parser for (e.g. uuid[], varchar[] of a domain): items as text.
        return parser === noParser && arrayOids.has(oid) ? arrayParser : parser;
      }
    }
  }
}

/** The property type a column of this PostgreSQL type suggests when the property is new. */
export function propertyTypeOf(oid: number, isArray: boolean): PropertyType {
  if (isArray) return 'list';
  if (NUMBER_TYPES.has(oid)) return 'number';
  if (oid === OID.bool) return 'boolean';
  if (DATE_TYPES.has(oid)) return 'date';
  return 'string';
}
