import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { dataDirectory } from './local-settings.js';
import { startLocalStack } from './local-stack.js';

/**
 * `npm start`: the local stack on http://127.0.0.1:${PORT:-3000}, data under
 * ${ROSTER_DATA_DIR:-.roster}. Ctrl-C / SIGTERM stops every server and child it started.
 */
const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a TCP port number, got "${process.env.PORT}"`);
  process.exit(2);
}
const dataDir = dataDirectory();

try {
  const stack = await startLocalStack({ dataDir, port });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal} received: stopping the local stack`);
    await stack.stop();
    rmSync(join(dataDir, 'endpoints.json'), { force: true });
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  console.log(`data directory: ${dataDir}`);
  console.log(`Roster local stack ready on ${stack.endpoints.api}`);
} catch (error) {
  console.error(`the local stack could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
