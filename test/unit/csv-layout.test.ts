import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { detectCsvLayout, detectDelimiter, isUtf8Head } from '../../shared/imports/csv-layout.js';

const utf8Bom = Buffer.from([0xef, 0xbb, 0xbf]);
const utf16 = (text: string, encoding: 'utf-16le' | 'utf-16be') => iconv.encode(text, encoding, { addBOM: true });

describe('detectCsvLayout: encoding', () => {
  it('reads a UTF-8 BOM as UTF-8 with 3 BOM bytes', () => {
    const file = Buffer.concat([utf8Bom, Buffer.from('email,name\r\na@x.io,Zoë\r\n')]);
    expect(detectCsvLayout(file, { headIsWholeFile: true })).toEqual({ encoding: 'utf-8', bomBytes: 3, delimiter: ',' });
  });

  it("reads Excel's Unicode Text (UTF-16 LE with BOM, tab-delimited) and UTF-16 BE with BOM", () => {
    const text = 'email\tname\r\na@x.io\tZoë\r\n';
    const le = utf16(text, 'utf-16le');
    const be = utf16(text, 'utf-16be');
    expect([...le.subarray(0, 2)]).toEqual([0xff, 0xfe]);
    expect([...be.subarray(0, 2)]).toEqual([0xfe, 0xff]);
    expect(detectCsvLayout(le)).toEqual({ encoding: 'utf-16le', bomBytes: 2, delimiter: '\t' });
    expect(detectCsvLayout(be)).toEqual({ encoding: 'utf-16be', bomBytes: 2, delimiter: '\t' });
  });

  it('reads valid UTF-8 without a BOM (ASCII included) as UTF-8', () => {
    expect(detectCsvLayout(Buffer.from('email,name\na@x.io,Zoë\n'), { headIsWholeFile: true })).toEqual({ encoding: 'utf-8', bomBytes: 0, delimiter: ',' });
    expect(detectCsvLayout(Buffer.from('email,name\n'), { headIsWholeFile: true }).encoding).toBe('utf-8');
  });

  it('reads a file that is not valid UTF-8 as Windows-1252 (Excel in Western locales)', () => {
    const file = iconv.encode('email;Straße;Preis\nü@x.io;Köln;5 €\n', 'windows-1252');
    expect(detectCsvLayout(file, { headIsWholeFile: true })).toEqual({ encoding: 'windows-1252', bomBytes: 0, delimiter: ';' });
  });

  it('accepts a multi-byte sequence cut by the end of a head that is not the whole file, not otherwise', () => {
    const full = Buffer.from('email,city\na@x.io,Zürich 😀\n');
    const cutAt = full.indexOf(Buffer.from('😀')) + 2; // 2 of the emoji's 4 bytes
    const head = full.subarray(0, cutAt);
    expect(detectCsvLayout(head, { headIsWholeFile: false }).encoding).toBe('utf-8');
    expect(detectCsvLayout(head).encoding).toBe('utf-8'); // default: a head
    expect(detectCsvLayout(head, { headIsWholeFile: true }).encoding).toBe('windows-1252');
    const cutÜ = full.subarray(0, full.indexOf(Buffer.from('ü')) + 1);
    expect(isUtf8Head(cutÜ, false)).toBe(true);
    expect(isUtf8Head(cutÜ, true)).toBe(false);
  });

  it('does not excuse invalid bytes before the end, nor a complete invalid sequence at the end', () => {
    const invalidInside = Buffer.concat([Buffer.from('email,city\na@x.io,M'), Buffer.from([0xfc]), Buffer.from('nchen\n')]);
    expect(detectCsvLayout(invalidInside).encoding).toBe('windows-1252');
    expect(isUtf8Head(Buffer.from([0x61, 0xe9]), false)).toBe(true); // é in Windows-1252 looks like a cut 3-byte lead…
    expect(isUtf8Head(Buffer.from([0x61, 0xe9, 0x61]), false)).toBe(false); // …but not followed by ASCII
    expect(isUtf8Head(Buffer.from([0x61, 0xc3, 0x28]), false)).toBe(false);
    expect(isUtf8Head(Buffer.from([0x61, 0x80]), false)).toBe(false); // a lone continuation byte
    expect(isUtf8Head(Buffer.from([0x61, 0xf8, 0x80]), false)).toBe(false); // not a lead byte
  });

  it('lets an explicit encoding win, skipping only a BOM of that encoding', () => {
    const utf8Text = Buffer.from('email,name\na@x.io,Zoë\n');
    expect(detectCsvLayout(utf8Text, { encoding: 'windows-1252' })).toEqual({ encoding: 'windows-1252', bomBytes: 0, delimiter: ',' });
    const withBom = Buffer.concat([utf8Bom, utf8Text]);
    expect(detectCsvLayout(withBom, { encoding: 'utf-8' })).toEqual({ encoding: 'utf-8', bomBytes: 3, delimiter: ',' });
    expect(detectCsvLayout(withBom, { encoding: 'iso-8859-1' })).toEqual({ encoding: 'iso-8859-1', bomBytes: 0, delimiter: ',' });
    const le = utf16('a;b\n', 'utf-16le');
    expect(detectCsvLayout(le, { encoding: 'utf-16le' })).toEqual({ encoding: 'utf-16le', bomBytes: 2, delimiter: ';' });
    expect(detectCsvLayout(le, { encoding: 'utf-16be' }).bomBytes).toBe(0);
    // UTF-16 without a BOM only by explicit choice.
    expect(detectCsvLayout(iconv.encode('a|b\n', 'utf-16be'), { encoding: 'utf-16be' })).toEqual({ encoding: 'utf-16be', bomBytes: 0, delimiter: '|' });
  });

  it('reads an empty file as UTF-8 with a comma', () => {
    expect(detectCsvLayout(Buffer.alloc(0), { headIsWholeFile: true })).toEqual({ encoding: 'utf-8', bomBytes: 0, delimiter: ',' });
  });
});

describe('detectCsvLayout: delimiter', () => {
  it.each([
    ['email,first name,last name\n', ','],
    ['email;first name;last name\r\n', ';'],
    ['email\tfirst name\tlast name\n', '\t'],
    ['email|first name|last name\n', '|'],
  ] as const)('finds the delimiter of %j', (header, delimiter) => {
    expect(detectCsvLayout(Buffer.from(header)).delimiter).toBe(delimiter);
  });

  it('counts only the header line, outside quotes', () => {
    expect(detectDelimiter('email;"last, first";"a,b,c"\n1,2,3,4,5,6\n')).toBe(';');
    expect(detectDelimiter('"a;b\n;c;d",x,y\n;;;;;')).toBe(',');
    expect(detectDelimiter('a;b;c\rd,e,f,g,h')).toBe(';');
  });

  it('picks the most frequent, and a comma on ties or when there is none', () => {
    expect(detectDelimiter('a;b;c,d')).toBe(';');
    expect(detectDelimiter('a;b,c')).toBe(',');
    expect(detectDelimiter('a;b|c')).toBe(',');
    expect(detectDelimiter('email')).toBe(',');
    expect(detectDelimiter('')).toBe(',');
  });

  it('decodes the header in the file encoding before counting', () => {
    // In UTF-16 BE, ";" is 00 3B: counting raw bytes would not find it.
    expect(detectCsvLayout(utf16('e-mail;Straße;Ort\n', 'utf-16be')).delimiter).toBe(';');
  });
});
