import { spawn } from 'node:child_process';
import { once } from 'node:events';

/**
 * Runs a bench child process (`command args…`, the bench's environment plus `env`) and
 * returns the JSON of the `RESULT <json>` line it prints; fails, with the end of its output,
 * when it exits non-zero or prints none. stderr goes to the bench's own.
 */
export async function runResultChild<T>(name: string, command: string, args: string[], env: Record<string, string>): Promise<T> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const [code] = (await once(child, 'exit')) as [number | null];
  const line = output.split('\n').find((text) => text.startsWith('RESULT '));
  if (code !== 0 || !line) throw new Error(`${name} exited ${code}: ${output.slice(-2000)}`);
  return JSON.parse(line.slice('RESULT '.length)) as T;
}
