import { mkdirSync } from 'node:fs';
import type { S3Event } from 'aws-lambda';
// s3rver ships no types; the surface used here is small.
// @ts-expect-error -- no declaration file
import S3rver from 's3rver';

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  on(event: 'event', listener: (event: S3Event) => void): void;
}

export interface RunningS3Local {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts s3rver (a real HTTP server speaking the S3 REST API) with its objects under
 * `directory`. `onObjectCreated` receives each ObjectCreated notification shaped as AWS
 * delivers it to Lambda, including the URL-encoded key (s3rver emits it raw).
 */
export async function startS3Local(options: {
  port: number;
  directory: string;
  onObjectCreated?: (event: S3Event) => void;
}): Promise<RunningS3Local> {
  mkdirSync(options.directory, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port,
    directory: options.directory,
    silent: true,
    // Presigned URLs are signed for the real endpoint host; the stand-in does not verify them.
    allowMismatchedSignatures: true,
    vhostBuckets: false,
  }) as S3rverInstance;
  server.on('event', (event) => {
    if (!options.onObjectCreated) return;
    const records = event.Records.filter((record) => record.eventName.startsWith('ObjectCreated:')).map((record) => ({
      ...record,
      s3: { ...record.s3, object: { ...record.s3.object, key: encodeS3EventKey(record.s3.object.key) } },
    }));
    if (records.length > 0) options.onObjectCreated({ Records: records });
  });
  const address = await server.run();
  return { endpoint: `http://127.0.0.1:${address.port}`, stop: () => server.close() };
}

/** S3 event notifications URL-encode object keys, with `+` for spaces. */
export function encodeS3EventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}
