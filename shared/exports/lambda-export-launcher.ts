import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { ExportInvocation } from './export-run.js';

/** Starts the export function with an asynchronous (`Event`) invocation: Lambda queues and retries it. */
export function lambdaExportLauncher(client: LambdaClient, functionName: string) {
  return async (invocation: ExportInvocation): Promise<void> => {
    await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(invocation)) }));
  };
}
