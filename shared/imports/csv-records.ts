// Streams the records of a CSV file (RFC 4180, parsed by csv-parse) with, for every record, the line where it starts
// and the exact byte offset in the file just after it, so that an import can checkpoint after any record and resume
// later with an S3 ranged GET from that byte.
//
// Convention for `source` and `startOffset`: `source` yields the file's bytes starting EXACTLY at byte `startOffset`
// of the file. A fresh read passes `startOffset = layout.bomBytes` and a source that starts just after the BOM (the
// reader never sees a BOM); a resumed read passes a previous record's `endOffset` / `nextLine` and a source that
// starts at that byte. `startOffset < layout.bomBytes` is refused.
//
// How it works. csv-parse scans bytes. Every input is turned into "text bytes" that csv-parse can read and whose
// offsets map back to source offsets cheaply:
//   - UTF-8: the source bytes themselves (text offset = source offset - startOffset).
//   - Windows-1252 / ISO-8859-1: the source bytes themselves, parsed as latin1 (one byte = one character, and every
//     byte csv-parse looks at — quote, delimiters, CR, LF — is ASCII), then the few characters where Windows-1252
//     differs from latin1 (0x80–0x9F, e.g. € = 0x80) are replaced using iconv-lite's own Windows-1252 table.
//   - UTF-16 LE/BE: decoded with iconv-lite's streaming decoder and re-encoded as UTF-8; a text offset maps back to
//     the source by counting UTF-16 code units (2 bytes each) in the UTF-8 bytes, chunk by chunk with a cursor.
// csv-parse runs behind a small subclass of its `Parser` whose `push` hands each record over with `info.bytes`, the
// parser's live count of bytes consumed, which at that moment is the text offset just after the record's line break.
// We call the parser's own `_transform` / `_flush` directly: they parse a whole chunk synchronously, with no
// per-record stream overhead.
//
// Line numbers are counted on the text bytes (LF, CRLF and a lone CR are one line break each; each is one or two
// ASCII bytes in every form of text bytes): a record starts at the line after the line breaks of the blank lines
// before it, and `nextLine` adds the line breaks inside the record (quoted newlines and its own terminator). The
// searches use memchr-style `Buffer.indexOf` with cached positions, so the cost is linear in the file.
//
// Quotes (RFC 4180): a cell that starts with a quote is quoted, a quote inside it is doubled, and its closing quote
// is followed by the delimiter, a line break or the end of the file. A quote inside a cell that does not start with
// one is kept as a character (5'11", 12" screen; csv-parse's relax_quotes), as most CSV readers do.
//
// Malformed records: a quoted cell whose closing quote is followed by something else, a quote that is never closed,
// a record longer than MAX_RECORD_BYTES. csv-parse either fails on them or (relax_quotes) reads on past the stray
// quote; every record that contains a quote is therefore checked against the rules above. A malformed record is
// scanned by the reader itself to decide where it ends: at the first line break after the quoted cell that was open
// when the problem was found (a quote that is never closed swallows at most the rest of its own line), or, outside
// quotes, after the first line break following the problem. The reader emits one error record for it and restarts
// csv-parse on the next byte. Where a record ends depends only on the bytes from its start, so a read resumed at any
// record's `endOffset` yields exactly the same following records, whatever the chunking.
//
// Memory: the reader holds the text from the start of the current record (at most about MAX_RECORD_BYTES plus a
// chunk) and csv-parse its current record; never the file.
import { isUtf8 } from 'node:buffer';
import { Parser, type Options } from 'csv-parse';
import type { TransformCallback } from 'node:stream';
import iconv from 'iconv-lite';
import type { CsvLayout } from './csv-layout.js';

export interface CsvRecord {
  /** 1-based line number in the file where the record starts (header = line 1). A quoted newline inside a cell, CRLF or LF, counts as one line break. */
  line: number;
  fields: string[];
  /** Byte offset in the SOURCE FILE just after this record (after its line break): resuming a read there with `startLine = nextLine` yields exactly the following records. */
  endOffset: number;
  nextLine: number;
  /** Set when the record could not be read (e.g. bytes that are not valid in the file's encoding, a malformed quote): the record is an error for its line; reading continues with the next record. */
  error?: string;
}

