import type { PropertyType } from './property.js';

/**
 * Value coercion: every value written to a property (CSV cell, PostgreSQL column, Salesforce
 * field, API body) goes through `coerceValue(raw, type)` with the property's type.
 *
 * No value
 *   `undefined`, `null`, an empty or whitespace-only string, and a list with no items are "no value"
 *   (`{ ok: true, value: undefined }`): the property is left as it is, never erased.
 *
 * string
 *   A string is kept exactly as given (not trimmed). Numbers, booleans and bigints → `String(x)`;
 *   a Date → its ISO 8601 UTC timestamp; arrays and objects → JSON text.
 *
 * number
 *   A finite JS number (-0 is stored as 0); a bigint within ±(2^53 − 1). A string is trimmed, then
 *   read as a decimal number: `-12.5`, `+3`, `1e3`, `.5`, `1.`. US thousands separators are
 *   accepted only in the strict form `1,234` / `-1,234,567.89` (groups of exactly three digits).
 *   Anything else is an error: `12abc`, `1.234,5`, `1 234`, `NaN`, `Infinity`, `0x10`, `1e400`
 *   (out of range), booleans. Values beyond 2^53 lose precision like any JS number.
 *
 * boolean
 *   A JS boolean; the numbers 1 and 0 (also as bigints); the strings (trimmed, case-insensitive) true/false,
 *   yes/no, y/n, 1/0, t/f, on/off. Anything else is an error.
 *
 * date
 *   Stored as `YYYY-MM-DD` when the value has no time of day, else as an ISO 8601 UTC timestamp
 *   with milliseconds (`2024-03-01T12:30:00.000Z`); a value that states a time is a timestamp even
 *   at midnight (`2024-03-01T00:00` → `2024-03-01T00:00:00.000Z`). Strings are trimmed; accepted forms:
 *   - `YYYY-MM-DD`
 *   - `YYYY-MM-DDTHH:mm`, `…:ss`, `…:ss.fraction` (`.` or `,`; digits after the 3rd are cut, not
 *     rounded), with `T`, `t` or a space between date and time, then optionally (after an optional
 *     space) a zone: `Z`, `±HH:MM`, `±HHMM` or `±HH`. A time WITHOUT a zone is read as UTC.
 *     Offsets up to ±23:59 are accepted; the result is converted to UTC.
 *   - `YYYY/MM/DD`
 *   - `MM/DD/YYYY`: slashes with the year last are read in US order, month first (`03/01/2024` is
 *     1 March 2024; `13/01/2024` is an error, never silently swapped).
 *   - `DD.MM.YYYY`: dots mean day first (`01.03.2024` is 1 March 2024).
 *   - `D Month YYYY`, `Month D, YYYY`, `D Mon YYYY`, `Mon D YYYY`: English month names or
 *     three-letter abbreviations (`Sept` too), case-insensitive, an optional `.` after the month,
 *     optional commas, an optional ordinal suffix on the day (`1st`, `22nd`).
 *   In the slash, dot and month-name forms day and month may have one or two digits; the year
 *   always has four (two-digit years are refused as ambiguous). A JS Date → its ISO UTC timestamp.
 *   Numbers are NOT dates (no epoch or spreadsheet serials). Impossible dates and times are errors
 *   that say so (`"2024-02-30" is not a real date`; `2023-02-29`; hour 24; minute 60; second 60),
 *   as are years outside 0001–9999, also after conversion to UTC.
 *
 * list
 *   Stored as an array of strings, in the order given, duplicates kept.
 *   - An array: each item as text (strings as they are, numbers/booleans `String(x)`, Dates as
 *     ISO timestamps, objects as JSON); `null`/`undefined` items dropped.
 *   - A string starting (after trimming) with `[`: a JSON array of strings, numbers, booleans and
 *     nulls, read like an array; otherwise an error (`… is not a JSON array`).
 *   - Any other string: split on `;` when it contains one, else on `,`; items trimmed, empty items
 *     dropped (`a; b, c` → [`a`, `b, c`]; `a,,b` → [`a`, `b`]). There is no quoting or escaping.
 *   - A number, boolean, bigint or Date: a one-item list. An object that is not an array: error.
 *   An empty list is no value.
 */

export type PropertyValue = string | number | boolean | string[];
export type Coercion = { ok: true; value: PropertyValue | undefined } | { ok: false; message: string };

