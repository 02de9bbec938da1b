import type { LambdaClient } from '@aws-sdk/client-lambda';
import { lambdaLauncher } from '../aws/lambda-launcher.js';
import type { ExportInvocation } from './export-run.js';

/** Starts the export function with an asynchronous (`Event`) invocation: Lambda queues and retries it. */
export const lambdaExportLauncher = (client: LambdaClient, functionName: string) => lambdaLauncher<ExportInvocation>(client, functionName);
