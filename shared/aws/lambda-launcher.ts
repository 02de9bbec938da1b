import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';

/** Starts a function with an asynchronous (`Event`) invocation: Lambda queues it and retries it on failure. */
export function lambdaLauncher<T extends object>(client: LambdaClient, functionName: string) {
  return async (payload: T): Promise<void> => {
    await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) }));
  };
}
