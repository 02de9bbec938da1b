import { describe, expect, it } from 'vitest';
import { apiEnvironment, ConfigurationError, loadEnvironment } from '../../shared/config/function-environments.js';

describe('function environments', () => {
  it('name every missing or bad variable at start-up', () => {
    const load = () => loadEnvironment(apiEnvironment, { CONTROL_TABLE: 'control-table', USERS_TABLE: 'x' });
    expect(load).toThrow(ConfigurationError);
    expect(load).toThrow(/USERS_TABLE.*EVENTS_TABLE.*DATA_BUCKET/);
  });

  it('apply defaults for optional variables', () => {
    const env = loadEnvironment(apiEnvironment, {
      CONTROL_TABLE: 'control',
      USERS_TABLE: 'users',
      EVENTS_TABLE: 'events',
      DATA_BUCKET: 'bucket',
      EXPORT_FUNCTION_NAME: 'export-fn',
    });
    expect(env.CORS_ORIGINS).toBe('*');
    expect(env.MAX_UPLOAD_BYTES).toBe(5 * 1024 ** 3);
  });
});
