import type { Readable } from 'node:stream';

/** The port to object storage (S3 deployed, s3rver locally); `S3BlobStore` implements it. */
export interface BlobStore {
  /** Streams an object, optionally from byte `start` on (a ranged GET). */
  read(key: string, range?: { start: number; end?: number }): Promise<Readable>;
  size(key: string): Promise<number | undefined>;
  put(key: string, body: string | Buffer, contentType: string): Promise<void>;
  /** Streams a body of any size (multipart upload); memory stays bounded. */
  upload(key: string, body: Readable, contentType: string): Promise<void>;
  /** Server-side copy of one object (up to 5 GB), no bytes through this process. */
  copy(fromKey: string, toKey: string): Promise<void>;
  delete(keys: string[]): Promise<void>;
  presignPut(key: string, options: { expiresInSeconds: number; contentType: string; contentLength?: number }): Promise<string>;
  presignGet(key: string, options: { expiresInSeconds: number; filename?: string }): Promise<string>;
}
