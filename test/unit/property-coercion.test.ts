import { describe, expect, it } from 'vitest';
import { coerceValue, sameValue, type PropertyValue } from '../../shared/properties/property-coercion.js';
import { propertyTypes, type PropertyType } from '../../shared/properties/property.js';

function message(raw: unknown, type: PropertyType): string {
  const result = coerceValue(raw, type);
  if (result.ok) throw new Error(`expected ${String(raw)} to be refused as ${type}, got ${JSON.stringify(result.value)}`);
  return result.message;
}

describe('no value', () => {
  const blanks: unknown[] = [undefined, null, '', ' ', '   ', '\t', '\r\n', '\u00a0', '\ufeff', ' \u3000 '];
  const cases = propertyTypes.flatMap((type) => blanks.map((raw) => [type, raw] as const));

  it.each(cases)('%s: %j is no value', (type, raw) => {
    expect(coerceValue(raw, type)).toEqual({ ok: true, value: undefined });
  });
});

describe('string', () => {
  it.each<[unknown, string]>([
    ['hello', 'hello'],
    ['  padded  ', '  padded  '],
    ['line\nbreak', 'line\nbreak'],
    ['0042', '0042'],
    ['true', 'true'],
    [' x', ' x'],
    [42, '42'],
    [-1.5, '-1.5'],
    [0, '0'],
    [true, 'true'],
    [false, 'false'],
    [12345678901234567890n, '12345678901234567890'],
    [new Date(Date.UTC(2024, 2, 1, 12, 30)), '2024-03-01T12:30:00.000Z'],
    [['a', 'b'], '["a","b"]'],
    [[], '[]'],
    [{ a: 1 }, '{"a":1}'],
  ])('%o → %o', (raw, value) => {
    expect(coerceValue(raw, 'string')).toEqual({ ok: true, value });
  });

  it('returns the very same string (no copy)', () => {
    const raw = 'x'.repeat(50) + 'y';
    const result = coerceValue(raw, 'string');
    expect(result.ok && result.value).toBe(raw);
  });

  it.each<[unknown, string]>([
    [Symbol('s'), 'cannot be stored as text'],
    [() => 1, 'a function cannot be stored as text'],
    [new Date(Number.NaN), 'an invalid Date cannot be stored as text'],
    [{ big: 1n }, 'cannot be stored as text'],
  ])('refuses %s', (raw, part) => {
    expect(message(raw, 'string')).toContain(part);
  });

  it('refuses a cyclic object', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(message(cyclic, 'string')).toBe('an object cannot be stored as text');
  });
});

