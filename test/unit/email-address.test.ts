import { describe, expect, it } from 'vitest';
import { EMAIL_LOCAL_PART_MAX_LENGTH, EMAIL_MAX_LENGTH, normalizeEmail } from '../../shared/users/email-address.js';

/** A valid domain of exactly `length` characters (labels of at most 63). */
function domainOf(length: number): string {
  const labels: string[] = [];
  let left = length;
  while (left > 0) {
    let size = Math.min(63, left);
    if (left - size === 1) size -= 1; // room for a dot and a one-character label
    labels.push('d'.repeat(size));
    left -= size;
    if (left > 0) left -= 1; // the dot before the next label
  }
  const domain = labels.join('.');
  if (domain.length !== length) throw new Error(`domain of ${domain.length}, wanted ${length}`);
  return domain;
}

/** The WHATWG HTML "valid email address" production, verbatim, as the reference. */
const WHATWG_EMAIL =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

describe('normalizeEmail', () => {
  it('exports the limits', () => {
    expect(EMAIL_MAX_LENGTH).toBe(254);
    expect(EMAIL_LOCAL_PART_MAX_LENGTH).toBe(64);
  });

  it.each([
    ['bob@example.com', 'bob@example.com'],
    ['  bob@example.com\t', 'bob@example.com'],
    ['\u00a0bob@example.com\ufeff', 'bob@example.com'],
    ['Bob@Example.COM', 'bob@example.com'],
    ['BOB.SMITH+News@GMAIL.com', 'bob.smith+news@gmail.com'],
    ['first.last@sub.domain.example.co.uk', 'first.last@sub.domain.example.co.uk'],
    ['a.b.c+tag+more@x.io', 'a.b.c+tag+more@x.io'],
    [".leading.dot@x.com", '.leading.dot@x.com'],
    ['two..dots@x.com', 'two..dots@x.com'],
    ["o'brien@example.ie", "o'brien@example.ie"],
    ["!#$%&'*+/=?^_`{|}~-@example.com", "!#$%&'*+/=?^_`{|}~-@example.com"],
    ['admin@localhost', 'admin@localhost'],
    ['user@123.456', 'user@123.456'],
    ['user@my-host.example', 'user@my-host.example'],
    ['user@a.b', 'user@a.b'],
    ['user@xn--bcher-kva.de', 'user@xn--bcher-kva.de'],
  ])('accepts %j as %j', (raw, email) => {
    expect(normalizeEmail(raw)).toEqual({ ok: true, email });
  });

  it.each([
    ['user@bücher.de', 'user@xn--bcher-kva.de'],
    ['User@BÜCHER.DE', 'user@xn--bcher-kva.de'],
    ['  info@münchen.de ', 'info@xn--mnchen-3ya.de'],
    ['info@faß.de', 'info@xn--fa-hia.de'],
    ['mail@例え.テスト', 'mail@xn--r8jz45g.xn--zckzah'],
    ['a+b@bücher', 'a+b@xn--bcher-kva'],
  ])('converts the internationalised domain of %j to punycode: %j', (raw, email) => {
    expect(normalizeEmail(raw)).toEqual({ ok: true, email });
  });

  it.each([undefined, null, '', '   ', '\t\n', '\u00a0'])('says %j is missing', (raw) => {
    expect(normalizeEmail(raw)).toEqual({ ok: false, message: 'email is missing' });
  });

  it.each([
    ['bob@@x.com', '"bob@@x.com" is not a valid email address'],
    ['bob', '"bob" is not a valid email address'],
    ['@example.com', '"@example.com" is not a valid email address'],
    ['bob@', '"bob@" is not a valid email address'],
    ['bob smith@x.com', '"bob smith@x.com" is not a valid email address'],
    ['bob@x..com', '"bob@x..com" is not a valid email address'],
    ['bob@.x.com', '"bob@.x.com" is not a valid email address'],
    ['bob@x.com.', '"bob@x.com." is not a valid email address'],
    ['bob@-x.com', '"bob@-x.com" is not a valid email address'],
    ['bob@x-.com', '"bob@x-.com" is not a valid email address'],
    ['bob@x_y.com', '"bob@x_y.com" is not a valid email address'],
    ['"bob"@x.com', '"\\"bob\\"@x.com" is not a valid email address'],
    ['bob@[127.0.0.1]', '"bob@[127.0.0.1]" is not a valid email address'],
    ['bob(comment)@x.com', '"bob(comment)@x.com" is not a valid email address'],
    ['Bob <bob@x.com>', '"Bob <bob@x.com>" is not a valid email address'],
    ['bob@x.com,amy@x.com', '"bob@x.com,amy@x.com" is not a valid email address'],
    [`bob@${'a'.repeat(64)}.com`, `"bob@${'a'.repeat(64)}.com" is not a valid email address`],
    ['bob@-bücher.de', '"bob@-bücher.de" is not a valid email address'],
    ['bob@bücher-.de', '"bob@bücher-.de" is not a valid email address'],
    ['bob@bü cher.de', '"bob@bü cher.de" is not a valid email address'],
    ['bob@bü_cher.de', '"bob@bü_cher.de" is not a valid email address'],
    ['bob@bücher..de', '"bob@bücher..de" is not a valid email address'],
    ['bücher.de', '"bücher.de" is not a valid email address'],
    ['bücher@', '"bücher@" is not a valid email address'],
    ['jörg@x.de', 'local part of "jörg@x.de" contains non-ASCII characters'],
    ['jörg@bücher.de', 'local part of "jörg@bücher.de" contains non-ASCII characters'],
    ['\u212Aate@x.com', `local part of "\u212Aate@x.com" contains non-ASCII characters`],
  ])('refuses %j: %s', (raw, message) => {
    expect(normalizeEmail(raw)).toEqual({ ok: false, message });
  });

  it('quotes the value as given (trimmed, not lower-cased)', () => {
    expect(normalizeEmail('  Bob@@X.com ')).toEqual({ ok: false, message: '"Bob@@X.com" is not a valid email address' });
  });

  it('cuts very long values in messages', () => {
    const raw = `${'x'.repeat(300)}@@x.com`;
    expect(normalizeEmail(raw)).toEqual({ ok: false, message: `"${'x'.repeat(100)}…" is not a valid email address` });
  });

  it.each([
    [42, 'email must be a string, not a number'],
    [true, 'email must be a string, not a boolean'],
    [['a@b.c'], 'email must be a string, not an array'],
    [{ email: 'a@b.c' }, 'email must be a string, not an object'],
  ])('refuses the non-string %j', (raw, message) => {
    expect(normalizeEmail(raw)).toEqual({ ok: false, message });
  });

  describe('length limits', () => {
    it('accepts a local part of exactly 64 characters', () => {
      const local = 'a'.repeat(64);
      expect(normalizeEmail(`${local}@x.com`)).toEqual({ ok: true, email: `${local}@x.com` });
    });

    it.each([
      ['a'.repeat(65)],
      ['A'.repeat(65)],
    ])('refuses a local part of 65 characters (%s…)', (local) => {
      expect(normalizeEmail(`${local}@x.com`)).toEqual({
        ok: false,
        message: `local part of "${local}@x.com" is longer than 64 characters`,
      });
    });

    it('accepts an address of exactly 254 characters', () => {
      const email = `${'a'.repeat(64)}@${domainOf(254 - 65)}`;
      expect(email).toHaveLength(254);
      expect(normalizeEmail(email)).toEqual({ ok: true, email });
    });

    it('refuses an address of 255 characters', () => {
      const email = `${'a'.repeat(64)}@${domainOf(255 - 65)}`;
      expect(email).toHaveLength(255);
      expect(normalizeEmail(email)).toEqual({ ok: false, message: expect.stringMatching(/^".*" is longer than 254 characters$/) });
    });

    it('applies the limit to the punycode form', () => {
      // 'bücher' (6 characters) becomes 'xn--bcher-kva' (13): 7 more.
      const tail = domainOf(254 - 65 - 14); // '.' + 13 characters of punycode
      const unicode = `${'a'.repeat(64)}@xn--bcher-kva.${tail}`;
      expect(unicode).toHaveLength(254);
      expect(normalizeEmail(`${'a'.repeat(64)}@bücher.${tail}`)).toEqual({ ok: true, email: unicode });
      expect(normalizeEmail(`${'a'.repeat(64)}@bücher.${domainOf(tail.length + 1)}`)).toEqual({
        ok: false,
        message: expect.stringContaining('is longer than 254 characters'),
      });
    });

    it('accepts a domain label of 63 characters and refuses 64', () => {
      expect(normalizeEmail(`bob@${'a'.repeat(63)}.com`)).toEqual({ ok: true, email: `bob@${'a'.repeat(63)}.com` });
      expect(normalizeEmail(`bob@${'a'.repeat(64)}.com`).ok).toBe(false);
    });
  });

  it('agrees with the WHATWG regex on 20,000 random ASCII strings', () => {
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 16807) % 2147483647;
      return seed % n;
    };
    const alphabet = "aZ09.-@_+!'`~ \"()[],;:\\<>xX-.";
    const pieces = ['a', 'B', '0', '.', '-', '@', '..', '--', 'ab', 'c-d', 'x.y', '+tag', ' ', '_', '"', '@@', 'e'.repeat(63), 'f'.repeat(64)];
    let valid = 0;
    const disagreements: Array<{ text: string; ok: boolean }> = [];
    for (let run = 0; run < 20_000; run += 1) {
      let text = '';
      const parts = 1 + random(8);
      for (let part = 0; part < parts; part += 1) {
        text += random(2) === 0 ? (alphabet[random(alphabet.length)] ?? '') : (pieces[random(pieces.length)] ?? '');
      }
      if (random(3) === 0) text = `${text}@${['x.com', 'a-b.c', 'localhost', '-x.io', 'x-.io', 'x..y', '9.9', 'A.B'][random(8)]}`;
      const trimmedText = text.trim();
      const lower = trimmedText.toLowerCase();
      const expected =
        trimmedText.length > 0 && WHATWG_EMAIL.test(lower) && lower.indexOf('@') <= 64 && lower.length <= 254;
      const result = normalizeEmail(text);
      if (result.ok !== expected) disagreements.push({ text, ok: result.ok });
      if (expected) valid += 1;
    }
    expect(disagreements).toEqual([]);
    expect(valid).toBeGreaterThan(500);
  });
});