export interface CsvReadOptions {
  layout: CsvLayout;
  /** source byte offset where `source` begins: bomBytes for a fresh read, or a previous record's endOffset */
  startOffset: number;
  /** line number of the first line in `source` (1 for a fresh read) */
  startLine: number;
}

/**
 * Longest record, in text bytes (UTF-8 bytes for UTF-16 files), that is read as a record; a longer one is an error
 * record (usually a quote that is never closed). Also bounds the memory the reader holds.
 */
export const MAX_RECORD_BYTES = 1024 * 1024;

export const INVALID_UTF8_MESSAGE =
  'line contains bytes that are not valid UTF-8; upload again with "encoding":"windows-1252" if the file is not UTF-8';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

/**
 * Reads the records of a CSV file: the header is the first record of a fresh read, blank lines are skipped (but
 * counted), fields are strings (the caller checks field counts against the header). See the file comment for the
 * `source` / `startOffset` convention. The reader keeps views of the chunks of the current record: a source must not
 * reuse a chunk's memory after yielding it (Node streams and the AWS SDK do not).
 */
export async function* readCsvRecords(
  source: AsyncIterable<Buffer | Uint8Array>,
  options: CsvReadOptions,
): AsyncGenerator<CsvRecord> {
  const reader = new CsvRecordReader(options);
  for await (const chunk of source) {
    reader.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    const out = reader.take();
    for (let i = 0; i < out.length; i++) yield out[i]!;
  }
  reader.end();
  const out = reader.take();
  for (let i = 0; i < out.length; i++) yield out[i]!;
}

// ---------------------------------------------------------------------------------------------------------------
// Text bytes kept from the start of the current record, as a list of chunks with absolute text offsets.

interface TextChunk {
  buf: Buffer;
  /** text offset of buf[0] */
  start: number;
  /** source offset of buf[0] */
  src: number;
  /** UTF-16 only: every byte is ASCII, so a text byte is exactly 2 source bytes */
  ascii: boolean;
  /** UTF-16 only: a position in the chunk whose source offset is known (mapping cursor) */
  curText: number;
  curSrc: number;
}

class TextWindow {
  chunks: TextChunk[] = [];
  /** text offset just after the last byte appended */
  end = 0;
  private hint = 0;
  // Cached searches for LF and CR: the first occurrence at or after `from`, searched up to `limit` (-1: none).
  private lf = { from: -1, at: -1, limit: -1 };
  private cr = { from: -1, at: -1, limit: -1 };
  private quote = { from: -1, at: -1, limit: -1 };

  append(buf: Buffer, src: number, ascii: boolean): void {
    if (buf.length === 0) return;
    this.chunks.push({ buf, start: this.end, src, ascii, curText: this.end, curSrc: src });
    this.end += buf.length;
  }

  /** Drops the chunks that end at or before `before`. */
  release(before: number): void {
    let n = 0;
    while (n < this.chunks.length - 1 && this.chunks[n]!.start + this.chunks[n]!.buf.length <= before) n++;
    if (n > 0) {
      this.chunks.splice(0, n);
      this.hint = 0;
    }
  }

  /** Index of the chunk holding text offset `p` (the last chunk for `p === end`), or -1. */
  chunkIndex(p: number): number {
    const chunks = this.chunks;
    let i = this.hint < chunks.length ? this.hint : 0;
    let c = chunks[i];
    if (c === undefined) return -1;
    if (p < c.start) {
      while (i > 0 && p < c.start) c = chunks[--i]!;
      if (p < c.start) return -1;
    } else {
      while (i < chunks.length - 1 && p >= c.start + c.buf.length) c = chunks[++i]!;
      if (p > c.start + c.buf.length) return -1;
    }
    this.hint = i;
    return i;
  }

  /** The byte at text offset `p`, or -1 past the end. */
  byteAt(p: number): number {
    if (p >= this.end) return -1;
    const i = this.chunkIndex(p);
    if (i < 0) throw new Error(`text offset ${p} is no longer held`);
    const c = this.chunks[i]!;
    return c.buf[p - c.start]!;
  }

