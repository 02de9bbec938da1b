import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { signJsonPost } from '../../shared/aws/sigv4.js';

type Data = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: Data) => (typeof data === 'string' ? data : data instanceof ArrayBuffer ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength));

class Sha256 {
  private readonly hash;
  constructor(secret?: Data) {
    this.hash = secret ? createHmac('sha256', bytes(secret)) : createHash('sha256');
  }
  update(data: Data) {
    this.hash.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

async function sdkSignature(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, body: string, date: Date, region = 'eu-west-1', extra: Record<string, string> = {}) {
  // applyChecksum off: the x-amz-content-sha256 header is optional outside S3, and we do not send it.
  const signer = new SignatureV4({ service: 'dynamodb', region, credentials, sha256: Sha256, applyChecksum: false });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'https:',
      hostname: `dynamodb.${region}.amazonaws.com`,
      path: '/',
      query: {},
      headers: { host: `dynamodb.${region}.amazonaws.com`, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.BatchWriteItem', ...extra },
      body,
    },
    { signingDate: date },
  );
  return signed.headers;
}

const ours = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, body: string | Uint8Array, date: Date, region = 'eu-west-1', extra: Record<string, string> = {}) =>
  signJsonPost({
    host: `dynamodb.${region}.amazonaws.com`,
    region,
    service: 'dynamodb',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.BatchWriteItem', ...extra },
    body,
    credentials,
    date,
  });

describe('SigV4 for the DynamoDB batch path', () => {
  const body = JSON.stringify({ RequestItems: { users: [{ PutRequest: { Item: { pk: { S: 'acme#U#u_1' }, name: { S: 'Zoë  "Q"\n' } } } }] } });
  const date = new Date('2026-11-22T08:15:30.123Z');

  it('signs exactly as the SDK signer does, with and without a session token', async () => {
    const plain = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
    const session = { ...plain, sessionToken: 'FwoGZXIvYXdzEJr//////////wEaD token' };
    for (const credentials of [plain, session]) {
      const expected = await sdkSignature(credentials, body, date);
      const actual = ours(credentials, body, date);
      expect(actual.authorization).toBe(expected.authorization);
      expect(actual['x-amz-date']).toBe(expected['x-amz-date']);
      expect(actual['x-amz-security-token']).toBe(expected['x-amz-security-token']);
    }
  });

  it('signs the body’s UTF-8 bytes exactly as its text', async () => {
    const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
    const expected = await sdkSignature(credentials, body, date);
    expect(ours(credentials, Buffer.from(body, 'utf8'), date).authorization).toBe(expected.authorization);
  });

  it('canonicalises header values exactly as the SDK signer does (line breaks, runs of spaces and tabs, one edge space)', async () => {
    const values = ['plain', 'one space', ' leading', 'trailing ', '  two leading', 'two  spaces', 'tab\there', ' \t mixed \t ', 'nbsp\u00a0here', '\u2003em space', 'line\r\nbreak', '\nedge\n', ' ', ''];
    for (const sessionToken of [undefined, 'FwoGZXIvYXdzEJr//////////wEaD', ' token\twith  runs\n']) {
      const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', ...(sessionToken ? { sessionToken } : {}) };
      for (const value of values) {
        const extra = { 'x-roster-probe': value };
        const expected = await sdkSignature(credentials, body, date, 'eu-west-1', extra);
        expect({ value, sessionToken, authorization: ours(credentials, body, date, 'eu-west-1', extra).authorization }).toEqual({ value, sessionToken, authorization: expected.authorization });
      }
    }
  });

  it('changes the signature with the body, the day, the region and the key (the signing-key cache is keyed on all of them)', async () => {
    const credentials = { accessKeyId: 'AKID', secretAccessKey: 'secret-1' };
    const base = ours(credentials, body, date).authorization;
    const variants = [
      ours(credentials, `${body} `, date).authorization,
      ours(credentials, body, new Date('2026-11-23T08:15:30Z')).authorization,
      ours(credentials, body, date, 'us-east-1').authorization,
      ours({ ...credentials, secretAccessKey: 'secret-2' }, body, date).authorization,
    ];
    for (const variant of variants) expect(variant).not.toBe(base);
    // And each still agrees with the SDK after the cache switched keys.
    expect(ours(credentials, body, new Date('2026-11-23T08:15:30Z')).authorization).toBe((await sdkSignature(credentials, body, new Date('2026-11-23T08:15:30Z'))).authorization);
    expect(ours(credentials, body, date, 'us-east-1').authorization).toBe((await sdkSignature(credentials, body, date, 'us-east-1')).authorization);
  });
});
