import type { IncomingMessage } from 'node:http';

/**
 * A local endpoint's request body, or `undefined` when it is larger than `maxBytes`. Past
 * the limit the rest is drained and dropped, so the endpoint can still send its error answer.
 */
export function readBodyUpTo(request: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > maxBytes ? undefined : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}
