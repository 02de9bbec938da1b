import { createHmac, hash } from 'node:crypto';

/**
 * AWS Signature Version 4 for one JSON POST (the DynamoDB batch path). Specialised: one
 * path (`/`), no query, a fixed set of signed headers, and the signing key cached per
 * day, region and secret — so a request costs two SHA-256 digests and one HMAC. A unit test
 * proves the result identical to the SDK's own signer (`@smithy/signature-v4`).
 */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignInput {
  host: string;
  region: string;
  service: string;
  /** Headers to sign besides host and the x-amz-* ones added here; names in lower case. */
  headers: Record<string, string>;
  /** The body as sent: its UTF-8 bytes (encoded once by the caller, also for sending) or its text. */
  body: string | Uint8Array;
  credentials: Credentials;
  date?: Date;
}

const hex = (data: string | Uint8Array) => hash('sha256', data, 'hex');

/** `20261122T081530Z` from `2026-11-22T08:15:30.123Z`, by position (no regex on every request). */
const amzDate = (iso: string) => `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;

// Header values in the SDK signer's canonical form (@smithy/signature-v4): CR and LF become
// spaces, each run of spaces and tabs one space, then one leading and one trailing space go.
// Most values have none of these, and are used as they are.
const NEEDS_CANONICAL_FORM = /[\r\n\t]|  |^ | $/;
const canonicalValue = (value: string) =>
  NEEDS_CANONICAL_FORM.test(value) ? value.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '') : value;

let cachedKey: { id: string; key: Buffer } | undefined;

function signingKey(secret: string, day: string, region: string, service: string): Buffer {
  const id = `${secret}\u0000${day}\u0000${region}\u0000${service}`;
  if (cachedKey?.id !== id) {
    const dateKey = createHmac('sha256', `AWS4${secret}`).update(day).digest();
    const regionKey = createHmac('sha256', dateKey).update(region).digest();
    const serviceKey = createHmac('sha256', regionKey).update(service).digest();
    cachedKey = { id, key: createHmac('sha256', serviceKey).update('aws4_request').digest() };
  }
  return cachedKey.key;
}

/** Returns the headers to send: the given ones plus host, x-amz-date, the token and authorization. */
export function signJsonPost(input: SignInput): Record<string, string> {
  const stamp = amzDate((input.date ?? new Date()).toISOString());
  const day = stamp.slice(0, 8);
  const headers: Record<string, string> = { ...input.headers, host: input.host, 'x-amz-date': stamp };
  if (input.credentials.sessionToken) headers['x-amz-security-token'] = input.credentials.sessionToken;
  const names = Object.keys(headers).sort();
  let canonicalHeaders = '';
  for (const name of names) canonicalHeaders += `${name}:${canonicalValue(headers[name]!)}\n`;
  const signedHeaders = names.join(';');
  const canonicalRequest = `POST\n/\n\n${canonicalHeaders}\n${signedHeaders}\n${hex(input.body)}`;
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${stamp}\n${scope}\n${hex(canonicalRequest)}`;
  const signature = createHmac('sha256', signingKey(input.credentials.secretAccessKey, day, input.region, input.service)).update(stringToSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