const NO_VALUE: Coercion = Object.freeze({ ok: true, value: undefined });
const TRUE: Coercion = Object.freeze({ ok: true, value: true });
const FALSE: Coercion = Object.freeze({ ok: true, value: false });

export function coerceValue(raw: unknown, type: PropertyType): Coercion {
  if (raw === undefined || raw === null) return NO_VALUE;
  switch (type) {
    case 'string':
      return coerceString(raw);
    case 'number':
      return coerceNumber(raw);
    case 'boolean':
      return coerceBoolean(raw);
    case 'date':
      return coerceDate(raw);
    case 'list':
      return coerceList(raw);
    default:
      return fail(`unknown property type ${JSON.stringify(type)}`);
  }
}

/** Whether a stored value would change: deep for lists, strict otherwise. */
export function sameValue(a: PropertyValue | undefined, b: PropertyValue | undefined): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let index = 0; index < a.length; index += 1) if (a[index] !== b[index]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// string

function coerceString(raw: unknown): Coercion {
  if (typeof raw === 'string') return isBlank(raw) ? NO_VALUE : { ok: true, value: raw };
  const text = toText(raw);
  return text === undefined ? fail(`${show(raw)} cannot be stored as text`) : { ok: true, value: text };
}

/** Scalars and objects as text; `undefined` for what has none (symbols, functions, invalid Dates, cycles). */
function toText(raw: unknown): string | undefined {
  switch (typeof raw) {
    case 'string':
      return raw;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(raw);
    case 'object':
      if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? undefined : raw.toISOString();
      return stringifyJson(raw);
    default:
      return undefined;
  }
}

function stringifyJson(raw: unknown): string | undefined {
  try {
    return JSON.stringify(raw);
  } catch {
    return undefined; // a cycle, or a bigint inside
  }
}

// ---------------------------------------------------------------------------------------------
// number

const THOUSANDS = /^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/;
const COMMAS = /,/g;
const INFINITY_WORD = /^[+-]?Infinity$/;

/**
 * DynamoDB stores numbers of magnitude 1e-130 to below 1e126: outside that a value is a row
 * error (else the whole batch write would fail). JS numbers never exceed its 38 digits.
 */
function storable(value: number): Coercion {
  if (value === 0) return { ok: true, value: 0 };
  const magnitude = Math.abs(value);
  if (magnitude >= 1e126 || magnitude < 1e-130) return fail(`${value} is out of range for a number (DynamoDB stores magnitudes from 1e-130 to below 1e126)`);
  return { ok: true, value };
}

function coerceNumber(raw: unknown): Coercion {
  const coerced = parseNumber(raw);
  return coerced.ok && typeof coerced.value === 'number' ? storable(coerced.value) : coerced;
}

function parseNumber(raw: unknown): Coercion {
  if (typeof raw === 'string') {
    const text = trimmed(raw);
    if (text.length === 0) return NO_VALUE;
    // Number() accepts exactly the decimal forms we want, plus `Infinity` (not finite, refused
    // below), `0x`/`0o`/`0b` integers (refused here) and the empty string (handled above).
    if (text.charCodeAt(0) === 48 && text.length > 2 && isRadixPrefix(text.charCodeAt(1))) return notANumber(text);
    const value = Number(text);
    if (Number.isFinite(value)) return { ok: true, value: value === 0 ? 0 : value };
    if (Number.isNaN(value) && THOUSANDS.test(text)) return { ok: true, value: Number(text.replace(COMMAS, '')) };
    if (value === Infinity || value === -Infinity) {
      return fail(INFINITY_WORD.test(text) ? `${show(text)} is not a number` : `${show(text)} is out of range for a number`);
    }
    return notANumber(text);
  }
  if (typeof raw === 'number') return Number.isFinite(raw) ? { ok: true, value: raw === 0 ? 0 : raw } : notANumber(raw);
  if (typeof raw === 'bigint') {
    if (raw <= BigInt(Number.MAX_SAFE_INTEGER) && raw >= BigInt(Number.MIN_SAFE_INTEGER)) return { ok: true, value: Number(raw) };
    return fail(`${String(raw)} is outside the safe integer range (±${Number.MAX_SAFE_INTEGER})`);
  }
  return notANumber(raw);
}

/** `x`, `o`, `b` in either case. */
function isRadixPrefix(code: number): boolean {
  const lower = code | 32;
  return lower === 120 || lower === 111 || lower === 98;
}

function notANumber(raw: unknown): Coercion {
  return fail(`${show(raw)} is not a number`);
}

// ---------------------------------------------------------------------------------------------
// boolean

/** Every spelling in every letter case, so an exact cell needs one lookup and no allocation. */
const BOOLEAN_WORDS = buildBooleanWords({
  true: true,
  yes: true,
  y: true,
  '1': true,
  t: true,
  on: true,
  false: false,
  no: false,
  n: false,
  '0': false,
  f: false,
  off: false,
});

function buildBooleanWords(words: Record<string, boolean>): Map<string, boolean> {
  const map = new Map<string, boolean>();
  for (const [word, value] of Object.entries(words)) {
    for (const variant of caseVariants(word)) map.set(variant, value);
  }
  return map;
}

function caseVariants(word: string): string[] {
  let variants = [''];
  for (const char of word) {
    const forms = char.toLowerCase() === char.toUpperCase() ? [char] : [char.toLowerCase(), char.toUpperCase()];
    variants = variants.flatMap((prefix) => forms.map((form) => prefix + form));
  }
  return variants;
}

function coerceBoolean(raw: unknown): Coercion {
  if (typeof raw === 'string') {
    let value = BOOLEAN_WORDS.get(raw);
    if (value === undefined) {
      const text = trimmed(raw);
      if (text.length === 0) return NO_VALUE;
      value = BOOLEAN_WORDS.get(text);
      if (value === undefined) return notABoolean(text);
    }
    return value ? TRUE : FALSE;
  }
  if (typeof raw === 'boolean') return raw ? TRUE : FALSE;
  if (raw === 1 || raw === 1n) return TRUE;
  if (raw === 0 || raw === 0n) return FALSE;
  return notABoolean(raw);
}

function notABoolean(raw: unknown): Coercion {
  return fail(`${show(raw)} is not a boolean (use true/false, yes/no or 1/0)`);
}

// ---------------------------------------------------------------------------------------------
// date

const MONTHS = new Map<string, number>();
[
  ['january', 'jan'],
  ['february', 'feb'],
  ['march', 'mar'],
  ['april', 'apr'],
  ['may', 'may'],
  ['june', 'jun'],
  ['july', 'jul'],
  ['august', 'aug'],
  ['september', 'sep', 'sept'],
  ['october', 'oct'],
  ['november', 'nov'],
  ['december', 'dec'],
].forEach((names, index) =>
  names.forEach((name) => {
    // The usual spellings are found without lower-casing: `mar`, `Mar`, `MAR`.
    for (const spelling of [name, name[0]!.toUpperCase() + name.slice(1), name.toUpperCase()]) MONTHS.set(spelling, index + 1);
  }),
);
const MONTH_NAMES = ['', 'January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const DAY_MONTH_YEAR = /^(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+(\d{4})$/i;
const MONTH_DAY_YEAR = /^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$/i;

const fromCharCode = String.fromCharCode;

const DATE_FORMS = 'use YYYY-MM-DD, YYYY-MM-DDTHH:mm:ssZ, MM/DD/YYYY, DD.MM.YYYY or "1 March 2024"';

function coerceDate(raw: unknown): Coercion {
  if (typeof raw === 'string') {
    const text = trimmed(raw);
    if (text.length === 0) return NO_VALUE;
    return parseIso(text) ?? parseOtherDate(text) ?? fail(`${show(text)} is not a date (${DATE_FORMS})`);
  }
  if (raw instanceof Date) {
    const time = raw.getTime();
    if (Number.isNaN(time)) return fail('an invalid Date is not a date');
    const year = raw.getUTCFullYear();
    if (year < 1 || year > 9999) return fail(`${show(raw)} is outside the years 0001–9999`);
    return { ok: true, value: raw.toISOString() };
  }
  if (typeof raw === 'number' || typeof raw === 'bigint') {
    return fail(`${show(raw)} is not a date (numbers are not read as dates; ${DATE_FORMS})`);
  }
  return fail(`${show(raw)} is not a date (${DATE_FORMS})`);
}

/**
 * `YYYY-MM-DD` and `YYYY-MM-DD[T ]HH:mm[:ss[.fff]][ ][zone]`, read by hand (no regex, no match
 * array). `undefined` when the text does not have this shape, so the other forms get a try.
 */
function parseIso(text: string): Coercion | undefined {
  const length = text.length;
  if (length < 10 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return undefined;
  const year = two(text, 0) * 100 + two(text, 2);
  const month = two(text, 5);
  const day = two(text, 8);
  if (year < 0 || month < 0 || day < 0) return undefined;
  if (length === 10) {
    const problem = dateProblem(year, month, day, text);
    return problem ? fail(problem) : { ok: true, value: text };
  }
  const separator = text.charCodeAt(10);
  if ((separator !== 84 && separator !== 116 && separator !== 32) || length < 16 || text.charCodeAt(13) !== 58) return undefined;
  const hour = two(text, 11);
  const minute = two(text, 14);
  if (hour < 0 || minute < 0) return undefined;
  let second = 0;
  let millisecond = 0;
  let index = 16;
  if (text.charCodeAt(index) === 58) {
    second = two(text, index + 1);
    if (second < 0) return undefined;
    index += 3;
    const mark = text.charCodeAt(index);
    if (mark === 46 || mark === 44) {
      const start = ++index;
      for (let code = text.charCodeAt(index); code >= 48 && code <= 57; code = text.charCodeAt(++index)) {
        if (index - start < 3) millisecond = millisecond * 10 + (code - 48);
      }
      const count = index - start;
      if (count === 0) return undefined;
      if (count === 1) millisecond *= 100;
      else if (count === 2) millisecond *= 10;
    }
  }
  if (index < length && text.charCodeAt(index) === 32) index += 1;
  let offset = 0;
  if (index < length) {
    const zone = text.charCodeAt(index);
    if (zone === 90 || zone === 122) {
      index += 1;
    } else if (zone === 43 || zone === 45) {
      const offsetHours = two(text, index + 1);
      if (offsetHours < 0) return undefined;
      index += 3;
      let offsetMinutes = 0;
      if (index < length) {
        if (text.charCodeAt(index) === 58) index += 1;
        offsetMinutes = two(text, index);
        if (offsetMinutes < 0) return undefined;
        index += 2;
      }
      if (index !== length) return undefined;
      if (offsetHours > 23 || offsetMinutes > 59) return fail(`${show(text)} has an invalid UTC offset (±00:00 to ±23:59)`);
      offset = (zone === 43 ? 1 : -1) * (offsetHours * 60 + offsetMinutes);
    } else {
      return undefined;
    }
  }
  if (index !== length) return undefined;

  const problem = dateProblem(year, month, day, text) ?? timeProblem(hour, minute, second, text);
  if (problem) return fail(problem);
  // Already in the stored form (`YYYY-MM-DDTHH:mm:ss.sssZ`, e.g. from an export): keep the string.
  if (length === 24 && separator === 84 && text.charCodeAt(19) === 46 && text.charCodeAt(23) === 90) return { ok: true, value: text };
  return timestamp(year, month, day, hour * 60 + minute - offset, second, millisecond, text);
}

/** A UTC timestamp from local fields and minutes since local midnight minus the offset (may cross one day). */
function timestamp(year: number, month: number, day: number, minutes: number, second: number, millisecond: number, text: string): Coercion {
  if (minutes < 0) {
    minutes += 1440;
    day -= 1;
    if (day === 0) {
      month -= 1;
      if (month === 0) {
        month = 12;
        year -= 1;
      }
      day = daysInMonth(year, month);
    }
  } else if (minutes >= 1440) {
    minutes -= 1440;
    day += 1;
    if (day > daysInMonth(year, month)) {
      day = 1;
      month += 1;
      if (month === 13) {
        month = 1;
        year += 1;
      }
    }
  }
  if (year < 1 || year > 9999) return fail(`${show(text)} is outside the years 0001–9999 in UTC`);
  const hour = (minutes / 60) | 0;
  return { ok: true, value: formatTimestamp(year, month, day, hour, minutes - hour * 60, second, millisecond) };
}

/** The slash, dot and month-name forms; `undefined` when the text has none of their shapes. */
function parseOtherDate(text: string): Coercion | undefined {
  const first = text.charCodeAt(0);
  if (first >= 48 && first <= 57) {
    const numeric = parseNumericDate(text);
    if (numeric !== undefined) return numeric;
    const match = DAY_MONTH_YEAR.exec(text);
    return match ? namedMonthDate(Number(match[3]), match[2] ?? '', Number(match[1]), text) : undefined;
  }
  const match = MONTH_DAY_YEAR.exec(text);
  return match ? namedMonthDate(Number(match[3]), match[1] ?? '', Number(match[2]), text) : undefined;
}

/** `YYYY/M/D`, `M/D/YYYY` (US order) and `D.M.YYYY`, read by hand. */
function parseNumericDate(text: string): Coercion | undefined {
  const firstEnd = digitsEnd(text, 0);
  const separator = text.charCodeAt(firstEnd);
  if (separator !== 47 && separator !== 46) return undefined;
  const secondEnd = digitsEnd(text, firstEnd + 1);
  if (text.charCodeAt(secondEnd) !== separator) return undefined;
  const thirdEnd = digitsEnd(text, secondEnd + 1);
  if (thirdEnd !== text.length) return undefined;
  const firstLength = firstEnd;
  const secondLength = secondEnd - firstEnd - 1;
  const thirdLength = thirdEnd - secondEnd - 1;
  if (secondLength < 1 || secondLength > 2) return undefined;
  const first = digits(text, 0, firstLength);
  const second = digits(text, firstEnd + 1, secondLength);
  const third = digits(text, secondEnd + 1, thirdLength);
  if (separator === 47 && firstLength === 4 && thirdLength >= 1 && thirdLength <= 2) return calendarDate(first, second, third, text);
  if (firstLength > 2 || thirdLength !== 4) return undefined;
  return separator === 47 ? calendarDate(third, first, second, text) : calendarDate(third, second, first, text);
}

function namedMonthDate(year: number, monthName: string, day: number, text: string): Coercion {
  const month = MONTHS.get(monthName) ?? MONTHS.get(monthName.toLowerCase());
  if (month === undefined) return fail(`${show(text)} is not a date (unknown month name; ${DATE_FORMS})`);
  return calendarDate(year, month, day, text);
}

function calendarDate(year: number, month: number, day: number, text: string): Coercion {
  const problem = dateProblem(year, month, day, text);
  return problem ? fail(problem) : { ok: true, value: formatDate(year, month, day) };
}

function dateProblem(year: number, month: number, day: number, text: string): string | undefined {
  if (year < 1) return `${show(text)} is outside the years 0001–9999`;
  if (month < 1 || month > 12) return `${show(text)} is not a real date (there is no month ${month})`;
  const days = daysInMonth(year, month);
  if (day < 1 || day > days) {
    return `${show(text)} is not a real date (${day === 0 ? 'there is no day 0' : `${MONTH_NAMES[month]} ${year} has ${days} days`})`;
  }
  return undefined;
}

function timeProblem(hour: number, minute: number, second: number, text: string): string | undefined {
  if (hour > 23) return `${show(text)} is not a real time (hours run from 00 to 23)`;
  if (minute > 59) return `${show(text)} is not a real time (minutes run from 00 to 59)`;
  if (second > 59) return `${show(text)} is not a real time (seconds run from 00 to 59)`;
  return undefined;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** `YYYY-MM-DD` as one string allocation (no template of pieces). */
function formatDate(year: number, month: number, day: number): string {
  return fromCharCode(
    48 + ((year / 1000) | 0),
    48 + (((year / 100) | 0) % 10),
    48 + (((year / 10) | 0) % 10),
    48 + (year % 10),
    45,
    48 + ((month / 10) | 0),
    48 + (month % 10),
    45,
    48 + ((day / 10) | 0),
    48 + (day % 10),
  );
}

/** `YYYY-MM-DDTHH:mm:ss.sssZ` as one string allocation. */
function formatTimestamp(year: number, month: number, day: number, hour: number, minute: number, second: number, millisecond: number): string {
  return fromCharCode(
    48 + ((year / 1000) | 0),
    48 + (((year / 100) | 0) % 10),
    48 + (((year / 10) | 0) % 10),
    48 + (year % 10),
    45,
    48 + ((month / 10) | 0),
    48 + (month % 10),
    45,
    48 + ((day / 10) | 0),
    48 + (day % 10),
    84,
    48 + ((hour / 10) | 0),
    48 + (hour % 10),
    58,
    48 + ((minute / 10) | 0),
    48 + (minute % 10),
    58,
    48 + ((second / 10) | 0),
    48 + (second % 10),
    46,
    48 + ((millisecond / 100) | 0),
    48 + (((millisecond / 10) | 0) % 10),
    48 + (millisecond % 10),
    90,
  );
}

/** The index after the run of ASCII digits starting at `start`. */
function digitsEnd(text: string, start: number): number {
  let index = start;
  for (let code = text.charCodeAt(index); code >= 48 && code <= 57; code = text.charCodeAt(++index));
  return index;
}

/** The two ASCII digits at `start` as a number 0–99, or a negative number when they are not two digits. */
function two(text: string, start: number): number {
  const high = text.charCodeAt(start) - 48;
  const low = text.charCodeAt(start + 1) - 48;
  // Past the end charCodeAt gives NaN, which fails these comparisons too.
  return high >= 0 && high <= 9 && low >= 0 && low <= 9 ? high * 10 + low : -1000000;
}

/** The non-negative integer in `count` ASCII digits at `start`, or -1. */
function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let index = start; index < start + count; index += 1) {
    const digit = text.charCodeAt(index) - 48;
    if (!(digit >= 0 && digit <= 9)) return -1; // also NaN past the end
    value = value * 10 + digit;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// list

function coerceList(raw: unknown): Coercion {
  if (typeof raw === 'string') {
    const text = trimmed(raw);
    if (text.length === 0) return NO_VALUE;
    if (text.charCodeAt(0) === 91) return parseJsonList(text);
    return splitList(text);
  }
  if (Array.isArray(raw)) return listFromArray(raw, raw);
  switch (typeof raw) {
    case 'number':
    case 'boolean':
    case 'bigint':
      return { ok: true, value: [String(raw)] };
    case 'object':
      if (raw instanceof Date) {
        const text = toText(raw);
        return text === undefined ? fail('an invalid Date cannot be a list item') : { ok: true, value: [text] };
      }
      return fail(`${show(raw)} is not a list (use an array, a JSON array or "a; b; c")`);
    default:
      return fail(`${show(raw)} is not a list`);
  }
}

/** Split on `;` when there is one, else on `,`; items trimmed, empty ones dropped. One slice per item. */
function splitList(text: string): Coercion {
  const length = text.length;
  let separator = 44; // ,
  for (let index = 0; index < length; index += 1) {
    if (text.charCodeAt(index) === 59) {
      separator = 59; // ;
      break;
    }
  }
  const items: string[] = [];
  let start = 0;
  for (let index = 0; index <= length; index += 1) {
    if (index < length && text.charCodeAt(index) !== separator) continue;
    let from = start;
    let to = index;
    while (from < to && isSpace(text.charCodeAt(from))) from += 1;
    while (to > from && isSpace(text.charCodeAt(to - 1))) to -= 1;
    if (to > from) items.push(to - from === length ? text : text.slice(from, to));
    start = index + 1;
  }
  return items.length > 0 ? { ok: true, value: items } : NO_VALUE;
}

function listFromArray(array: readonly unknown[], original: unknown): Coercion {
  const items: string[] = [];
  for (const item of array) {
    if (item === undefined || item === null) continue;
    const text = toText(item);
    if (text === undefined) return fail(`${show(original)} has an item that cannot be stored as text`);
    items.push(text);
  }
  return items.length > 0 ? { ok: true, value: items } : NO_VALUE;
}

function parseJsonList(text: string): Coercion {
  const parsed = parseJson(text);
  if (Array.isArray(parsed)) {
    let scalars = true;
    for (const item of parsed) {
      if (item !== null && typeof item === 'object') scalars = false;
    }
    if (scalars) return listFromArray(parsed, text);
    return fail(`${show(text)} is not a JSON array of strings, numbers and booleans`);
  }
  return fail(`${show(text)} is not a JSON array`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// shared

function fail(message: string): Coercion {
  return { ok: false, message };
}

/** Unicode white space, as `String.prototype.trim` and `\s` see it. */
function isSpace(code: number): boolean {
  return (
    code === 32 ||
    (code >= 9 && code <= 13) ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0xa0 ||
    code === 0xfeff ||
    code === 0x1680 ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

/** `text.trim()`, without a copy when there is nothing to trim (the usual case). */
function trimmed(text: string): string {
  const length = text.length;
  if (length === 0 || (!isSpace(text.charCodeAt(0)) && !isSpace(text.charCodeAt(length - 1)))) return text;
  return text.trim();
}

function isBlank(text: string): boolean {
  for (let index = 0; index < text.length; index += 1) if (!isSpace(text.charCodeAt(index))) return false;
  return true;
}

/** A value as it appears in messages: strings JSON-quoted and cut after 100 characters. */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid Date' : value.toISOString();
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null) {
    const json = stringifyJson(value);
    if (json === undefined) return Array.isArray(value) ? 'an array' : 'an object';
    return json.length > 100 ? `${json.slice(0, 100)}…` : json;
  }
  return String(value);
}
