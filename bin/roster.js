#!/usr/bin/env node
// The operator CLI (`npx roster …`): runs infra/cli/roster-cli.ts through tsx.
import { register } from 'tsx/esm/api';

register();
const { runRosterCli } = await import('../infra/cli/roster-cli.ts');
process.exitCode = await runRosterCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
});
