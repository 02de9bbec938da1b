import { OAuth2 } from 'jsforce';
import type { SalesforceApp, SalesforceAppSource } from './salesforce-app.js';
import type { RefreshAnswer, TokenRefresher } from './salesforce-tokens.js';

/**
 * The OAuth 2.0 calls to Salesforce's login server, on jsforce's `OAuth2`: the authorize
 * URL (web-server flow with PKCE), the code exchange, refresh and revoke. Errors keep
 * Salesforce's OAuth error as their `name` (`invalid_grant`, `invalid_client`…).
 */
export interface TokenAnswer extends RefreshAnswer {
  refresh_token?: string;
  instance_url: string;
  /** The identity URL: `https://login.salesforce.com/id/<orgId>/<userId>`. */
  id: string;
}

export class SalesforceAppMissingError extends Error {
  override readonly name = 'SalesforceAppMissingError';
}

export class SalesforceOAuth implements TokenRefresher {
  constructor(private readonly app: SalesforceAppSource) {}

  private async client(loginUrl: string, redirectUri?: string): Promise<OAuth2> {
    const app: SalesforceApp | undefined = await this.app();
    if (!app) throw new SalesforceAppMissingError('no Salesforce connected app is configured');
    return new OAuth2({ loginUrl, clientId: app.clientId, clientSecret: app.clientSecret, ...(redirectUri ? { redirectUri } : {}) });
  }

  /** Whether a connected app is configured (checked before anything is stored for a connect). */
  async configured(): Promise<boolean> {
    return (await this.app()) !== undefined;
  }

  async authorizeUrl(loginUrl: string, redirectUri: string, state: string, codeChallenge: string): Promise<string> {
    const client = await this.client(loginUrl, redirectUri);
    // `prompt=login consent`: the admin chooses the org (and user) every time, never a session left in the browser.
    return client.getAuthorizationUrl({ scope: 'api refresh_token', state, code_challenge: codeChallenge, code_challenge_method: 'S256', prompt: 'login consent' });
  }

  async exchange(loginUrl: string, redirectUri: string, code: string, codeVerifier: string): Promise<TokenAnswer> {
    const client = await this.client(loginUrl, redirectUri);
    return (await client.requestToken(code, { code_verifier: codeVerifier })) as unknown as TokenAnswer;
  }

  async refresh(loginUrl: string, refreshToken: string): Promise<RefreshAnswer> {
    const client = await this.client(loginUrl);
    return (await client.refreshToken(refreshToken)) as unknown as RefreshAnswer;
  }

  async revoke(loginUrl: string, token: string): Promise<void> {
    const client = await this.client(loginUrl);
    await client.revokeToken(token);
  }
}
