import { describe, expect, it } from 'vitest';
import { coerceValue } from '../../shared/properties/property-coercion.js';
import { serverUtcText, timestampText } from '../../shared/integrations/postgres/postgres-values.js';

/** What the full parser makes of a timestamp's text (the form before the fast path existed). */
const fullParse = (text: string) => {
  const coerced = coerceValue(text, 'date');
  return coerced.ok && typeof coerced.value === 'string' ? coerced.value : text;
};

/** A timestamp as PostgreSQL writes it with DateStyle ISO and TimeZone UTC (trailing zeros of the fraction dropped). */
function serverText(epochMs: number, micros: number, zone: boolean): string {
  const iso = new Date(epochMs).toISOString(); // 2024-03-01T12:30:00.000Z
  const fraction = `${iso.slice(20, 23)}${String(micros).padStart(3, '0')}`.replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${fraction}` : ''}${zone ? '+00' : ''}`;
}

describe('PostgreSQL timestamp text', () => {
  it('rearranges the server’s UTC form exactly as the full parser reads it', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const samples = ['2024-01-01 00:00:00+00', '2024-02-29 23:59:59.999999+00', '0001-01-01 00:00:00', '9999-12-31 23:59:59.5', '1970-01-01 00:00:00.01+00'];
    for (let index = 0; index < 20_000; index += 1) {
      const epochMs = Math.floor(random() * 253_402_300_799_000); // years 1970–9999
      const micros = random() < 0.3 ? 0 : Math.floor(random() * 1000);
      samples.push(serverText(random() < 0.2 ? Math.floor(epochMs / 1000) * 1000 : epochMs, micros, random() < 0.7));
    }
    for (const text of samples) {
      // The text rides along so a failure names the sample.
      expect({ text, fast: serverUtcText(text), value: timestampText(text) }).toEqual({ text, fast: fullParse(text), value: fullParse(text) });
    }
    expect(serverUtcText('2024-03-01 12:30:00.5+00')).toBe('2024-03-01T12:30:00.500Z');
    expect(serverUtcText('2024-03-01 12:30:00.123456')).toBe('2024-03-01T12:30:00.123Z');
  });

  it('leaves every other form to the full parser, which converts or keeps it', () => {
    const others = [
      '2024-03-01 12:30:00+05:30', // another zone (a query that changed TimeZone)
      '2024-03-01 12:30:00-08',
      '2024-03-01 12:30:00+00 BC',
      '12024-03-01 12:30:00+00',
      'infinity',
      '-infinity',
      '03/01/2024 12:30:00 UTC', // another DateStyle
      '2024-03-01T12:30:00Z',
      '2024-03-01 12:30:00.+00',
      '2024-03-01 12:30:00.1234567+00',
      '2024-03-01 12:3x:00+00',
    ];
    for (const text of others) {
      expect({ text, fast: serverUtcText(text), value: timestampText(text) }).toEqual({ text, fast: undefined, value: fullParse(text) });
    }
    expect(timestampText('2024-03-01 12:30:00+05:30')).toBe('2024-03-01T07:00:00.000Z');
    expect(timestampText('infinity')).toBe('infinity');
  });
});
