/**
 * Named domain errors. The domain throws these; the HTTP layer maps them to status codes in
 * one place (functions/api/http-error-handler.ts). Messages of errors below 500 are shown to
 * the caller, so they must never carry secrets or internal details.
 */
export interface ErrorDetail {
  /** The field, query parameter or setting at fault, as a dotted path (e.g. `body.mapping.Email`). */
  field: string;
  message: string;
}

const DOMAIN_ERROR = Symbol.for('roster.domain-error');

export abstract class DomainError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  readonly details: ErrorDetail[] | undefined;
  readonly [DOMAIN_ERROR] = true;

  constructor(message: string, details?: ErrorDetail[]) {
    super(message);
    this.details = details;
  }

  /**
   * `error instanceof DomainError` holds for a domain error thrown by a lazily loaded chunk
   * too (its own copy of this class): the HTTP layer maps it to its status, not to a 500.
   * Subclasses keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== DomainError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DOMAIN_ERROR] === true;
  }
}

export class ValidationError extends DomainError {
  override readonly name = 'ValidationError';
  readonly status = 400;
  readonly code = 'validation_error';
}

export class UnauthorizedError extends DomainError {
  override readonly name = 'UnauthorizedError';
  readonly status = 401;
  readonly code = 'unauthorized';
}

export class ForbiddenError extends DomainError {
  override readonly name = 'ForbiddenError';
  readonly status = 403;
  readonly code = 'forbidden';
}

export class NotFoundError extends DomainError {
  override readonly name = 'NotFoundError';
  readonly status = 404;
  readonly code = 'not_found';
}

export class ConflictError extends DomainError {
  override readonly name = 'ConflictError';
  readonly status = 409;
  readonly code = 'conflict';
}

export class PayloadTooLargeError extends DomainError {
  override readonly name = 'PayloadTooLargeError';
  readonly status = 413;
  readonly code = 'payload_too_large';
}

export class UnprocessableError extends DomainError {
  override readonly name = 'UnprocessableError';
  readonly status = 422;
  readonly code = 'unprocessable';
}

export class RateLimitedError extends DomainError {
  override readonly name = 'RateLimitedError';
  readonly status = 429;
  readonly code = 'rate_limited';
}

/** The tenant's own system refused (a PostgreSQL query error, a failed connection): 422 with its message and a specific code. */
export class SourceRejectedError extends DomainError {
  override readonly name = 'SourceRejectedError';
  readonly status = 422;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
