/**
 * A local stand-in for AWS Secrets Manager: an in-process HTTP server speaking the service's
 * AWS JSON 1.1 protocol (POST /, `X-Amz-Target: secretsmanager.<Operation>`), so the real
 * `SecretsManagerClient` (and every adapter built on it) runs over HTTP locally and in tests.
 *
 * Served: CreateSecret, GetSecretValue, PutSecretValue, UpdateSecret, DescribeSecret,
 * DeleteSecret, ListSecrets. Deletion is immediate (no recovery window). Secret values are
 * never logged; the optional persist file holds them in plain JSON (mode 0600), as befits a
 * laptop stand-in.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import * as z from 'zod';
import { readBodyUpTo } from './request-body.js';

export interface LocalSecretsManager {
  endpoint: string;
  close(): Promise<void>;
}

export interface LocalSecretsManagerOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** JSON file: loaded at start when present, rewritten (tmp file + rename) after every change. */
  persistFile?: string;
}

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_SECRET_BYTES = 65_536;
const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const FILE_FORMAT = 'roster-local-secrets-manager/1';

const storedVersionSchema = z.object({
  versionId: z.string(),
  secretString: z.string().optional(),
  /** base64, as on the wire */
  secretBinary: z.string().optional(),
  createdDate: z.number(),
  stages: z.array(z.string()),
});
const storedSecretSchema = z.object({
  name: z.string(),
  arn: z.string(),
  description: z.string().optional(),
  kmsKeyId: z.string().optional(),
  tags: z.array(z.object({ Key: z.string().optional(), Value: z.string().optional() })).optional(),
  createdDate: z.number(),
  lastChangedDate: z.number(),
  versions: z.array(storedVersionSchema),
});
const storedFileSchema = z.object({ format: z.literal(FILE_FORMAT), secrets: z.array(storedSecretSchema) });

type StoredVersion = z.infer<typeof storedVersionSchema>;
type StoredSecret = z.infer<typeof storedSecretSchema>;
type Json = Record<string, unknown>;

/** An error answered in AWS JSON form: HTTP 400 with `{"__type","message"}`. */
class AwsJsonError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const invalidParameter = (message: string) => new AwsJsonError('InvalidParameterException', message);

