import { domainToASCII } from 'node:url';

/**
 * Email normalisation and validation, on the hot path of every import (one call per row).
 *
 * Rules:
 * - The value is trimmed and lower-cased. Missing (`undefined`, `null`, empty or whitespace only)
 *   → `email is missing`. A value that is not a string is refused.
 * - Valid = the WHATWG HTML "valid email address" rule: a local part of
 *   `a-z 0-9 . ! # $ % & ' * + / = ? ^ _ \` { | } ~ -`, an `@`, and a domain of one or more dot-separated
 *   labels of `a-z 0-9 -` (1–63 characters, not starting or ending with `-`). A single-label domain
 *   (`admin@localhost`) is valid, as in WHATWG. Quoted local parts, comments and IP-literal
 *   domains are not.
 * - The local part is at most 64 characters, the whole (stored) address at most 254.
 * - A domain with non-ASCII characters is converted to punycode (`domainToASCII`, UTS #46) and
 *   stored that way: `user@bücher.de` → `user@xn--bcher-kva.de`; the limits apply to the
 *   converted form. A non-ASCII local part is invalid (no SMTPUTF8 mailboxes).
 * - Nothing else is rewritten: dots and `+tags` are kept (`a.b+news@x.com` stays as it is).
 */

export const EMAIL_MAX_LENGTH = 254;
export const EMAIL_LOCAL_PART_MAX_LENGTH = 64;

export type EmailNormalization = { ok: true; email: string } | { ok: false; message: string };

const LOCAL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-";
const ALNUM_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** 1 for the ASCII characters allowed in a local part / in a domain label (besides `-`). */
const LOCAL_OK = charTable(LOCAL_CHARS);
const ALNUM = charTable(ALNUM_CHARS);
const NON_ASCII = /[^\u0000-\u007f]/;
/** A Unicode label starting or ending with `-` (which punycode would otherwise hide). */
const EDGE_HYPHEN = /(?:^|\.)-|-(?:\.|$)/;

const MISSING: EmailNormalization = Object.freeze({ ok: false, message: 'email is missing' });

export function normalizeEmail(raw: unknown): EmailNormalization {
  if (typeof raw !== 'string') {
    if (raw === undefined || raw === null) return MISSING;
    return { ok: false, message: `email must be a string, not ${describeType(raw)}` };
  }
  const given = needsTrim(raw) ? raw.trim() : raw;
  if (given.length === 0) return MISSING;
  switch (scan(given)) {
    case LOWER:
      return checkLengths(given, given);
    case UPPER:
      return checkLengths(given.toLowerCase(), given);
    case NON_ASCII_SEEN:
      return normalizeInternational(given);
    default:
      // The scan stops at the first bad character; a non-ASCII one later still decides the message.
      return NON_ASCII.test(given) ? normalizeInternational(given) : invalid(given);
  }
}

const LOWER = 0;
const UPPER = 1;
const INVALID = 2;
const NON_ASCII_SEEN = 3;

/**
 * The WHATWG rule in one pass over the characters, without a regex or a copy (the test suite
 * checks it against the WHATWG regex): LOWER or UPPER (valid; UPPER when it has A-Z to
 * lower-case), INVALID, or NON_ASCII_SEEN as soon as a non-ASCII character shows up.
 */
function scan(text: string): number {
  const length = text.length;
  let upper = false;
  let index = 0;
  for (; index < length; index += 1) {
    const code = text.charCodeAt(index);
    if (code === 64) break;
    if (code >= 128) return NON_ASCII_SEEN;
    if (LOCAL_OK[code] !== 1) return INVALID;
    if (code <= 90 && code >= 65) upper = true;
  }
  if (index === 0 || index >= length - 1) return INVALID; // no local part, no `@` or no domain
  let labelStart = index + 1;
  for (index = labelStart; index < length; index += 1) {
    const code = text.charCodeAt(index);
    if (code >= 128) return NON_ASCII_SEEN;
    if (ALNUM[code] === 1) {
      if (code <= 90 && code >= 65) upper = true;
    } else if (code === 45) {
      if (index === labelStart) return INVALID;
    } else if (code === 46) {
      if (!labelEnds(text, labelStart, index)) return INVALID;
      labelStart = index + 1;
    } else {
      return INVALID;
    }
  }
  if (!labelEnds(text, labelStart, length)) return INVALID;
  return upper ? UPPER : LOWER;
}

/** A label [start, end) is 1–63 characters and does not end with `-` (its start was checked). */
function labelEnds(text: string, start: number, end: number): boolean {
  return end > start && end - start <= 63 && text.charCodeAt(end - 1) !== 45;
}

function checkLengths(email: string, given: string): EmailNormalization {
  // The local part cannot hold an `@`, so the first one is the separator.
  if (email.indexOf('@') > EMAIL_LOCAL_PART_MAX_LENGTH) {
    return { ok: false, message: `local part of ${quote(given)} is longer than ${EMAIL_LOCAL_PART_MAX_LENGTH} characters` };
  }
  if (email.length > EMAIL_MAX_LENGTH) {
    return { ok: false, message: `${quote(given)} is longer than ${EMAIL_MAX_LENGTH} characters` };
  }
  return { ok: true, email };
}

function normalizeInternational(given: string): EmailNormalization {
  const at = given.lastIndexOf('@');
  if (at <= 0 || at === given.length - 1) return invalid(given);
  const local = given.slice(0, at);
  if (NON_ASCII.test(local)) {
    return { ok: false, message: `local part of ${quote(given)} contains non-ASCII characters` };
  }
  const domain = given.slice(at + 1);
  const ascii = EDGE_HYPHEN.test(domain) ? '' : domainToASCII(domain);
  if (ascii.length === 0) return invalid(given);
  const email = `${local.toLowerCase()}@${ascii}`;
  return scan(email) === LOWER ? checkLengths(email, given) : invalid(given);
}

function invalid(given: string): EmailNormalization {
  return { ok: false, message: `${quote(given)} is not a valid email address` };
}

function charTable(chars: string): Uint8Array {
  const table = new Uint8Array(128);
  for (let index = 0; index < chars.length; index += 1) table[chars.charCodeAt(index)] = 1;
  return table;
}

/** Whether the first or last character may be white space (anything outside printable ASCII). */
function needsTrim(text: string): boolean {
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(text.length - 1);
  return !(first > 32 && first < 127 && last > 32 && last < 127);
}

/** The value as it appears in messages: JSON-quoted, cut after 100 characters. */
function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}

function describeType(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
