/**
 * A set of 48-bit integers in one Float64Array (open addressing, linear probing), for
 * remembering up to a million user IDs per import run. A `Set<number>` of such values keeps
 * each as a boxed heap number (~40–50 bytes per entry, growing the old space with the file);
 * this keeps 8 bytes per slot, grows by doubling to a fixed ceiling, and then stays flat.
 */
export class CompactIdSet {
  private slots: Float64Array;
  private count = 0;

  constructor(
    private readonly capacity: number,
    initialSlots = 1 << 16,
  ) {
    this.slots = new Float64Array(initialSlots);
  }

  get size(): number {
    return this.count;
  }

  has(value: number): boolean {
    const stored = value + 1;
    const mask = this.slots.length - 1;
    for (let slot = mix(value) & mask; ; slot = (slot + 1) & mask) {
      const found = this.slots[slot]!;
      if (found === 0) return false;
      if (found === stored) return true;
    }
  }

  /** Adds `value` (0 ≤ value < 2^48) unless full; returns false when it was already there or the set is full. */
  add(value: number): boolean {
    if (this.count >= this.capacity) return false;
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    const inserted = this.insert(this.slots, value + 1);
    if (inserted) this.count += 1;
    return inserted;
  }

  private insert(slots: Float64Array, stored: number): boolean {
    const mask = slots.length - 1;
    for (let slot = mix(stored - 1) & mask; ; slot = (slot + 1) & mask) {
      const found = slots[slot]!;
      if (found === stored) return false;
      if (found === 0) {
        slots[slot] = stored;
        return true;
      }
    }
  }

  private grow(): void {
    const next = new Float64Array(this.slots.length * 2);
    for (const stored of this.slots) if (stored !== 0) this.insert(next, stored);
    this.slots = next;
  }
}

/** Spreads the bits of a 48-bit value over a 32-bit slot index. */
function mix(value: number): number {
  const low = value % 0x1000000 | 0;
  const high = Math.floor(value / 0x1000000) | 0;
  return Math.imul(low ^ Math.imul(high, 0x9e3779b1), 0x85ebca6b) >>> 0;
}