export async function startLocalSecretsManager(options: LocalSecretsManagerOptions = {}): Promise<LocalSecretsManager> {
  const host = options.host ?? '127.0.0.1';
  const secrets = new Map<string, StoredSecret>();
  if (options.persistFile) {
    for (const secret of await loadSecrets(options.persistFile)) secrets.set(secret.name, secret);
  }

  // Writes are chained so the file always ends with the latest state, and an answer is only
  // sent once the change it reports is on disk.
  let writes: Promise<void> = Promise.resolve();
  const persist = (): Promise<void> => {
    const file = options.persistFile;
    if (!file) return Promise.resolve();
    const snapshot = JSON.stringify({ format: FILE_FORMAT, secrets: [...secrets.values()] }, null, 2);
    const write = writes.then(() => writeAtomically(file, snapshot));
    writes = write.catch(() => undefined);
    return write;
  };

  const find = (secretId: unknown): StoredSecret => {
    const id = requireString(secretId, 'SecretId');
    const secret = lookup(secrets, id);
    if (!secret) throw new AwsJsonError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return secret;
  };

  const operations: Record<string, (input: Json) => Promise<Json>> = {
    async CreateSecret(input) {
      const name = requireString(input.Name, 'Name');
      if (!NAME_PATTERN.test(name)) {
        throw invalidParameter('Invalid name. Must be 1-512 characters: letters, digits and /_+=.@-');
      }
      const description = optionalString(input.Description, 'Description', 2048);
      const kmsKeyId = optionalString(input.KmsKeyId, 'KmsKeyId', 2048);
      const tags = parseTags(input.Tags);
      const value = parseValue(input);
      const token = optionalToken(input.ClientRequestToken);
      if (secrets.has(name)) {
        throw new AwsJsonError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
      }
      const now = Date.now();
      const secret: StoredSecret = {
        name,
        arn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-${randomSuffix()}`,
        description,
        kmsKeyId,
        tags,
        createdDate: now,
        lastChangedDate: now,
        versions: [],
      };
      let versionId: string | undefined;
      if (value) versionId = addVersion(secret, value, token ?? randomUUID(), [CURRENT], now).versionId;
      secrets.set(name, secret);
      await persist();
      return { ARN: secret.arn, Name: secret.name, ...(versionId ? { VersionId: versionId } : {}) };
    },

    async GetSecretValue(input) {
      const secret = find(input.SecretId);
      const versionId = optionalString(input.VersionId, 'VersionId', 64);
      const stage = optionalString(input.VersionStage, 'VersionStage', 256);
      let version: StoredVersion | undefined;
      if (versionId) {
        version = secret.versions.find((candidate) => candidate.versionId === versionId);
        if (version && stage && !version.stages.includes(stage)) {
          throw new AwsJsonError('InvalidRequestException', `Version ${versionId} does not have the staging label ${stage}.`);
        }
      } else {
        const wanted = stage ?? CURRENT;
        version = secret.versions.find((candidate) => candidate.stages.includes(wanted));
      }
      if (!version) {
        throw new AwsJsonError(
          'ResourceNotFoundException',
          versionId
            ? `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`
            : `Secrets Manager can't find the specified secret value for staging label: ${stage ?? CURRENT}`,
        );
      }
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.versionId,
        ...(version.secretString !== undefined ? { SecretString: version.secretString } : {}),
        ...(version.secretBinary !== undefined ? { SecretBinary: version.secretBinary } : {}),
        VersionStages: [...version.stages],
        CreatedDate: epochSeconds(version.createdDate),
      };
    },

    async PutSecretValue(input) {
      const secret = find(input.SecretId);
      const value = parseValue(input);
      if (!value) throw invalidParameter('You must provide either SecretString or SecretBinary.');
      const token = optionalToken(input.ClientRequestToken) ?? randomUUID();
      const stages = input.VersionStages === undefined ? [CURRENT] : parseStages(input.VersionStages);
      const existing = secret.versions.find((version) => version.versionId === token);
      if (existing) {
        // An idempotent retry of the same request changes nothing.
        if (existing.secretString === value.secretString && existing.secretBinary === value.secretBinary) {
          return { ARN: secret.arn, Name: secret.name, VersionId: existing.versionId, VersionStages: [...existing.stages] };
        }
        throw new AwsJsonError(
          'ResourceExistsException',
          `A version with VersionId ${token} already exists and has different contents.`,
        );
      }
      const now = Date.now();
      const version = addVersion(secret, value, token, stages, now);
      secret.lastChangedDate = now;
      await persist();
      return { ARN: secret.arn, Name: secret.name, VersionId: version.versionId, VersionStages: [...version.stages] };
    },

    async UpdateSecret(input) {
      const secret = find(input.SecretId);
      const description = optionalString(input.Description, 'Description', 2048);
      const kmsKeyId = optionalString(input.KmsKeyId, 'KmsKeyId', 2048);
      const value = parseValue(input);
      const token = optionalToken(input.ClientRequestToken) ?? randomUUID();
      if (value && secret.versions.some((version) => version.versionId === token)) {
        throw new AwsJsonError('ResourceExistsException', `A version with VersionId ${token} already exists.`);
      }
      const now = Date.now();
      if (description !== undefined) secret.description = description;
      if (kmsKeyId !== undefined) secret.kmsKeyId = kmsKeyId;
      let versionId: string | undefined;
      if (value) versionId = addVersion(secret, value, token, [CURRENT], now).versionId;
      secret.lastChangedDate = now;
      await persist();
      return { ARN: secret.arn, Name: secret.name, ...(versionId ? { VersionId: versionId } : {}) };
    },

    async DescribeSecret(input) {
      const secret = find(input.SecretId);
      const { SecretVersionsToStages, ...entry } = describe(secret);
      return { ...entry, ...(SecretVersionsToStages ? { VersionIdsToStages: SecretVersionsToStages } : {}) };
    },

    async DeleteSecret(input) {
      const force = input.ForceDeleteWithoutRecovery;
      const window = input.RecoveryWindowInDays;
      if (force !== undefined && typeof force !== 'boolean') throw invalidParameter('ForceDeleteWithoutRecovery must be a boolean.');
      if (window !== undefined && (!Number.isInteger(window) || (window as number) < 7 || (window as number) > 30)) {
        throw invalidParameter('RecoveryWindowInDays must be an integer from 7 to 30.');
      }
      if (force === true && window !== undefined) {
        throw invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
      }
      const secret = find(input.SecretId);
      // The stand-in deletes at once, whatever recovery window was asked for.
      secrets.delete(secret.name);
      await persist();
      return { ARN: secret.arn, Name: secret.name, DeletionDate: epochSeconds(Date.now()) };
    },

    async ListSecrets(input) {
      const maxResults = input.MaxResults;
      if (maxResults !== undefined && (!Number.isInteger(maxResults) || (maxResults as number) < 1 || (maxResults as number) > 100)) {
        throw invalidParameter('MaxResults must be an integer from 1 to 100.');
      }
      const filters = parseFilters(input.Filters);
      const sortBy = input.SortBy === undefined ? 'created-date' : input.SortBy;
      if (!['created-date', 'last-accessed-date', 'last-changed-date', 'name'].includes(sortBy as string)) {
        throw invalidParameter('SortBy must be one of created-date, last-accessed-date, last-changed-date, name.');
      }
      const sortOrder = input.SortOrder === undefined ? 'asc' : input.SortOrder;
      if (sortOrder !== 'asc' && sortOrder !== 'desc') throw invalidParameter('SortOrder must be asc or desc.');
      const offset = decodeNextToken(input.NextToken);

      const matching = [...secrets.values()].filter((secret) => filters.every((filter) => filter(secret)));
      const key = (secret: StoredSecret): number | string =>
        sortBy === 'name' ? secret.name : sortBy === 'last-changed-date' ? secret.lastChangedDate : secret.createdDate;
      matching.sort((a, b) => {
        const ka = key(a);
        const kb = key(b);
        const order = ka < kb ? -1 : ka > kb ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
        return sortOrder === 'desc' ? -order : order;
      });
      const pageSize = (maxResults as number | undefined) ?? 100;
      const page = matching.slice(offset, offset + pageSize);
      const next = offset + page.length;
      return {
        SecretList: page.map(describe),
        ...(next < matching.length ? { NextToken: encodeNextToken(next) } : {}),
      };
    },
  };

  const server = createServer((request, response) => {
    void handle(request, response, operations);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    async close() {
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      await writes;
    },
  };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  operations: Record<string, (input: Json) => Promise<Json>>,
): Promise<void> {
  const requestId = randomUUID();
  const send = (status: number, body: Json) => {
    const payload = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(payload),
      'x-amzn-requestid': requestId,
    });
    response.end(payload);
  };
  try {
    const target = headerValue(request.headers['x-amz-target']);
    const body = await readBody(request);
    if (request.method !== 'POST') throw new AwsJsonError('UnknownOperationException', 'Only POST is supported.');
    const prefix = 'secretsmanager.';
    const operationName = target?.startsWith(prefix) ? target.slice(prefix.length) : undefined;
    const operation = operationName && Object.hasOwn(operations, operationName) ? operations[operationName] : undefined;
    if (!operation) throw new AwsJsonError('UnknownOperationException', `Unknown operation ${target ?? '(no X-Amz-Target)'}.`);
    let input: unknown;
    try {
      input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      throw new AwsJsonError('SerializationException', 'The request body is not valid JSON.');
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new AwsJsonError('SerializationException', 'The request body must be a JSON object.');
    }
    send(200, await operation(input as Json));
  } catch (error) {
    if (error instanceof AwsJsonError) {
      send(error.status, { __type: error.type, message: error.message, Message: error.message });
    } else {
      // Only the error's name and message: never a request body, which may hold a secret.
      console.error(`[local-secrets-manager] internal error: ${error instanceof Error ? error.message : String(error)}`);
      send(500, { __type: 'InternalServiceError', message: 'An internal error occurred.' });
    }
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const body = await readBodyUpTo(request, MAX_BODY_BYTES);
  if (!body) throw new AwsJsonError('InvalidRequestException', 'The request body is too large.', 413);
  return body;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A secret by name, full ARN, or ARN without its random six-character suffix. */
function lookup(secrets: Map<string, StoredSecret>, id: string): StoredSecret | undefined {
  if (id.startsWith('arn:')) {
    for (const secret of secrets.values()) {
      if (secret.arn === id || secret.arn.slice(0, -7) === id) return secret;
    }
    return undefined;
  }
  return secrets.get(id);
}

function describe(secret: StoredSecret): Json & { SecretVersionsToStages?: Record<string, string[]> } {
  const versionsToStages = Object.fromEntries(secret.versions.map((version) => [version.versionId, [...version.stages]]));
  return {
    ARN: secret.arn,
    Name: secret.name,
    ...(secret.description !== undefined ? { Description: secret.description } : {}),
    ...(secret.kmsKeyId !== undefined ? { KmsKeyId: secret.kmsKeyId } : {}),
    RotationEnabled: false,
    LastChangedDate: epochSeconds(secret.lastChangedDate),
    ...(secret.tags && secret.tags.length > 0 ? { Tags: secret.tags } : {}),
    ...(secret.versions.length > 0 ? { SecretVersionsToStages: versionsToStages } : {}),
    CreatedDate: epochSeconds(secret.createdDate),
  };
}

/**
 * Adds a version carrying `stages`, moving each of those labels off the version that held it;
 * when AWSCURRENT moves, the version that lost it becomes AWSPREVIOUS. Versions left with no
 * label are dropped (AWS keeps them as deprecated for a while; nothing here reads them).
 */
function addVersion(
  secret: StoredSecret,
  value: { secretString?: string; secretBinary?: string },
  versionId: string,
  stages: string[],
  now: number,
): StoredVersion {
  const previousCurrent = stages.includes(CURRENT) ? secret.versions.find((version) => version.stages.includes(CURRENT)) : undefined;
  for (const version of secret.versions) version.stages = version.stages.filter((stage) => !stages.includes(stage));
  if (previousCurrent) {
    for (const version of secret.versions) version.stages = version.stages.filter((stage) => stage !== PREVIOUS);
    previousCurrent.stages.push(PREVIOUS);
  }
  const version: StoredVersion = { versionId, ...value, createdDate: now, stages: [...new Set(stages)] };
  secret.versions = [...secret.versions.filter((existing) => existing.stages.length > 0), version];
  return version;
}

function parseValue(input: Json): { secretString?: string; secretBinary?: string } | undefined {
  const { SecretString: secretString, SecretBinary: secretBinary } = input;
  if (secretString !== undefined && secretBinary !== undefined) {
    throw invalidParameter('You can specify either SecretString or SecretBinary, but not both.');
  }
  if (secretString !== undefined) {
    if (typeof secretString !== 'string') throw invalidParameter('SecretString must be a string.');
    if (Buffer.byteLength(secretString) > MAX_SECRET_BYTES) throw invalidParameter('SecretString is larger than 65536 bytes.');
    return { secretString };
  }
  if (secretBinary !== undefined) {
    if (typeof secretBinary !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(secretBinary)) {
      throw invalidParameter('SecretBinary must be base64-encoded.');
    }
    if (Buffer.from(secretBinary, 'base64').length > MAX_SECRET_BYTES) throw invalidParameter('SecretBinary is larger than 65536 bytes.');
    return { secretBinary };
  }
  return undefined;
}

function requireString(value: unknown, field: string): string {
  if (value === undefined || value === null) throw invalidParameter(`${field} is required.`);
  if (typeof value !== 'string' || value.length === 0) throw invalidParameter(`${field} must be a non-empty string.`);
  return value;
}

function optionalString(value: unknown, field: string, maxLength: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidParameter(`${field} must be a string.`);
  if (value.length > maxLength) throw invalidParameter(`${field} must be at most ${maxLength} characters.`);
  return value;
}

function optionalToken(value: unknown): string | undefined {
  const token = optionalString(value, 'ClientRequestToken', 64);
  if (token !== undefined && token.length < 32) throw invalidParameter('ClientRequestToken must be 32 to 64 characters.');
  return token;
}

function parseStages(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 20 || !value.every((stage) => typeof stage === 'string' && stage.length > 0)) {
    throw invalidParameter('VersionStages must be a list of 1 to 20 non-empty strings.');
  }
  return value as string[];
}

