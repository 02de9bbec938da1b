import { describe, expect, it } from 'vitest';
import { marshall } from '@aws-sdk/util-dynamodb';
import { largestProperty, MAX_PROPERTIES_BYTES, mergedPropertiesBytes, propertiesTooLarge } from '../../shared/users/profile-size.js';

describe('profile size guard', () => {
  it('lets ordinary rows through without sizing them exactly, and refuses one that would outgrow the item', () => {
    expect(propertiesTooLarge({ plan: 'gold', visits: 3 }, { city: 'Oslo', vip: true, tags: ['a', 'b'] })).toBeUndefined();
    expect(propertiesTooLarge({}, { note: 'y'.repeat(MAX_PROPERTIES_BYTES) })).toMatch(/would take 393 KB, above the 392 KB one user may hold/);
  });

  it('counts what the user will hold once the row is applied: a replaced value frees its room, an empty cell keeps the old one', () => {
    const big = 'x'.repeat(300 * 1024);
    const half = 'y'.repeat(150 * 1024);
    expect(propertiesTooLarge({ note: big }, { other: half })).toMatch(/would take 45[01] KB/);
    expect(propertiesTooLarge({ note: big }, { note: half })).toBeUndefined();
    // An empty cell keeps the old value: this row does not grow the user, so it is not refused.
    expect(propertiesTooLarge({ note: big, other: half }, { other: undefined as never })).toBeUndefined();
    expect(propertiesTooLarge({ note: big, other: half }, { other: undefined as never, more: 'z' })).toMatch(/would take 45[01] KB/);
  });

  it('sizes text as UTF-8: 210 K "é" are 420 KB although only 210 K characters', () => {
    expect(propertiesTooLarge({}, { name: 'é'.repeat(210 * 1024) })).toMatch(/would take 421 KB/);
    expect(propertiesTooLarge({}, { name: 'e'.repeat(210 * 1024) })).toBeUndefined();
  });

  it('is never below the size of the marshalled map (DynamoDB: UTF-8 names and values, small overheads)', () => {
    const properties = { plan: 'gold', 'größe': 'groß', visits: 12345.678, vip: false, tags: ['a', 'bé', ''], empty: '' };
    const marshalled = marshall({ props: properties }).props!;
    const encoded = Buffer.byteLength(JSON.stringify(marshalled.M));
    // JSON adds quotes and type tags; DynamoDB's own size is smaller than that and larger than the raw UTF-8 text.
    const raw = Object.entries(properties).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(String(value)), 0);
    const sized = mergedPropertiesBytes({}, properties);
    expect(sized).toBeGreaterThanOrEqual(raw);
    expect(sized).toBeLessThan(encoded);
  });

  it('never refuses a row that does not grow a user stored near the limit before (it stays writable)', () => {
    const stored = { note: 'x'.repeat(MAX_PROPERTIES_BYTES + 1000) };
    expect(propertiesTooLarge(stored, {})).toBeUndefined();
    expect(propertiesTooLarge(stored, { plan: 'gold' })).toMatch(/would take/);
    expect(propertiesTooLarge(stored, { note: 'short' })).toBeUndefined();
  });

  it('names the incoming property with the largest value', () => {
    expect(largestProperty({ a: 'x', b: 'y'.repeat(10), c: undefined as never, d: ['z'.repeat(5)] })).toBe('b');
  });
});