  /** Text offset of the first `byte` at or after `from`, or -1. */
  indexOf(byte: number, from: number): number {
    let i = this.chunkIndex(from);
    if (i < 0) return -1;
    let local = from - this.chunks[i]!.start;
    for (; i < this.chunks.length; i++, local = 0) {
      const c = this.chunks[i]!;
      const at = c.buf.indexOf(byte, local);
      if (at !== -1) return c.start + at;
    }
    return -1;
  }

  private next(cache: { from: number; at: number; limit: number }, byte: number, from: number, to: number): number {
    if (cache.from === -1 || from < cache.from || (cache.at !== -1 && cache.at < from) || (cache.at === -1 && cache.limit < to)) {
      cache.from = from;
      cache.at = this.indexOf(byte, from);
      cache.limit = this.end;
    }
    return cache.at !== -1 && cache.at < to ? cache.at : -1;
  }

  /** Text offset of the first quote in [from, to), or -1. */
  nextQuote(from: number, to: number): number {
    return this.next(this.quote, QUOTE, from, to);
  }

  /** Line breaks (LF, CRLF, lone CR) in [from, to). */
  countBreaks(from: number, to: number): number {
    let n = 0;
    for (let p = this.next(this.lf, LF, from, to); p !== -1; p = this.next(this.lf, LF, p + 1, to)) n++;
    for (let p = this.next(this.cr, CR, from, to); p !== -1; p = this.next(this.cr, CR, p + 1, to)) {
      if (this.byteAt(p + 1) !== LF) n++;
    }
    return n;
  }

  /** The text bytes [from, to) (a view when they lie in one chunk). */
  bytes(from: number, to: number): Buffer {
    const i = this.chunkIndex(from);
    const c = this.chunks[i]!;
    if (to <= c.start + c.buf.length) return c.buf.subarray(from - c.start, to - c.start);
    const parts: Buffer[] = [];
    for (let j = i; j < this.chunks.length; j++) {
      const d = this.chunks[j]!;
      if (d.start >= to) break;
      parts.push(d.buf.subarray(Math.max(0, from - d.start), Math.min(d.buf.length, to - d.start)));
    }
    return Buffer.concat(parts);
  }

  /** Views of the text bytes from `from` to the end. */
  *from(from: number): Generator<Buffer> {
    const i = this.chunkIndex(from);
    if (i < 0) return;
    for (let j = i; j < this.chunks.length; j++) {
      const c = this.chunks[j]!;
      const local = Math.max(0, from - c.start);
      if (local < c.buf.length) yield local === 0 ? c.buf : c.buf.subarray(local);
    }
  }

