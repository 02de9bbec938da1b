import { describe, expect, it } from 'vitest';
import { CompactIdSet } from '../../shared/imports/compact-id-set.js';

describe('CompactIdSet', () => {
  it('agrees with a Set on many 48-bit values, including 0 and the largest, across growth', () => {
    const set = new CompactIdSet(1_000_000, 16);
    const reference = new Set<number>();
    let seed = 12345;
    const random48 = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return (seed % 2 ** 24) * 2 ** 24 + ((seed * 7) % 2 ** 24);
    };
    const values = [0, 2 ** 48 - 1, ...Array.from({ length: 50_000 }, random48)];
    for (const value of values) {
      expect(set.add(value)).toBe(!reference.has(value));
      reference.add(value);
    }
    expect(set.size).toBe(reference.size);
    for (const value of values) expect(set.has(value)).toBe(true);
    for (let probe = 0; probe < 2000; probe += 1) {
      const value = random48();
      expect(set.has(value)).toBe(reference.has(value));
    }
  });

  it('stops adding at its capacity and still answers for what it holds', () => {
    const set = new CompactIdSet(3);
    expect([1, 2, 3, 4].map((value) => set.add(value))).toEqual([true, true, true, false]);
    expect(set.size).toBe(3);
    expect(set.has(3)).toBe(true);
    expect(set.has(4)).toBe(false);
  });
});
