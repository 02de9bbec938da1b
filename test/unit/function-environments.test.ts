import { describe, expect, it } from 'vitest';
import { apiEnvironment, ConfigurationError, loadEnvironment, postgresSyncEnvironment } from '../../shared/config/function-environments.js';

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
      POSTGRES_SYNC_FUNCTION_NAME: 'sync-fn',
      POSTGRES_SYNC_FUNCTION_ARN: 'arn:aws:lambda:eu-west-1:123456789012:function:sync-fn',
      SCHEDULE_GROUP: 'roster-syncs',
      SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/scheduler',
      SALESFORCE_SYNC_FUNCTION_NAME: 'sf-fn',
      SALESFORCE_SYNC_FUNCTION_ARN: 'arn:aws:lambda:eu-west-1:123456789012:function:sf-fn',
    });
    expect(env.CORS_ORIGINS).toBe('*');
    // No connected app configured: connecting Salesforce answers a clear 422.
    expect(env.SALESFORCE_APP_SECRET_NAME).toBeUndefined();
    expect(env.MAX_UPLOAD_BYTES).toBe(5 * 1024 ** 3);
    // Deployed, integrations may not reach private addresses unless the stack says so.
    expect(env.ROSTER_ALLOW_PRIVATE_HOSTS).toBe(false);
    expect(env.SCHEDULER_DLQ_ARN).toBeUndefined();
  });

  it('read ROSTER_ALLOW_PRIVATE_HOSTS strictly: only "true" or "false"', () => {
    const base = { CONTROL_TABLE: 'control', USERS_TABLE: 'users', EVENTS_TABLE: 'events' };
    expect(loadEnvironment(postgresSyncEnvironment, { ...base, ROSTER_ALLOW_PRIVATE_HOSTS: 'true' }).ROSTER_ALLOW_PRIVATE_HOSTS).toBe(true);
    expect(loadEnvironment(postgresSyncEnvironment, { ...base, ROSTER_ALLOW_PRIVATE_HOSTS: 'false' }).ROSTER_ALLOW_PRIVATE_HOSTS).toBe(false);
    expect(() => loadEnvironment(postgresSyncEnvironment, { ...base, ROSTER_ALLOW_PRIVATE_HOSTS: 'yes' })).toThrow(/ROSTER_ALLOW_PRIVATE_HOSTS/);
  });

  it('refuse a scheduler role that is not an ARN', () => {
    expect(() =>
      loadEnvironment(apiEnvironment, {
        CONTROL_TABLE: 'control', USERS_TABLE: 'users', EVENTS_TABLE: 'events', DATA_BUCKET: 'bucket', EXPORT_FUNCTION_NAME: 'e',
        POSTGRES_SYNC_FUNCTION_NAME: 's', POSTGRES_SYNC_FUNCTION_ARN: 'arn:aws:lambda:eu-west-1:1:function:s', SCHEDULE_GROUP: 'g', SCHEDULER_ROLE_ARN: 'scheduler-role',
      }),
    ).toThrow(/SCHEDULER_ROLE_ARN: must be an ARN/);
  });
});
