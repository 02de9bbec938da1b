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
  const shutdown = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    try {
      console.log(`stopping the local stack (${reason})`);
    } catch {
      // stdout may be gone; stopping matters more than saying so
    }
    await stack.stop();
    rmSync(join(dataDir, 'endpoints.json'), { force: true });
    process.exit();
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGHUP', () => void shutdown('SIGHUP'));
  // Whatever goes wrong later (even a closed stdout: EPIPE), stop the children first.
  process.stdout.on('error', () => void shutdown('stdout closed'));
  process.on('uncaughtException', (error) => {
    process.exitCode = 1;
    void shutdown(`unexpected error: ${error.message}`);
  });
  // `npm start` runs this under `sh -c`, which dies on SIGTERM without passing it on: when
  // the launcher is gone (we are re-parented), stop as if signalled, leaving nothing behind.
  const launcher = process.ppid;
  setInterval(() => {
    if (process.ppid !== launcher) void shutdown('launcher exited');
  }, 500).unref();
  console.log(`data directory: ${dataDir}`);
  console.log(`Roster local stack ready on ${stack.endpoints.api}`);
} catch (error) {
  console.error(`the local stack could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
