import type middy from '@middy/core';
import { DomainError } from '../../shared/errors/domain-errors.js';
import { logger } from '../../shared/logging/logger.js';
import { recordApiError } from '../../shared/observability/metrics.js';
import type { ApiEvent, ApiResult } from './api-event.js';

/**
 * Maps errors to the API's error format `{"error":{"code","message","details"?}}`, in one
 * place. Domain errors and middy's own client errors (unknown route: 404, wrong method:
 * 405) keep their message; anything else is a 500 whose body says only "internal error"
 * while the log keeps the cause.
 */
const codeForStatus: Record<number, string> = {
  400: 'validation_error',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable',
  429: 'rate_limited',
};

interface ExposedHttpError {
  statusCode: number;
  expose?: boolean;
  message: string;
}

const isExposedClientError = (error: unknown): error is ExposedHttpError => {
  const candidate = error as Partial<ExposedHttpError> | null;
  return (
    // Only errors made to be shown (middy's HttpError sets `expose`): an SDK or transport error
    // also carries a 4xx statusCode, but its message is internal (table names, key schemas).
    typeof candidate?.statusCode === 'number' && candidate.statusCode >= 400 && candidate.statusCode < 500 && candidate.expose === true
  );
};

export function errorResponse(status: number, code: string, message: string, details?: unknown): ApiResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error: { code, message, ...(details ? { details } : {}) } }),
  };
}

export function toErrorResponse(error: unknown): ApiResult {
  if (error instanceof DomainError && error.status < 500) {
    logger.info('request refused', { status: error.status, code: error.code });
    return errorResponse(error.status, error.code, error.message, error.details);
  }
  if (isExposedClientError(error)) {
    return errorResponse(error.statusCode, codeForStatus[error.statusCode] ?? 'client_error', error.message);
  }
  logger.error('request failed', error as Error);
  return errorResponse(500, 'internal_error', 'internal error');
}

export const httpErrorHandler = (): middy.MiddlewareObj<ApiEvent, ApiResult> => ({
  onError: async (request) => {
    request.response = { ...request.response, ...toErrorResponse(request.error) };
    recordApiError(request.response.statusCode ?? 500);
  },
});