function parseTags(value: unknown): StoredSecret['tags'] {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalidParameter('Tags must be a list.');
  return value.map((tag: unknown) => {
    if (typeof tag !== 'object' || tag === null) throw invalidParameter('Each tag must be an object with Key and Value.');
    const { Key: key, Value: tagValue } = tag as Json;
    if (typeof key !== 'string' || (tagValue !== undefined && typeof tagValue !== 'string')) {
      throw invalidParameter('Each tag needs a string Key and an optional string Value.');
    }
    return tagValue === undefined ? { Key: key } : { Key: key, Value: tagValue };
  });
}

/**
 * ListSecrets filters: keys `name`, `description`, `tag-key`, `tag-value`, `all`; each value
 * is a prefix (a leading `!` negates it); the values of one filter are OR-ed, filters AND-ed.
 */
function parseFilters(value: unknown): Array<(secret: StoredSecret) => boolean> {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > 10) throw invalidParameter('Filters must be a list of at most 10 filters.');
  return value.map((filter: unknown) => {
    const { Key: key, Values: values } = (filter ?? {}) as Json;
    if (typeof key !== 'string') throw invalidParameter('Each filter needs a Key.');
    if (!Array.isArray(values) || values.length === 0 || !values.every((item) => typeof item === 'string' && item.length > 0)) {
      throw invalidParameter(`Filter ${key} needs a list of non-empty Values.`);
    }
    const fields: Record<string, (secret: StoredSecret) => string[]> = {
      name: (secret) => [secret.name],
      description: (secret) => (secret.description ? [secret.description] : []),
      'tag-key': (secret) => (secret.tags ?? []).map((tag) => tag.Key ?? ''),
      'tag-value': (secret) => (secret.tags ?? []).map((tag) => tag.Value ?? ''),
      all: (secret) => [
        secret.name,
        ...(secret.description ? [secret.description] : []),
        ...(secret.tags ?? []).flatMap((tag) => [tag.Key ?? '', tag.Value ?? '']),
      ],
    };
    const field = fields[key];
    if (!field) throw invalidParameter(`Filter key ${key} is not supported by the local stand-in.`);
    const caseInsensitive = key === 'description' || key === 'all';
    const fold = (text: string) => (caseInsensitive ? text.toLowerCase() : text);
    return (secret: StoredSecret) => {
      const candidates = field(secret).map(fold);
      return (values as string[]).some((raw) => {
        const negated = raw.startsWith('!');
        const prefix = fold(negated ? raw.slice(1) : raw);
        const hit = candidates.some((candidate) => candidate.startsWith(prefix));
        return negated ? !hit : hit;
      });
    };
  });
}

function encodeNextToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64url');
}

function decodeNextToken(value: unknown): number {
  if (value === undefined || value === null) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(String(value), 'base64url').toString('utf8')) as { offset?: unknown };
    if (typeof parsed.offset === 'number' && Number.isInteger(parsed.offset) && parsed.offset >= 0) return parsed.offset;
  } catch {
    // falls through to the error below
  }
  throw new AwsJsonError('InvalidNextTokenException', 'The NextToken value is invalid.');
}

function epochSeconds(ms: number): number {
  return ms / 1000;
}

function randomSuffix(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(6)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

async function loadSecrets(file: string): Promise<StoredSecret[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON; move it away to start with no secrets`);
  }
  const parsed = storedFileSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${file} is not a local Secrets Manager state file`);
  return parsed.data.secrets;
}

async function writeAtomically(file: string, contents: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, contents, { mode: 0o600 });
  await rename(temporary, file);
}
