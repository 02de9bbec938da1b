import { describe, expect, it } from 'vitest';
import { apiEnvironment, ConfigurationError, loadEnvironment } from '../../shared/config/function-environments.js';

describe('function environments', () => {
  it('name every missing or bad variable at start-up', () => {
    expect(() => loadEnvironment(apiEnvironment, { CONTROL_TABLE: 'control-table', USERS_TABLE: 'x' })).toThrow(ConfigurationError);
    try {
      loadEnvironment(apiEnvironment, { CONTROL_TABLE: 'control-table', USERS_TABLE: 'x' });
    } catch (error) {
      expect((error as Error).message).toMatch(/USERS_TABLE/);
      expect((error as Error).message).toMatch(/EVENTS_TABLE/);
      expect((error as Error).message).toMatch(/DATA_BUCKET/);
    }
  });

  it('apply defaults for optional variables', () => {
    const env = loadEnvironment(apiEnvironment, {
      CONTROL_TABLE: 'control',
      USERS_TABLE: 'users',
      EVENTS_TABLE: 'events',
      DATA_BUCKET: 'bucket',
    });
    expect(env.CORS_ORIGINS).toBe('*');
  });
});
