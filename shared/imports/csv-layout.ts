// How to read an uploaded CSV file: its encoding, the byte order mark to skip and the field delimiter,
// decided from the first bytes of the file (the importer reads at most the first 64 KiB for this).
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';

import type { CsvEncoding } from './csv-encodings.js';
export { csvEncodings, type CsvEncoding } from './csv-encodings.js';
export type CsvDelimiter = ',' | ';' | '\t' | '|';

export interface CsvLayout {
  encoding: CsvEncoding;
  /** bytes of BOM at the start of the file (0, 2 or 3) */
  bomBytes: number;
  delimiter: CsvDelimiter;
}

export const csvDelimiters: readonly CsvDelimiter[] = [',', ';', '\t', '|'];

const boms: readonly { encoding: CsvEncoding; bytes: readonly number[] }[] = [
  { encoding: 'utf-8', bytes: [0xef, 0xbb, 0xbf] },
  // Excel's "Unicode Text" is UTF-16 LE with a BOM.
  { encoding: 'utf-16le', bytes: [0xff, 0xfe] },
  { encoding: 'utf-16be', bytes: [0xfe, 0xff] },
];

function bomAt(head: Buffer): { encoding: CsvEncoding; length: number } | undefined {
  for (const bom of boms) {
    if (head.length >= bom.bytes.length && bom.bytes.every((byte, i) => head[i] === byte)) {
      return { encoding: bom.encoding, length: bom.bytes.length };
    }
  }
  return undefined;
}

/**
 * Whether `head` is valid UTF-8. When `head` is only the beginning of the file, a multi-byte sequence cut by the
 * end of `head` (a lead byte followed by fewer continuation bytes than it announces) is not held against it.
 */
export function isUtf8Head(head: Buffer, headIsWholeFile: boolean): boolean {
  if (isUtf8(head)) return true;
  if (headIsWholeFile) return false;
  // Walk back over at most 3 continuation bytes (10xxxxxx) to the lead byte of the last sequence.
  let lead = head.length - 1;
  while (lead >= 0 && head.length - lead <= 3 && ((head[lead] ?? 0) & 0xc0) === 0x80) lead--;
  if (lead < 0) return false;
  const byte = head[lead] ?? 0;
  const expected = byte >= 0xf0 && byte <= 0xf4 ? 4 : byte >= 0xe0 && byte <= 0xef ? 3 : byte >= 0xc2 && byte <= 0xdf ? 2 : 0;
  // Not a lead byte, or a complete (hence invalid) sequence: the cut does not explain the failure.
  if (expected === 0 || head.length - lead >= expected) return false;
  return isUtf8(head.subarray(0, lead));
}

/**
 * The delimiter of a header line: the most frequent of `,` `;` tab `|` outside quotes, up to the first line break
 * outside quotes. Ties and no candidate at all give `,`.
 */
export function detectDelimiter(text: string): CsvDelimiter {
  const counts = new Map<string, number>(csvDelimiters.map((d) => [d, 0]));
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      quoted = !quoted;
    } else if (!quoted) {
      if (ch === '\n' || ch === '\r') break;
      const count = counts.get(ch);
      if (count !== undefined) counts.set(ch, count + 1);
    }
  }
  let best: CsvDelimiter = ',';
  let bestCount = 0;
  let tie = false;
  for (const d of csvDelimiters) {
    const count = counts.get(d)!;
    if (count > bestCount) {
      best = d;
      bestCount = count;
      tie = false;
    } else if (count === bestCount && count > 0) {
      tie = true;
    }
  }
  return bestCount === 0 || tie ? ',' : best;
}

/**
 * Decides how to read a file from its first bytes (pass at least the first 64 KiB, or the whole file if smaller,
 * and say which).
 *
 * - Encoding: a UTF-8 BOM (EF BB BF) means UTF-8, FF FE UTF-16 LE and FE FF UTF-16 BE (as Excel's "Unicode Text"
 *   writes). Without a BOM, a head that is valid UTF-8 is UTF-8, anything else Windows-1252 (as Excel writes CSV in
 *   Western locales). An explicit `encoding` wins over detection; a BOM is still skipped when it is that encoding's.
 * - Delimiter: see {@link detectDelimiter}, applied to the decoded head.
 */
export function detectCsvLayout(head: Buffer, options: { encoding?: CsvEncoding; headIsWholeFile?: boolean } = {}): CsvLayout {
  const bom = bomAt(head);
  let encoding: CsvEncoding;
  let bomBytes = 0;
  if (options.encoding) {
    encoding = options.encoding;
    if (bom && bom.encoding === encoding) bomBytes = bom.length;
  } else if (bom) {
    encoding = bom.encoding;
    bomBytes = bom.length;
  } else {
    encoding = isUtf8Head(head, options.headIsWholeFile ?? false) ? 'utf-8' : 'windows-1252';
  }
  const text = iconv.decode(head.subarray(bomBytes), encoding, { stripBOM: false });
  return { encoding, bomBytes, delimiter: detectDelimiter(text) };
}
