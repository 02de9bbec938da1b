import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { attributeMapJson, fromAttributeMap, jsonString, toAttributeMap, UnsupportedValueError } from '../../shared/aws/attribute-value-codec.js';
import { eventItem, eventItemJson } from '../../shared/events/event-keys.js';
import { emailClaimItemJson, profileItem, profileItemJson } from '../../shared/users/dynamo-user-store.js';
import { userKeys } from '../../shared/users/user.js';
import type { UserProfile } from '../../shared/users/user.js';

const awkward = {
  plain: 'abc',
  quote: 'say "hi"',
  backslash: 'C:\\temp',
  control: 'line\nbreak\ttab\u0001',
  accents: 'Zoë Ümlaut ß',
  emoji: 'rocket 🚀',
  loneSurrogate: 'broken \ud800 pair',
  separator: 'a\u2028b',
  empty: '',
  zero: 0,
  negative: -12.5,
  big: Number.MAX_SAFE_INTEGER,
  tiny: 1.5e-7,
  yes: true,
  no: false,
  nothing: null,
  list: ['a', 'b "c"', 3],
  nested: { deeper: { value: 'x' } },
  skipped: undefined,
};

describe('attribute-value codec (the batch path’s own marshaller)', () => {
  it('encodes exactly as the SDK’s marshall does, including strings that need escaping', () => {
    const expected = marshall(awkward, { removeUndefinedValues: true });
    expect(toAttributeMap(awkward)).toEqual(expected);
    expect(JSON.parse(attributeMapJson(awkward))).toEqual(expected);
  });

  it('decodes what the SDK’s marshall wrote, and round-trips', () => {
    const { skipped: _skipped, ...stored } = awkward;
    expect(fromAttributeMap(marshall(awkward, { removeUndefinedValues: true }) as never)).toEqual(unmarshall(marshall(stored)));
    expect(fromAttributeMap(JSON.parse(attributeMapJson(awkward)) as never)).toEqual(stored);
  });

  it('quotes strings like JSON.stringify does', () => {
    const strings = Object.values(awkward).filter((value): value is string => typeof value === 'string');
    expect(strings.map(jsonString)).toEqual(strings.map((value) => JSON.stringify(value)));
  });

  it('refuses values DynamoDB cannot store, naming the attribute', () => {
    expect(() => attributeMapJson({ props: { score: Number.NaN } })).toThrow(UnsupportedValueError);
    expect(() => attributeMapJson({ props: { score: Number.POSITIVE_INFINITY } })).toThrow(/item\.props\.score/);
    expect(() => toAttributeMap({ when: new Date() })).toThrow(/item\.when/);
  });

  it('the specialised profile and event encoders equal the generic ones', () => {
    const profile = { userId: 'u_1', email: 'zoë@example.com', externalId: 'crm "7"', properties: awkward as unknown as UserProfile['properties'], createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-02T00:00:00.000Z' };
    expect(JSON.parse(profileItemJson('acme', profile))).toEqual(marshall(profileItem('acme', profile), { removeUndefinedValues: true }));
    const { externalId: _externalId, ...withoutExternalId } = profile;
    expect(JSON.parse(profileItemJson('acme', withoutExternalId))).toEqual(marshall(profileItem('acme', withoutExternalId), { removeUndefinedValues: true }));
    const event = { eventId: 'e_1', userId: 'u_1', type: 'user.updated', occurredAt: '2026-01-02T00:00:00.000Z', properties: { changed: ['plan', 'say "x"'] }, source: 'csv' };
    expect(JSON.parse(eventItemJson('acme', event))).toEqual(marshall(eventItem('acme', event), { removeUndefinedValues: true }));
  });

  it('escapes every part of a composed key, whatever the part holds', () => {
    // Parts are escaped one by one and joined; the result must equal escaping the joined key.
    const profile = { userId: 'u_"odd"\\\u0001', email: 'a@example.com', properties: { 'na"me': 'v\n' }, createdAt: 'when \ud83d', updatedAt: '\ude80 later', createdRef: 'imp:"2"', lastRef: 'imp:"2"' };
    expect(JSON.parse(profileItemJson('acme', profile))).toEqual(marshall(profileItem('acme', profile), { removeUndefinedValues: true }));
    const event = { eventId: 'e_"1"', userId: 'u_\\x', type: 'odd "type"', occurredAt: '2026-01-0\ud83d\ude80#x', properties: {}, source: 'c"sv' };
    expect(JSON.parse(eventItemJson('acme', event))).toEqual(marshall(eventItem('acme', event), { removeUndefinedValues: true }));
  });

  it('encodes each list by its own contents, also when consecutive lists repeat or are changed afterwards', () => {
    const changed = ['plan', 'visits'];
    const encode = (list: unknown[]) => JSON.parse(attributeMapJson({ changed: list })) as unknown;
    expect(encode(changed)).toEqual(marshall({ changed }));
    expect(encode(['plan', 'visits'])).toEqual(marshall({ changed: ['plan', 'visits'] }));
    changed.push('vip');
    expect(encode(changed)).toEqual(marshall({ changed: ['plan', 'visits', 'vip'] }));
    expect(encode(['plan', 'visit'])).toEqual(marshall({ changed: ['plan', 'visit'] }));
    const nested = { a: 1 };
    expect(encode([nested])).toEqual(marshall({ changed: [{ a: 1 }] }));
    nested.a = 2;
    expect(encode([nested])).toEqual(marshall({ changed: [{ a: 2 }] }));
    expect(encode([])).toEqual(marshall({ changed: [] }));
    expect(() => attributeMapJson({ changed: ['x', Number.NaN] })).toThrow(/item\.changed\[1\]/);
  });

  it('the email lookup item encoder equals the generic one, for plain and awkward addresses', () => {
    for (const [email, userId] of [['ada@example.com', 'u_abc'], ['"odd\\"@example.com', 'u_"x"'], ['zoë\u0001@xn--bcher-kva.example', 'u_\ud800']]) {
      expect(JSON.parse(emailClaimItemJson('acme', email!, userId!))).toEqual(marshall({ ...userKeys.email('acme', email!), email, userId }));
    }
  });
});
