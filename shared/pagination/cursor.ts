import { ValidationError } from '../errors/domain-errors.js';

/**
 * Opaque list cursors: base64url JSON of DynamoDB's LastEvaluatedKey, bound to the tenant
 * that asked. A cursor handed to another tenant, edited or pointing outside the partition
 * being listed is refused with a 400 naming `cursor`, never used.
 */
type Key = Record<string, unknown>;

export function encodeCursor(tenantId: string, lastKey: Key | undefined): string | null {
  if (!lastKey) return null;
  return Buffer.from(JSON.stringify({ t: tenantId, k: lastKey }), 'utf8').toString('base64url');
}

export function decodeCursor(tenantId: string, cursor: string | undefined, belongs: (key: Key) => boolean): Key | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const candidate = parsed as { t?: unknown; k?: unknown } | undefined;
  const key = candidate?.k as Key | undefined;
  if (!candidate || candidate.t !== tenantId || typeof key !== 'object' || key === null || !belongs(key)) {
    throw new ValidationError('cursor is not valid for this list', [{ field: 'query.cursor', message: 'not a cursor this list issued' }]);
  }
  return key;
}
