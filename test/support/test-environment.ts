import { inject } from 'vitest';
import { localSyncEnvironment, sdkEnvironment } from '../../infra/local/local-settings.js';
import { TEST_BUCKET, testTables } from './test-resources.js';

// Runs in every test worker before the test file is imported: the SDK clients the code
// creates (shared/aws/clients.ts) find the run's servers through these variables.
Object.assign(
  process.env,
  sdkEnvironment({
    dynamodb: inject('dynamoEndpoint'),
    s3: inject('s3Endpoint'),
    // Tests that need these start their own emulator and override the variable.
    secretsManager: 'http://127.0.0.1:1',
    scheduler: 'http://127.0.0.1:1',
  }),
  testTables,
  localSyncEnvironment,
  {
    DATA_BUCKET: TEST_BUCKET,
    EXPORT_FUNCTION_NAME: 'roster-export',
    CORS_ORIGINS: '*',
    // Tests reach their embedded PostgreSQL on loopback.
    ROSTER_ALLOW_PRIVATE_HOSTS: 'true',
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    // Metrics (EMF lines) are checked on their own in test/unit/metrics.test.ts; elsewhere they would only be noise.
    POWERTOOLS_METRICS_DISABLED: 'true',
  },
);
