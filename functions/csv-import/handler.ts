import type { Context, S3Event } from 'aws-lambda';
import { lambdaClient } from '../../shared/aws/clients.js';
import { lambdaLauncher } from '../../shared/aws/lambda-launcher.js';
import { csvImportEnvironment, loadEnvironment } from '../../shared/config/function-environments.js';
import { defaultImportRunSettings, runCsvImport, type ContinuationRequest, type ImportRunResult } from '../../shared/imports/csv-import-run.js';
import { decodeS3EventKey, parseUploadKey, type UploadKey } from '../../shared/imports/upload-key.js';
import { logger } from '../../shared/logging/logger.js';
import { flushMetrics } from '../../shared/observability/metrics.js';
import { blobStore, importStore, propertyRegistry, userStore } from '../../shared/wiring/stores.js';

const env = loadEnvironment(csvImportEnvironment);
const settings = { ...defaultImportRunSettings, leaseMs: env.IMPORT_LEASE_SECONDS * 1000 };
const dependencies = {
  imports: importStore(env),
  users: userStore(env),
  registry: propertyRegistry(env),
  blobs: blobStore(env),
};

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

const isContinuation = (event: unknown): event is ContinuationRequest => (event as { kind?: string })?.kind === 'continuation';

/**
 * The CSV importer: an S3 ObjectCreated on `uploads/` starts an import; a continuation
 * (sent by this function to itself when it nears its time limit) resumes one.
 */
export async function handleImportEvent(event: S3Event | ContinuationRequest, context: Context): Promise<ImportRunResult[]> {
  const continueLater = lambdaLauncher<ContinuationRequest>(lambdaClient(), context.functionName);
  const run = (trigger: Parameters<typeof runCsvImport>[1]) => {
    logger.appendKeys({ tenantId: trigger.tenantId });
    return runCsvImport({ ...dependencies, continueLater }, trigger, () => context.getRemainingTimeInMillis(), settings).finally(() =>
      logger.removeKeys(['tenantId']),
    );
  };
  try {
    if (isContinuation(event)) return [await run(event)];
    const results: ImportRunResult[] = [];
    for (const upload of uploadsIn(event)) {
      results.push(await run({ kind: 'upload', tenantId: upload.tenantId, importId: upload.importId, size: upload.size, sequencer: upload.sequencer }));
    }
    return results;
  } finally {
    flushMetrics();
  }
}

export const handler = handleImportEvent;
