/**
 * The encodings a CSV import may name or be detected as. Its own module, without iconv-lite,
 * so the API function (which validates `encoding`) does not bundle the decoder's code tables.
 */
export const csvEncodings = ['utf-8', 'utf-16le', 'utf-16be', 'windows-1252', 'iso-8859-1'] as const;
export type CsvEncoding = (typeof csvEncodings)[number];
