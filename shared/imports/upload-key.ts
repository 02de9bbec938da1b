/**
 * Uploads live at `uploads/<tenantId>/<importId>.csv`. The object key, and nothing the
 * client sends later, binds an upload to its tenant and import.
 */
const UPLOAD_KEY = /^uploads\/([a-z0-9-]{3,40})\/([A-Za-z0-9_-]{10,64})\.csv$/;

export interface UploadKey {
  tenantId: string;
  importId: string;
}

export const uploadKey = (tenantId: string, importId: string) => `uploads/${tenantId}/${importId}.csv`;

export function parseUploadKey(key: string): UploadKey | undefined {
  const match = UPLOAD_KEY.exec(key);
  return match ? { tenantId: match[1]!, importId: match[2]! } : undefined;
}

/** S3 event records carry keys URL-encoded, with `+` for spaces. */
export function decodeS3EventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}