  /** UTF-16 files: the source offset of text offset `p` (UTF-8 bytes back to UTF-16 code units). */
  utf16Source(p: number): number {
    const i = this.chunkIndex(p);
    const c = this.chunks[i];
    if (c === undefined) throw new Error(`text offset ${p} is no longer held`);
    if (c.ascii) return c.src + 2 * (p - c.start);
    if (p < c.curText) {
      c.curText = c.start;
      c.curSrc = c.src;
    }
    const buf = c.buf;
    let units = 0;
    for (let k = c.curText - c.start, stop = p - c.start; k < stop; k++) {
      const b = buf[k]!;
      // One code unit per UTF-8 sequence (lead bytes), two for a 4-byte sequence (a surrogate pair).
      if ((b & 0xc0) !== 0x80) units++;
      if (b >= 0xf0) units++;
    }
    c.curText = p;
    c.curSrc += 2 * units;
    return c.curSrc;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// csv-parse, capturing records synchronously.

/** Thrown from `push` to stop csv-parse in the middle of a chunk; the parser is dropped after it. */
const STOP = new Error('stop parsing');

/**
 * A csv-parse `Parser` that hands each record, with `info.bytes` (the bytes consumed so far, i.e. the offset just
 * after the record's line break), to `onRecord` as soon as csv-parse has it; `onRecord` returning false stops it.
 */
class CapturingParser extends Parser {
  constructor(
    options: Options,
    private readonly onRecord: (fields: string[], bytes: number) => boolean,
  ) {
    super(options);
  }

  override push(chunk: unknown): boolean {
    if (chunk !== null && !this.onRecord(chunk as string[], this.info.bytes)) throw STOP;
    return true;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The reader.

type Problem = 'closing_quote' | 'unclosed_quote' | 'too_long';

const problemMessages: Record<Problem, string> = {
  closing_quote:
    'malformed quotes: a quote inside a quoted cell must be doubled (""), and the closing quote must be followed by the delimiter or the end of the line',
  unclosed_quote: 'malformed quotes: a quoted cell that starts on this line is not closed (or holds a quote that is not doubled)',
  too_long: `the record is longer than ${MAX_RECORD_BYTES} bytes (is a quote never closed?)`,
};

/** The state of the scan that finds where a malformed record ends (see the file comment). */
interface Scan {
  /** text offset of the record's first byte */
  start: number;
  line: number;
  pos: number;
  quoted: boolean;
  fieldStart: boolean;
  /** text offset just after the first line break inside the open quoted cell (-1: none yet), and the breaks before it */
  quoteBreakEnd: number;
  quoteBreakLines: number;
  /** line breaks passed since `start` */
  lines: number;
  /** the problem found; then the record ends after the next line break */
  problem: Problem | undefined;
  /** csv-parse's error, reported if the scan itself finds nothing wrong */
  parserError: string;
}

/** The ASCII byte value of a delimiter. */
const delimiterByte = (d: string) => d.charCodeAt(0);

const hasReplacementChar = (fields: string[]) => {
  for (let i = 0; i < fields.length; i++) if (fields[i]!.includes('\uFFFD')) return true;
  return false;
};

let windows1252Table: Map<string, string> | undefined;
function windows1252(): Map<string, string> {
  if (!windows1252Table) {
    windows1252Table = new Map();
    for (let b = 0x80; b <= 0x9f; b++) {
      windows1252Table.set(String.fromCharCode(b), iconv.decode(Buffer.from([b]), 'windows-1252'));
    }
  }
  return windows1252Table;
}
const C1 = /[\x80-\x9f]/;
const C1_ALL = /[\x80-\x9f]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The synchronous core of {@link readCsvRecords}: `write` chunks, `end`, and `take` the records read so far. */
export class CsvRecordReader {
  private readonly encoding: CsvLayout['encoding'];
  private readonly delimiter: number;
  private readonly startOffset: number;
  private readonly window = new TextWindow();
  private out: CsvRecord[] = [];
  private final = false;

  /** text offset where the current record's region starts (after the previous record), and its line */
  private recordStart = 0;
  private line: number;

  private parser: CapturingParser | undefined;
  /** how far the parser has been fed (text offset) */
  private fedTo = 0;
  private flushed = false;
  private scan: Scan | undefined;

  /** text offset before which the text is known to be well formed (UTF-8 / UTF-16 files) */
  private suspectEnd = 0;

  // UTF-16 decoding state
  private readonly decoder: iconv.DecoderStream | undefined;
  private heldSurrogate = '';
  private sourceBytes = 0;
  private decodedSource = 0;

  constructor(options: CsvReadOptions) {
    const { layout } = options;
    if (!Number.isInteger(options.startOffset) || options.startOffset < layout.bomBytes) {
      throw new RangeError(`startOffset ${options.startOffset} must be an integer ≥ layout.bomBytes (${layout.bomBytes}): the source starts after the BOM`);
    }
    if (!Number.isInteger(options.startLine) || options.startLine < 1) throw new RangeError(`startLine must be ≥ 1`);
    this.encoding = layout.encoding;
    this.delimiter = delimiterByte(layout.delimiter);
    this.startOffset = options.startOffset;
    this.line = options.startLine;
    this.decodedSource = options.startOffset;
    if (this.encoding === 'utf-16le' || this.encoding === 'utf-16be') {
      this.decoder = iconv.getDecoder(this.encoding, { stripBOM: false });
    }
    this.parser = this.newParser(0);
  }

  /** A parser for the text from offset `base`. */
  private newParser(base: number): CapturingParser {
    const options: Options = {
      bom: false,
      delimiter: String.fromCharCode(this.delimiter),
      encoding: this.encoding === 'windows-1252' || this.encoding === 'iso-8859-1' ? 'latin1' : 'utf8',
      quote: '"',
      escape: '"',
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      // Keeps a quote inside a cell that does not start with a quote (5'11", 12" screen) as a character. It also
      // lets a quoted cell go on after a stray closing quote; such records are caught by `wellQuoted`.
      relax_quotes: true,
      skip_empty_lines: true,
      max_record_size: MAX_RECORD_BYTES,
    };
    return new CapturingParser(options, (fields, bytes) => this.emit(fields, base + bytes));
  }

  /** Records read so far (the caller takes ownership). */
  take(): CsvRecord[] {
    const out = this.out;
    if (out.length > 0) this.out = [];
    return out;
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.sourceBytes += chunk.length;
    if (this.decoder) {
      this.appendDecoded(this.decoder.write(chunk));
    } else {
      const start = this.window.end;
      this.window.append(chunk, this.startOffset + start, false);
      if (this.encoding === 'utf-8' && !isUtf8(chunk)) this.suspectEnd = start + chunk.length;
    }
    this.pump();
  }

  end(): void {
    if (this.final) return;
    if (this.decoder) {
      let tail = this.decoder.end() ?? '';
      // iconv-lite drops a dangling odd byte: keep it visible as U+FFFD (its record becomes an error).
      const odd = this.sourceBytes % 2 === 1;
      if (odd) tail += '\uFFFD';
      this.appendDecoded(tail, true, odd);
    }
    this.final = true;
    this.pump();
  }

  private appendDecoded(decoded: string, last = false, invalid = false): void {
    let text = this.heldSurrogate + decoded;
    this.heldSurrogate = '';
    // Keep a high surrogate at the end for the next chunk, so that a pair is never split between two chunks.
    const lastUnit = text.charCodeAt(text.length - 1);
    if (!last && lastUnit >= 0xd800 && lastUnit <= 0xdbff) {
      this.heldSurrogate = text.slice(-1);
      text = text.slice(0, -1);
    }
    if (text.length === 0) return;
    const buf = Buffer.from(text, 'utf8');
    const ascii = buf.length === text.length;
    const start = this.window.end;
    this.window.append(buf, this.decodedSource, ascii);
    this.decodedSource += 2 * text.length;
    // A lone surrogate becomes U+FFFD in UTF-8: the records of this chunk that contain U+FFFD are errors.
    if (invalid || (!ascii && LONE_SURROGATE.test(text))) this.suspectEnd = start + buf.length;
  }

  /** Source offset of text offset `p`. */
  private sourceOffset(p: number): number {
    if (!this.decoder) return this.startOffset + p;
    return Math.min(this.window.utf16Source(p), this.startOffset + this.sourceBytes);
  }

  // ---- driving csv-parse and the scans ---------------------------------------------------------------------

  private pump(): void {
    for (;;) {
      if (this.scan) {
        const end = this.stepScan(this.scan);
        if (end === undefined) break; // needs more text
        this.scan = undefined;
        this.parser = this.newParser(end);
        this.fedTo = end;
        this.flushed = false;
        continue;
      }
      const parser = this.parser;
      if (!parser) break;
      if (this.fedTo < this.window.end) {
        for (const buf of this.window.from(this.fedTo)) {
          this.fedTo += buf.length;
          this.run((done) => parser._transform(buf, 'buffer' as BufferEncoding, done));
          if (this.scan) break;
        }
        if (this.scan) continue;
      }
      if (this.final && !this.flushed) {
        this.flushed = true;
        this.run((done) => parser._flush(done));
        if (this.scan) continue;
      }
      break;
    }
    if (!this.scan) {
      this.skipBlankLines();
      // Bound the memory: a record that has grown past the limit without ending is an error record (the scan
      // decides where it ends exactly as it would have if csv-parse had failed on it).
      if (this.parser && !this.final && this.window.end - this.recordStart > MAX_RECORD_BYTES + 16) {
        this.fail('');
        this.pump();
        return;
      }
    }
    // Keep the text from the start of the current record; once a scan has found the problem it only looks ahead.
    this.window.release(this.scan?.problem !== undefined ? this.scan.pos : this.recordStart);
  }

  /**
   * Runs one step of the parser (csv-parse's own `_transform` / `_flush`, which parse synchronously and hand every
   * record to `emit`). A csv-parse error, or a record `emit` refuses, starts a scan.
   */
  private run(step: (done: TransformCallback) => void): void {
    let error: Error | null | undefined;
    try {
      step((err) => (error = err));
    } catch (err) {
      if (err === STOP) return; // `emit` has started a scan
      throw err;
    }
    if (error) {
      const code = (error as { code?: unknown }).code;
      this.fail(typeof code === 'string' ? code : error.message);
    }
  }

  /** Advances `recordStart` over blank lines (each one line break). */
  private skipBlankLines(): void {
    const w = this.window;
    for (;;) {
      const b = w.byteAt(this.recordStart);
      if (b === LF) {
        this.recordStart++;
      } else if (b === CR) {
        const next = w.byteAt(this.recordStart + 1);
        if (next === -1 && !this.final) return; // CR LF split across chunks: decide later
        this.recordStart += next === LF ? 2 : 1;
      } else {
        return;
      }
      this.line++;
    }
  }

  /** Emits a record read by csv-parse; returns false when it is too long (a scan has started instead). */
  private emit(fields: string[], end: number): boolean {
    this.skipBlankLines();
    const start = this.recordStart;
    if (end - start > MAX_RECORD_BYTES) {
      this.fail('');
      return false;
    }
    // csv-parse (relax_quotes) reads past a quoted cell's stray closing quote, possibly over several lines: such a
    // record is malformed, and where it ends is for the scan to decide.
    const quote = this.window.nextQuote(start, end);
    if (quote !== -1 && !this.wellQuoted(start, end, quote)) {
      this.fail('');
      return false;
    }
    const line = this.line;
    const nextLine = line + this.window.countBreaks(start, end);
    let error: string | undefined;
    if (this.encoding === 'windows-1252') {
      for (let i = 0; i < fields.length; i++) {
        const field = fields[i]!;
        if (C1.test(field)) {
          const table = windows1252();
          const fixed = field.replace(C1_ALL, (c) => table.get(c) ?? c);
          if (fixed.includes('\uFFFD')) error = 'line contains bytes that are not valid windows-1252';
          fields[i] = fixed;
        }
      }
    } else if (start < this.suspectEnd && hasReplacementChar(fields)) {
      if (this.encoding === 'utf-8') {
        // A U+FFFD from invalid bytes, or one really written in the file (EF BF BD)?
        if (!isUtf8(this.window.bytes(start, end))) error = INVALID_UTF8_MESSAGE;
      } else {
        error = `line contains bytes that are not valid ${this.encoding === 'utf-16le' ? 'UTF-16 LE' : 'UTF-16 BE'}`;
      }
    }
    const record: CsvRecord = { line, fields, endOffset: this.sourceOffset(end), nextLine };
    if (error !== undefined) record.error = error;
    this.out.push(record);
    this.recordStart = end;
    this.line = nextLine;
    return true;
  }

  /**
   * Whether the record [start, end), which contains a quote, follows the quoting rules: a cell that starts with a
   * quote ends with a quote followed by the delimiter, a line break or the end of the file, and a quote inside it is
   * doubled. A quote inside a cell that does not start with one is a plain character.
   */
  private wellQuoted(start: number, end: number, first: number): boolean {
    const w = this.window;
    // The record's bytes: in place in their chunk (the usual case), else copied together.
    const chunk = w.chunks[w.chunkIndex(start)]!;
    const inPlace = end <= chunk.start + chunk.buf.length;
    const buf = inPlace ? chunk.buf : w.bytes(start, end);
    const base = inPlace ? chunk.start : start;
    const delimiter = this.delimiter;
    let p = first - base;
    const stop = end - base;
    // The first quote opens a quoted cell when it starts the record or follows a delimiter.
    let fieldStart = first === start || buf[p - 1] === delimiter;
    let quoted = false;
    for (; p < stop; p++) {
      const b = buf[p]!;
      if (quoted) {
        if (b === QUOTE) {
          const next = p + 1 < stop ? buf[p + 1]! : -1;
          if (next === QUOTE) {
            p++;
          } else if (next === delimiter || next === LF || next === CR || next === -1) {
            quoted = false;
          } else {
            return false;
          }
        }
      } else if (b === QUOTE && fieldStart) {
        quoted = true;
        fieldStart = false;
      } else {
        fieldStart = b === delimiter;
      }
    }
    return !quoted;
  }

  /** csv-parse could not read the record at `recordStart`: drop the parser and scan the record ourselves. */
  private fail(parserError: string): void {
    this.parser = undefined;
    this.skipBlankLines();
    const start = this.recordStart;
    this.scan = {
      start,
      line: this.line,
      pos: start,
      quoted: false,
      fieldStart: true,
      quoteBreakEnd: -1,
      quoteBreakLines: 0,
      lines: 0,
      problem: undefined,
      parserError,
    };
  }

  /**
   * Advances the scan of a malformed record. Returns the text offset where the record ends (after emitting its
   * error record), or undefined when more text is needed.
   */
  private stepScan(s: Scan): number | undefined {
    const w = this.window;
    const delimiter = this.delimiter;
    const limit = s.start + MAX_RECORD_BYTES;
    const done = (end: number, lines: number) => {
      const problem = s.problem ?? (end - s.start > MAX_RECORD_BYTES ? 'too_long' : undefined);
      this.out.push({
        line: s.line,
        fields: [],
        endOffset: this.sourceOffset(end),
        nextLine: s.line + lines,
        error: problem ? problemMessages[problem] : `the record could not be read: ${s.parserError}`,
      });
      this.recordStart = end;
      this.line = s.line + lines;
      return end;
    };
    // A problem inside a quoted cell: the record ends at the first line break after the cell's opening quote. Found
    // past that line break, the problem is most likely a quote that was never closed.
    const quotedProblem = (problem: Problem): number | undefined => {
      s.problem = problem === 'closing_quote' && s.quoteBreakEnd !== -1 ? 'unclosed_quote' : problem;
      s.quoted = false;
      return s.quoteBreakEnd !== -1 ? done(s.quoteBreakEnd, s.quoteBreakLines) : undefined;
    };
    for (;;) {
      if (s.problem === undefined && s.pos >= limit) {
        if (s.quoted) {
          const end = quotedProblem('too_long');
          if (end !== undefined) return end;
        } else {
          s.problem = 'too_long';
        }
      }
      const b = w.byteAt(s.pos);
      if (b === -1) {
        if (!this.final) return undefined;
        if (s.quoted) {
          const end = quotedProblem('unclosed_quote');
          if (end !== undefined) return end;
        }
        return done(s.pos, s.lines);
      }
      if (b === LF || b === CR) {
        let after = s.pos + 1;
        if (b === CR) {
          const next = w.byteAt(after);
          if (next === -1 && !this.final) return undefined;
          if (next === LF) after++;
        }
        s.pos = after;
        s.lines++;
        if (s.quoted) {
          if (s.quoteBreakEnd === -1) {
            s.quoteBreakEnd = after;
            s.quoteBreakLines = s.lines;
          }
          continue;
        }
        // The end of a record: after a problem, or (csv-parse saw a problem we do not) a well-formed one.
        return done(after, s.lines);
      }
      if (s.problem !== undefined) {
        s.pos++;
        continue;
      }
      if (s.quoted) {
        if (b === QUOTE) {
          const next = w.byteAt(s.pos + 1);
          if (next === -1 && !this.final) return undefined;
          if (next === QUOTE) {
            s.pos += 2;
          } else if (next === -1 || next === delimiter || next === LF || next === CR) {
            s.quoted = false;
            s.fieldStart = false;
            s.pos++;
          } else {
            const end = quotedProblem('closing_quote');
            if (end !== undefined) return end;
            s.pos++;
          }
        } else {
          s.pos++;
        }
      } else if (b === QUOTE && s.fieldStart) {
        s.quoted = true;
        s.fieldStart = false;
        s.quoteBreakEnd = -1;
        s.pos++;
      } else {
        // (A quote inside a cell that does not start with one is a plain character, as csv-parse's relax_quotes.)
        s.fieldStart = b === delimiter;
        s.pos++;
      }
    }
  }
}