describe('number', () => {
  it('refuses magnitudes DynamoDB cannot store (1e-130 to below 1e126) as a row error, keeps the rest', () => {
    for (const raw of ['1e300', '-1e126', '1e-200', 1e300, 5e-324]) {
      expect(coerceValue(raw, 'number')).toEqual({ ok: false, message: expect.stringMatching(/out of range for a number/) });
    }
    expect(coerceValue('9.99e125', 'number')).toEqual({ ok: true, value: 9.99e125 });
    expect(coerceValue('1e-130', 'number')).toEqual({ ok: true, value: 1e-130 });
    expect(coerceValue(12345678901234567890, 'number')).toEqual({ ok: true, value: 12345678901234567890 });
    expect(coerceValue('0', 'number')).toEqual({ ok: true, value: 0 });
  });

  it.each<[unknown, number]>([
    ['42', 42],
    ['-12.5', -12.5],
    ['+3', 3],
    ['1e3', 1000],
    ['1E3', 1000],
    ['2.5e-3', 0.0025],
    ['-1e+2', -100],
    ['.5', 0.5],
    ['-.5', -0.5],
    ['1.', 1],
    ['007', 7],
    ['0', 0],
    ['-0', 0],
    ['  12  ', 12],
    ['\t3.25\n', 3.25],
    ['1,234', 1234],
    ['1,234.5', 1234.5],
    ['-1,234,567.89', -1234567.89],
    ['+12,345', 12345],
    ['999,999', 999999],
    [42, 42],
    [-0.25, -0.25],
    [-0, 0],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    [123n, 123],
    [-9007199254740991n, -9007199254740991],
  ])('%o → %o', (raw, value) => {
    const result = coerceValue(raw, 'number');
    expect(result).toEqual({ ok: true, value });
    expect(Object.is(result.ok && result.value, -0)).toBe(false);
  });

  it.each<[unknown, string]>([
    ['12abc', '"12abc" is not a number'],
    [' 12abc ', '"12abc" is not a number'],
    ['1.234,5', '"1.234,5" is not a number'],
    ['1,23', '"1,23" is not a number'],
    ['1,2345', '"1,2345" is not a number'],
    ['1234,567', '"1234,567" is not a number'],
    [',123', '",123" is not a number'],
    ['1,234,', '"1,234," is not a number'],
    ['1 234', '"1 234" is not a number'],
    ['1_000', '"1_000" is not a number'],
    ['NaN', '"NaN" is not a number'],
    ['Infinity', '"Infinity" is not a number'],
    ['-Infinity', '"-Infinity" is not a number'],
    ['0x10', '"0x10" is not a number'],
    ['0X1f', '"0X1f" is not a number'],
    ['0b101', '"0b101" is not a number'],
    ['0o17', '"0o17" is not a number'],
    ['-0x10', '"-0x10" is not a number'],
    ['.', '"." is not a number'],
    ['+', '"+" is not a number'],
    ['1e', '"1e" is not a number'],
    ['e5', '"e5" is not a number'],
    ['$12', '"$12" is not a number'],
    ['12%', '"12%" is not a number'],
    ['1e400', '"1e400" is out of range for a number'],
    [Number.NaN, 'NaN is not a number'],
    [Number.POSITIVE_INFINITY, 'Infinity is not a number'],
    [true, 'true is not a number'],
    [[1], '[1] is not a number'],
    [{ n: 1 }, '{"n":1} is not a number'],
    [new Date(0), '1970-01-01T00:00:00.000Z is not a number'],
    [9007199254740992n, '9007199254740992 is outside the safe integer range (±9007199254740991)'],
    [-9007199254740992n, 'is outside the safe integer range'],
  ])('refuses %o: %s', (raw, part) => {
    expect(message(raw, 'number')).toContain(part);
  });
});

describe('boolean', () => {
  const truthy = ['true', 'TRUE', 'True', 'tRuE', 'yes', 'YES', 'Yes', 'y', 'Y', '1', 't', 'T', 'on', 'ON', 'On', ' true ', '\tyes\n'];
  const falsy = ['false', 'FALSE', 'False', 'no', 'NO', 'No', 'n', 'N', '0', 'f', 'F', 'off', 'OFF', 'Off', ' no ', '  0'];

  it.each<[unknown, boolean]>([
    ...truthy.map((raw) => [raw, true] as [unknown, boolean]),
    ...falsy.map((raw) => [raw, false] as [unknown, boolean]),
    [true, true],
    [false, false],
    [1, true],
    [0, false],
    [-0, false],
    [1n, true],
    [0n, false],
  ])('%o → %s', (raw, value) => {
    expect(coerceValue(raw, 'boolean')).toEqual({ ok: true, value });
  });

  it.each<[unknown, string]>([
    ['maybe', '"maybe" is not a boolean (use true/false, yes/no or 1/0)'],
    [' maybe ', '"maybe" is not a boolean'],
    ['tru', '"tru" is not a boolean'],
    ['yess', '"yess" is not a boolean'],
    ['2', '"2" is not a boolean'],
    ['-1', '"-1" is not a boolean'],
    ['1.0', '"1.0" is not a boolean'],
    ['enabled', '"enabled" is not a boolean'],
    ['oui', '"oui" is not a boolean'],
    [2, '2 is not a boolean'],
    [0.5, '0.5 is not a boolean'],
    [[true], '[true] is not a boolean'],
    [{}, '{} is not a boolean'],
  ])('refuses %o: %s', (raw, part) => {
    expect(message(raw, 'boolean')).toContain(part);
  });
});

