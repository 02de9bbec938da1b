import { describe, expect, it } from 'vitest';
import type * as domainErrors from '../../shared/errors/domain-errors.js';
import { DomainError, NotFoundError, ValidationError } from '../../shared/errors/domain-errors.js';
import type * as singletons from '../../shared/runtime/process-singleton.js';
import { processSingleton } from '../../shared/runtime/process-singleton.js';

/**
 * A lazily loaded chunk (the API's Salesforce modules) carries its own copy of the shared
 * modules: its domain errors must still map to their HTTP status, and the process must keep
 * one logger, metrics buffer and set of AWS clients.
 */
describe('sharing across bundle copies', () => {
  it('recognises a domain error of another copy of the module as a DomainError, while subclasses keep their own identity', async () => {
    // A second instance of the module, as a separately bundled chunk would have.
    // @ts-expect-error -- the query string makes a second module instance; TypeScript cannot resolve it.
    const copy = (await import('../../shared/errors/domain-errors.js?copy=chunk')) as typeof domainErrors;
    expect(copy.DomainError).not.toBe(DomainError);
    const foreign = new copy.ValidationError('bad', [{ field: 'body.x', message: 'bad' }]);
    expect(foreign instanceof DomainError).toBe(true);
    expect(foreign instanceof ValidationError).toBe(false);
    expect(new NotFoundError('gone') instanceof ValidationError).toBe(false);
    expect(new ValidationError('bad') instanceof ValidationError).toBe(true);
    expect(new Error('plain') instanceof DomainError).toBe(false);
    expect({ status: 400 } instanceof DomainError).toBe(false);
  });

  it('creates a process singleton once, whichever copy asks', async () => {
    // @ts-expect-error -- a second module instance, as above.
    const copy = (await import('../../shared/runtime/process-singleton.js?copy=chunk')) as typeof singletons;
    let created = 0;
    const first = processSingleton('test-singleton', () => ({ id: (created += 1) }));
    const second = copy.processSingleton('test-singleton', () => ({ id: (created += 1) }));
    expect(second).toBe(first);
    expect(created).toBe(1);
  });
});
