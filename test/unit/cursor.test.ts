import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors/domain-errors.js';
import { decodeCursor, encodeCursor } from '../../shared/pagination/cursor.js';

describe('list cursors', () => {
  const key = { pk: 'TENANT#acme#PROPERTIES', sk: 'plan' };
  const inPartition = (k: Record<string, unknown>) => k.pk === 'TENANT#acme#PROPERTIES';

  it('round-trip for the tenant that received them', () => {
    const cursor = encodeCursor('acme', key);
    expect(cursor).toEqual(expect.any(String));
    expect(decodeCursor('acme', cursor!, inPartition)).toEqual(key);
    expect(encodeCursor('acme', undefined)).toBeNull();
    expect(decodeCursor('acme', undefined, inPartition)).toBeUndefined();
  });

  it("are refused for another tenant, outside the partition, or when garbled", () => {
    const cursor = encodeCursor('acme', key)!;
    expect(() => decodeCursor('globex', cursor, () => true)).toThrow(ValidationError);
    const forged = encodeCursor('acme', { pk: 'TENANT#globex#PROPERTIES', sk: 'a' })!;
    expect(() => decodeCursor('acme', forged, inPartition)).toThrow(ValidationError);
    expect(() => decodeCursor('acme', 'not-base64-json', inPartition)).toThrow(/cursor is not valid/);
  });
});