describe('date', () => {
  it.each([
    ['2024-03-01', '2024-03-01'],
    [' 2024-03-01 ', '2024-03-01'],
    ['2024-02-29', '2024-02-29'],
    ['2000-02-29', '2000-02-29'],
    ['1600-02-29', '1600-02-29'],
    ['2023-12-31', '2023-12-31'],
    ['0001-01-01', '0001-01-01'],
    ['9999-12-31', '9999-12-31'],
    ['2024/03/01', '2024-03-01'],
    ['2024/3/1', '2024-03-01'],
    ['03/01/2024', '2024-03-01'],
    ['3/1/2024', '2024-03-01'],
    ['12/31/2024', '2024-12-31'],
    ['1/2/2024', '2024-01-02'],
    ['02/29/2024', '2024-02-29'],
    ['01.03.2024', '2024-03-01'],
    ['1.3.2024', '2024-03-01'],
    ['31.12.2024', '2024-12-31'],
    ['1 March 2024', '2024-03-01'],
    ['01 march 2024', '2024-03-01'],
    ['1 MARCH 2024', '2024-03-01'],
    ['1 Mar 2024', '2024-03-01'],
    ['1 mar. 2024', '2024-03-01'],
    ['1st March, 2024', '2024-03-01'],
    ['22nd Sept 2024', '2024-09-22'],
    ['15 Sep 2024', '2024-09-15'],
    ['March 1, 2024', '2024-03-01'],
    ['march 1 2024', '2024-03-01'],
    ['Mar 1 2024', '2024-03-01'],
    ['Mar. 1, 2024', '2024-03-01'],
    ['December 25th, 2023', '2023-12-25'],
    ['May 5 2024', '2024-05-05'],
    ['Feb 29, 2024', '2024-02-29'],
    ['jan 1 0900', '0900-01-01'],
  ])('%j → %j (no time of day)', (raw, value) => {
    expect(coerceValue(raw, 'date')).toEqual({ ok: true, value });
  });

  it.each([
    ['2024-03-01T12:30', '2024-03-01T12:30:00.000Z'],
    ['2024-03-01T12:30:45', '2024-03-01T12:30:45.000Z'],
    ['2024-03-01T12:30:45.1', '2024-03-01T12:30:45.100Z'],
    ['2024-03-01T12:30:45.12', '2024-03-01T12:30:45.120Z'],
    ['2024-03-01T12:30:45.123', '2024-03-01T12:30:45.123Z'],
    ['2024-03-01T12:30:45.123999', '2024-03-01T12:30:45.123Z'],
    ['2024-03-01T12:30:45,5', '2024-03-01T12:30:45.500Z'],
    ['2024-03-01 12:30:00', '2024-03-01T12:30:00.000Z'],
    ['2024-03-01t12:30:00z', '2024-03-01T12:30:00.000Z'],
    ['2024-03-01T12:30:00Z', '2024-03-01T12:30:00.000Z'],
    ['2024-03-01T12:30:00.000Z', '2024-03-01T12:30:00.000Z'],
    ['2024-03-01T00:00:00Z', '2024-03-01T00:00:00.000Z'],
    ['2024-03-01T10:00:00+02:00', '2024-03-01T08:00:00.000Z'],
    ['2024-03-01T10:00:00+0200', '2024-03-01T08:00:00.000Z'],
    ['2024-03-01T10:00:00+02', '2024-03-01T08:00:00.000Z'],
    ['2024-03-01T10:00:00-05:30', '2024-03-01T15:30:00.000Z'],
    ['2024-03-01T10:00-05', '2024-03-01T15:00:00.000Z'],
    ['2024-03-01 10:00:00 +01:00', '2024-03-01T09:00:00.000Z'],
    ['2024-03-01 10:00:00 Z', '2024-03-01T10:00:00.000Z'],
    ['2024-03-01 10:00:00.5-00:00', '2024-03-01T10:00:00.500Z'],
    ['2024-03-01T01:00:00+02:00', '2024-02-29T23:00:00.000Z'],
    ['2023-03-01T01:00:00+02:00', '2023-02-28T23:00:00.000Z'],
    ['2024-01-01T00:30:00+01:00', '2023-12-31T23:30:00.000Z'],
    ['2024-12-31T23:00:00-02:00', '2025-01-01T01:00:00.000Z'],
    ['2024-02-28T22:00:00-03:00', '2024-02-29T01:00:00.000Z'],
    ['2024-04-30T20:00:00-04:00', '2024-05-01T00:00:00.000Z'],
    ['2024-03-01T12:00:00+14:00', '2024-02-29T22:00:00.000Z'],
    ['2024-03-01T12:00:00-23:59', '2024-03-02T11:59:00.000Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
    ['  2024-03-01T12:30:00Z\n', '2024-03-01T12:30:00.000Z'],
  ])('%o → %o', (raw, value) => {
    expect(coerceValue(raw, 'date')).toEqual({ ok: true, value });
  });

  it('reads a time without a zone as UTC, whatever the machine zone', () => {
    expect(coerceValue('2024-07-01 09:15', 'date')).toEqual({ ok: true, value: '2024-07-01T09:15:00.000Z' });
  });

  it('agrees with Date for offsets across a thousand random instants', () => {
    let seed = 7;
    let checked = 0;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let run = 0; run < 1000; run += 1) {
      const instant = Math.floor(random() * 253402300799999);
      const offset = Math.floor(random() * 2 * 1439) - 1439;
      const local = new Date(instant + offset * 60000).toISOString().slice(0, 23);
      const sign = offset < 0 ? '-' : '+';
      const zone = `${sign}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
      const expected = new Date(instant).toISOString();
      const year = new Date(instant + offset * 60000).getUTCFullYear();
      if (year < 1 || year > 9999 || expected.startsWith('-') || expected.startsWith('+')) continue;
      expect(coerceValue(`${local}${zone}`, 'date')).toEqual({ ok: true, value: expected });
      checked += 1;
    }
    expect(checked).toBeGreaterThan(990);
  });

  it.each([
    [new Date(Date.UTC(2024, 2, 1)), '2024-03-01T00:00:00.000Z'],
    [new Date(Date.UTC(2024, 2, 1, 12, 30, 15, 250)), '2024-03-01T12:30:15.250Z'],
  ])('a JS Date %s → %j', (raw, value) => {
    expect(coerceValue(raw, 'date')).toEqual({ ok: true, value });
  });

  it.each<[unknown, string]>([
    ['2024-02-30', '"2024-02-30" is not a real date (February 2024 has 29 days)'],
    ['2023-02-29', '"2023-02-29" is not a real date (February 2023 has 28 days)'],
    ['1900-02-29', '"1900-02-29" is not a real date (February 1900 has 28 days)'],
    ['2024-04-31', '"2024-04-31" is not a real date (April 2024 has 30 days)'],
    ['2024-13-01', '"2024-13-01" is not a real date (there is no month 13)'],
    ['2024-00-10', '"2024-00-10" is not a real date (there is no month 0)'],
    ['2024-01-00', '"2024-01-00" is not a real date (there is no day 0)'],
    ['2024-01-32', '"2024-01-32" is not a real date (January 2024 has 31 days)'],
    ['13/01/2024', '"13/01/2024" is not a real date (there is no month 13)'],
    ['02/30/2024', '"02/30/2024" is not a real date'],
    ['2024/02/30', '"2024/02/30" is not a real date'],
    ['30.02.2024', '"30.02.2024" is not a real date'],
    ['01.13.2024', '"01.13.2024" is not a real date (there is no month 13)'],
    ['31 April 2024', '"31 April 2024" is not a real date (April 2024 has 30 days)'],
    ['Feb 29, 2023', '"Feb 29, 2023" is not a real date'],
    ['2024-02-30T10:00:00Z', '"2024-02-30T10:00:00Z" is not a real date'],
    ['2024-03-01T24:00', '"2024-03-01T24:00" is not a real time (hours run from 00 to 23)'],
    ['2024-03-01T24:00:00Z', 'is not a real time (hours run from 00 to 23)'],
    ['2024-03-01T12:60', '"2024-03-01T12:60" is not a real time (minutes run from 00 to 59)'],
    ['2024-03-01T12:30:60', '"2024-03-01T12:30:60" is not a real time (seconds run from 00 to 59)'],
    ['2024-03-01T12:00:00+24:00', '"2024-03-01T12:00:00+24:00" has an invalid UTC offset'],
    ['2024-03-01T12:00:00+02:60', 'has an invalid UTC offset'],
    ['0000-01-01', '"0000-01-01" is outside the years 0001–9999'],
    ['01/01/0000', 'is outside the years 0001–9999'],
    ['0001-01-01T00:30:00+01:00', '"0001-01-01T00:30:00+01:00" is outside the years 0001–9999 in UTC'],
    ['9999-12-31T23:30:00-01:00', 'is outside the years 0001–9999 in UTC'],
  ])('refuses the impossible %j: %s', (raw, part) => {
    expect(message(raw, 'date')).toContain(part);
  });

  it.each<[unknown, string]>([
    ['yesterday', '"yesterday" is not a date (use YYYY-MM-DD'],
    ['2024-3-1', '"2024-3-1" is not a date'],
    ['20240301', '"20240301" is not a date'],
    ['2024-03', '"2024-03" is not a date'],
    ['24-03-01', '"24-03-01" is not a date'],
    ['03/01/24', '"03/01/24" is not a date'],
    ['1.3.24', '"1.3.24" is not a date'],
    ['2024.03.01', '"2024.03.01" is not a date'],
    ['03-01-2024', '"03-01-2024" is not a date'],
    ['1/2/3/2024', '"1/2/3/2024" is not a date'],
    ['2024/03.01', '"2024/03.01" is not a date'],
    ['123/01/2024', '"123/01/2024" is not a date'],
    ['2024/123/01', '"2024/123/01" is not a date'],
    ['12/31/2024 10:00', '"12/31/2024 10:00" is not a date'],
    ['2024-03-01T', '"2024-03-01T" is not a date'],
    ['2024-03-01T12', '"2024-03-01T12" is not a date'],
    ['2024-03-01T1230', '"2024-03-01T1230" is not a date'],
    ['2024-03-01T12:30:00.', 'is not a date'],
    ['2024-03-01T12:30:00+2', 'is not a date'],
    ['2024-03-01T12:30:00+02:0', 'is not a date'],
    ['2024-03-01T12:30:00+02:00Z', 'is not a date'],
    ['2024-03-01T12:30:00ZZ', 'is not a date'],
    ['2024-03-01T12:30:00 PST', 'is not a date'],
    ['2024-03-01T12:30:00 GMT+1', 'is not a date'],
    ['2024-03-01X12:30', 'is not a date'],
    ['2024-03-01  12:30', 'is not a date'],
    ['Fri, 01 Mar 2024 12:00:00 GMT', 'is not a date'],
    ['1 Mayo 2024', '"1 Mayo 2024" is not a date (unknown month name'],
    ['Marchember 1, 2024', 'unknown month name'],
    ['1 March', 'is not a date'],
    ['March 2024', 'is not a date'],
    ['１２/01/2024', 'is not a date'],
    [20240301, '20240301 is not a date (numbers are not read as dates'],
    [1709251200000, 'numbers are not read as dates'],
    [45352, 'numbers are not read as dates'],
    [45352n, '45352n is not a date (numbers are not read as dates'],
    [true, 'true is not a date'],
    [['2024-03-01'], '["2024-03-01"] is not a date'],
    [{ date: '2024-03-01' }, 'is not a date'],
    [new Date(Number.NaN), 'an invalid Date is not a date'],
    [new Date(Date.UTC(10000, 0, 1)), 'is outside the years 0001–9999'],
    [new Date(-62198755200000), 'is outside the years 0001–9999'], // 0000-01-01
  ])('refuses %o: %s', (raw, part) => {
    expect(message(raw, 'date')).toContain(part);
  });
});

describe('list', () => {
  it.each<[unknown, string[]]>([
    ['a', ['a']],
    ['a,b,c', ['a', 'b', 'c']],
    ['a, b , c', ['a', 'b', 'c']],
    ['a;b;c', ['a', 'b', 'c']],
    [' a ; b ; c ', ['a', 'b', 'c']],
    ['a; b, c', ['a', 'b, c']],
    ['Smith, John; Doe, Jane', ['Smith, John', 'Doe, Jane']],
    ['a,,b', ['a', 'b']],
    [',a,', ['a']],
    ['a;;b;', ['a', 'b']],
    ['a, ,b', ['a', 'b']],
    ['b,a,b', ['b', 'a', 'b']],
    ['x y z', ['x y z']],
    ['["a","b"]', ['a', 'b']],
    ['  ["a", "b"]  ', ['a', 'b']],
    ['["a;b","c,d"]', ['a;b', 'c,d']],
    ['[1, 2.5, true, false, null, "x"]', ['1', '2.5', 'true', 'false', 'x']],
    ['[" padded ", ""]', [' padded ', '']],
    [['a', 'b'], ['a', 'b']],
    [['a', null, undefined, 'b'], ['a', 'b']],
    [[1, true, 2n], ['1', 'true', '2']],
    [[' keep '], [' keep ']],
    [[new Date(Date.UTC(2024, 2, 1))], ['2024-03-01T00:00:00.000Z']],
    [[{ a: 1 }, ['x']], ['{"a":1}', '["x"]']],
    [42, ['42']],
    [true, ['true']],
    [7n, ['7']],
    [new Date(Date.UTC(2024, 2, 1)), ['2024-03-01T00:00:00.000Z']],
  ])('%o → %o', (raw, value) => {
    expect(coerceValue(raw, 'list')).toEqual({ ok: true, value });
  });

  it.each<[unknown]>([[','], [' ; ; '], [',,,'], ['[]'], [' [ ] '], ['[null]'], [[]], [[null, undefined]]])(
    'an empty list (%j) is no value',
    (raw) => {
      expect(coerceValue(raw, 'list')).toEqual({ ok: true, value: undefined });
    },
  );

  it.each<[unknown, string]>([
    ['[oops', '"[oops" is not a JSON array'],
    ['[a, b]', '"[a, b]" is not a JSON array'],
    ['[draft] notes', '"[draft] notes" is not a JSON array'],
    ['[1, 2', 'is not a JSON array'],
    ['[[1], 2]', '"[[1], 2]" is not a JSON array of strings, numbers and booleans'],
    ['[{"a":1}]', 'is not a JSON array of strings, numbers and booleans'],
    [{ a: 1 }, '{"a":1} is not a list'],
    [[Symbol('s')], 'has an item that cannot be stored as text'],
    [new Date(Number.NaN), 'an invalid Date cannot be a list item'],
  ])('refuses %o: %s', (raw, part) => {
    expect(message(raw, 'list')).toContain(part);
  });
});

describe('coerceValue', () => {
  it('refuses an unknown type (a value read back from storage)', () => {
    expect(message('x', 'text' as PropertyType)).toBe('unknown property type "text"');
  });

  it.each(propertyTypes)('never throws for odd inputs (%s)', (type) => {
    const odd: unknown[] = [Symbol('s'), () => 0, new Map(), Object.create(null), [[[]]], 'x'.repeat(10_000), '\u0000', '\ud800'];
    for (const raw of odd) {
      const result = coerceValue(raw, type);
      expect(typeof result.ok).toBe('boolean');
    }
  });

  it('cuts very long values in messages', () => {
    expect(message(`${'9'.repeat(200)}x`, 'number')).toBe(`"${'9'.repeat(100)}…" is not a number`);
  });

  it('hands out results the caller cannot corrupt for later calls', () => {
    const first = coerceValue('', 'string');
    expect(() => {
      (first as { value: unknown }).value = 'changed';
    }).toThrow(TypeError);
    expect(coerceValue('', 'string')).toEqual({ ok: true, value: undefined });
  });
});

describe('sameValue', () => {
  it.each<[PropertyValue | undefined, PropertyValue | undefined, boolean]>([
    ['a', 'a', true],
    ['a', 'b', false],
    ['1', 1, false],
    [1, 1, true],
    [0, -0, true],
    [1, 2, false],
    [true, true, true],
    [true, 'true', false],
    [false, 0, false],
    [undefined, undefined, true],
    [undefined, 'a', false],
    ['', undefined, false],
    [['a', 'b'], ['a', 'b'], true],
    [[], [], true],
    [['a', 'b'], ['b', 'a'], false],
    [['a'], ['a', 'a'], false],
    [['a', 'b'], ['a'], false],
    [['1'], '1', false],
    [['a,b'], 'a,b', false],
    [['a'], undefined, false],
    [undefined, [], false],
  ])('sameValue(%j, %j) is %s', (a, b, same) => {
    expect(sameValue(a, b)).toBe(same);
    expect(sameValue(b, a)).toBe(same);
  });

  it('compares coerced values: the same list written twice is unchanged', () => {
    const first = coerceValue('a; b', 'list');
    const second = coerceValue('["a","b"]', 'list');
    expect(first.ok && second.ok && sameValue(first.value, second.value)).toBe(true);
  });
});
