import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DomainError } from '../../shared/errors/domain-errors.js';
import { DynamoTenantStore } from '../../shared/tenants/dynamo-tenant-store.js';
import type { TenantStore } from '../../shared/tenants/tenant.js';
import { createApiKey, createTenant, listTenants, revokeApiKey } from '../../shared/tenants/tenant-service.js';
import { dataDirectory, LOCAL_REGION, localCredentials, readEndpoints } from '../local/local-settings.js';

/**
 * The operator CLI (`npx roster …`, API.md): tenants and API keys. Prints one JSON object
 * on stdout; on failure a message on stderr and a non-zero exit code.
 */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

export class CliError extends Error {
  override readonly name = 'CliError';
}

const USAGE = `usage:
  roster tenants create <tenantId> [--name N]
  roster tenants list
  roster api-keys create <tenantId>
  roster api-keys revoke <tenantId> <keyId>
options:
  --stack NAME   target a deployed stack (AWS credentials of the caller) instead of the local stack`;

/** Opens the tenant store of the local stack (default) or of a deployed stack (`--stack`). */
export type StoreResolver = (stackName: string | undefined, env: NodeJS.ProcessEnv) => Promise<TenantStore>;

export const resolveStore: StoreResolver = async (stackName, env) => {
  if (stackName) {
    const cloudFormation = new CloudFormationClient({});
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const table = Stacks?.[0]?.Outputs?.find((output) => output.OutputKey === 'ControlTableName')?.OutputValue;
    if (!table) throw new CliError(`stack "${stackName}" has no ControlTableName output: is it a Roster stack?`);
    return new DynamoTenantStore(DynamoDBDocumentClient.from(new DynamoDBClient({})), table);
  }
  const dataDir = dataDirectory(env);
  const endpoints = readEndpoints(dataDir);
  if (!endpoints || !isRunning(endpoints.pid)) {
    throw new CliError(`no local stack is running for ROSTER_DATA_DIR=${dataDir}: start it with \`npm start\` (or pass --stack NAME)`);
  }
  const client = new DynamoDBClient({ endpoint: endpoints.dynamodb, region: LOCAL_REGION, credentials: localCredentials });
  return new DynamoTenantStore(DynamoDBDocumentClient.from(client), endpoints.tables.CONTROL_TABLE);
};

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function runRosterCli(argv: string[], io: CliIo, resolve: StoreResolver = resolveStore): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { name: { type: 'string' }, stack: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    const [group, command, ...rest] = positionals;
    if (values.help || !group) {
      io.stderr(USAGE);
      return values.help ? 0 : 2;
    }
    const need = (count: number, shape: string) => {
      if (rest.length !== count) throw new CliError(`expected: roster ${group} ${command} ${shape}\n${USAGE}`);
    };
    let result: unknown;
    if (group === 'tenants' && command === 'create') {
      need(1, '<tenantId> [--name N]');
      result = await createTenant(await resolve(values.stack, io.env), rest[0]!, values.name);
    } else if (group === 'tenants' && command === 'list') {
      need(0, '');
      result = { tenants: await listTenants(await resolve(values.stack, io.env)) };
    } else if (group === 'api-keys' && command === 'create') {
      need(1, '<tenantId>');
      result = await createApiKey(await resolve(values.stack, io.env), rest[0]!);
    } else if (group === 'api-keys' && command === 'revoke') {
      need(2, '<tenantId> <keyId>');
      await revokeApiKey(await resolve(values.stack, io.env), rest[0]!, rest[1]!);
      result = { revoked: true };
    } else {
      throw new CliError(`unknown command "${[group, command].filter(Boolean).join(' ')}"\n${USAGE}`);
    }
    io.stdout(JSON.stringify(result));
    return 0;
  } catch (error) {
    const known = error instanceof DomainError || error instanceof CliError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    io.stderr(`roster: ${known ? (error as Error).message : `failed: ${(error as Error).name}: ${(error as Error).message}`}`);
    return 1;
  }
}
