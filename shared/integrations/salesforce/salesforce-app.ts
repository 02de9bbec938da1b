import type { SecretStore } from '../../secrets/secret-store.js';

/**
 * Roster's connected app in Salesforce (one per deployment, not per tenant): its consumer
 * key and secret sign the OAuth code exchange and every token refresh. Deployed they are a
 * platform secret in Secrets Manager (`{"clientId","clientSecret"}`, named by the stack
 * parameter); locally `SALESFORCE_CLIENT_ID` / `SALESFORCE_CLIENT_SECRET`.
 */
export interface SalesforceApp {
  clientId: string;
  clientSecret: string;
}

/** Where the app's credentials come from; `undefined` when none are configured (connecting is a clear 422). */
export type SalesforceAppSource = () => Promise<SalesforceApp | undefined>;

export function environmentSalesforceApp(env: { SALESFORCE_CLIENT_ID?: string; SALESFORCE_CLIENT_SECRET?: string }): SalesforceAppSource {
  const app = env.SALESFORCE_CLIENT_ID && env.SALESFORCE_CLIENT_SECRET ? { clientId: env.SALESFORCE_CLIENT_ID, clientSecret: env.SALESFORCE_CLIENT_SECRET } : undefined;
  return async () => app;
}

const CACHE_MS = 5 * 60_000;

/** Reads the platform secret, cached for five minutes per process (a rotated app secret is picked up without a deploy). */
export function secretSalesforceApp(secrets: Pick<SecretStore, 'get'>, secretName: string, now = () => Date.now()): SalesforceAppSource {
  let cached: { app: SalesforceApp | undefined; at: number } | undefined;
  return async () => {
    if (cached && now() - cached.at < CACHE_MS) return cached.app;
    const text = await secrets.get(secretName);
    let app: SalesforceApp | undefined;
    if (text) {
      const parsed = JSON.parse(text) as Partial<SalesforceApp>;
      // A placeholder secret (created by the stack, not yet filled in) counts as not configured.
      if (typeof parsed.clientId === 'string' && parsed.clientId && typeof parsed.clientSecret === 'string' && parsed.clientSecret) {
        app = { clientId: parsed.clientId, clientSecret: parsed.clientSecret };
      }
    }
    cached = { app, at: now() };
    return app;
  };
}
