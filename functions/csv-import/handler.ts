import type { S3Event } from 'aws-lambda';
import { csvImportEnvironment, loadEnvironment } from '../../shared/config/function-environments.js';
import { decodeS3EventKey, parseUploadKey, type UploadKey } from '../../shared/imports/upload-key.js';
import { logger } from '../../shared/logging/logger.js';

const env = loadEnvironment(csvImportEnvironment);

export interface UploadNotice extends UploadKey {
  bucket: string;
  key: string;
  size: number;
  sequencer: string;
}

/**
 * Reads the uploads an S3 ObjectCreated event announces. Keys outside
 * `uploads/<tenant>/<importId>.csv` or in another bucket are refused and logged.
 */
export function uploadsIn(event: S3Event): UploadNotice[] {
  const uploads: UploadNotice[] = [];
  for (const record of event.Records ?? []) {
    const bucket = record.s3?.bucket?.name;
    const key = decodeS3EventKey(record.s3?.object?.key ?? '');
    const parsed = parseUploadKey(key);
    if (bucket !== env.DATA_BUCKET || !parsed || !record.eventName?.startsWith('ObjectCreated:')) {
      logger.warn('upload refused: not an import upload of this stack', { bucket, key, eventName: record.eventName });
      continue;
    }
    uploads.push({ ...parsed, bucket, key, size: record.s3.object.size, sequencer: record.s3.object.sequencer });
  }
  return uploads;
}

/**
 * The CSV importer, triggered by S3 ObjectCreated on `uploads/`. The walking skeleton
 * receives and validates the notification; streaming the file into the upsert path is the
 * CSV-import capability (issue 3).
 */
export async function handleUploadEvent(event: S3Event): Promise<{ received: UploadNotice[] }> {
  const received = uploadsIn(event);
  for (const upload of received) {
    logger.appendKeys({ tenantId: upload.tenantId });
    logger.info('upload received', { importId: upload.importId, size: upload.size });
    logger.removeKeys(['tenantId']);
  }
  return { received };
}

export const handler = handleUploadEvent;
