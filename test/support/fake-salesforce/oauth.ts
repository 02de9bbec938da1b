/**
 * The login server's OAuth 2.0 part: the web-server flow with PKCE (authorize, token), refresh
 * tokens with optional rotation and reuse detection, revocation, and the token -> org mapping the
 * API uses to authenticate requests.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';

/** Authorization codes live 15 minutes on Salesforce. */
const CODE_TTL_MS = 15 * 60_000;

export interface OAuthOptions {
  clientId: string;
  clientSecret: string;
  rotateRefreshTokens: boolean;
  accessTokenTtlMs?: number;
}

/** What the org side tells the OAuth server about an org. */
export interface OrgIdentity {
  id: string;
  /** The org's 15-character 00D id, the prefix of its access tokens. */
  sfOrgId15: string;
  userId: string;
}

/** An OAuth error answer: 400 with {"error","error_description"} JSON. */
export class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
  ) {
    super(description);
  }
}

/** The authorize endpoint refuses requests it cannot redirect back (bad client id / redirect uri). */
export class AuthorizeError extends Error {}

interface CodeGrant {
  orgId: string;
  redirectUri: string;
  codeChallenge: string;
  expiresAt: number;
  used: boolean;
}

/** All tokens from one authorization: a refresh token chain (with rotation) and its access tokens. */
interface TokenFamily {
  orgId: string;
  revoked: boolean;
  accessTokens: Set<string>;
  currentRefreshToken: string;
}

interface AccessToken {
  orgId: string;
  family?: TokenFamily;
  issuedAt: number;
  valid: boolean;
}

export interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  signature: string;
  scope: string;
  instance_url: string;
  id: string;
  token_type: 'Bearer';
  issued_at: string;
}

const base64url = (buf: Buffer) => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const randomToken = (bytes: number) => base64url(randomBytes(bytes));

export class OAuthServer {
  private readonly codes = new Map<string, CodeGrant>();
  private readonly accessTokens = new Map<string, AccessToken>();
  // Every refresh token ever issued -> its family; rotated-out tokens stay here to detect reuse.
  private readonly refreshTokens = new Map<string, TokenFamily>();
  private readonly families: TokenFamily[] = [];

  constructor(
    private readonly options: OAuthOptions,
    private readonly baseUrl: () => string,
    private readonly identity: (orgId: string) => OrgIdentity,
  ) {}

  /**
   * The user approves (or denies) the authorize URL: returns the redirect URL with code and state,
   * or with error=access_denied. Throws AuthorizeError when the request cannot be redirected at all.
   */
  approve(authorizeUrl: string, options: { orgId: string; deny?: boolean }): string {
    const url = new URL(authorizeUrl, this.baseUrl());
    const params = url.searchParams;
    if (params.get('client_id') !== this.options.clientId) throw new AuthorizeError('error=invalid_client_id&error_description=client%20identifier%20invalid');
    const redirectUri = params.get('redirect_uri');
    let redirect: URL;
    try {
      redirect = new URL(redirectUri ?? '');
    } catch {
      throw new AuthorizeError('error=redirect_uri_mismatch&error_description=redirect_uri%20must%20match%20configuration');
    }
    const state = params.get('state');
    const answer = (values: Record<string, string>) => {
      for (const [k, v] of Object.entries(values)) redirect.searchParams.set(k, v);
      if (state !== null) redirect.searchParams.set('state', state);
      return redirect.toString();
    };
    if (params.get('response_type') !== 'code') {
      return answer({ error: 'unsupported_response_type', error_description: 'response type not supported' });
    }
    const challenge = params.get('code_challenge');
    if (!challenge) return answer({ error: 'invalid_request', error_description: 'missing required code challenge' });
    if ((params.get('code_challenge_method') ?? 'S256') !== 'S256') {
      return answer({ error: 'invalid_request', error_description: 'invalid code challenge method' });
    }
    if (options.deny) return answer({ error: 'access_denied', error_description: 'end-user denied authorization' });
    const code = `aPrx${randomToken(48)}`;
    this.codes.set(code, { orgId: options.orgId, redirectUri: redirectUri as string, codeChallenge: challenge, expiresAt: Date.now() + CODE_TTL_MS, used: false });
    return answer({ code });
  }

  /** POST /services/oauth2/token */
  token(form: URLSearchParams): TokenResponse {
    const grantType = form.get('grant_type');
    if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
      throw new OAuthError('unsupported_grant_type', 'grant type not supported');
    }
    this.checkClient(form);
    return grantType === 'authorization_code' ? this.exchangeCode(form) : this.refresh(form);
  }

  private checkClient(form: URLSearchParams): void {
    if (form.get('client_id') !== this.options.clientId) throw new OAuthError('invalid_client_id', 'client identifier invalid');
    if (form.get('client_secret') !== this.options.clientSecret) throw new OAuthError('invalid_client', 'invalid client credentials');
  }

  private exchangeCode(form: URLSearchParams): TokenResponse {
    const code = form.get('code') ?? '';
    const grant = this.codes.get(code);
    if (!grant || grant.used || grant.expiresAt < Date.now()) throw new OAuthError('invalid_grant', 'expired authorization code');
    // A code is single-use even when the exchange fails afterwards.
    grant.used = true;
    if (form.get('redirect_uri') !== grant.redirectUri) throw new OAuthError('invalid_grant', 'authentication failure');
    const verifier = form.get('code_verifier');
    if (!verifier || base64url(createHash('sha256').update(verifier).digest()) !== grant.codeChallenge) {
      throw new OAuthError('invalid_grant', 'invalid code verifier');
    }
    const family: TokenFamily = { orgId: grant.orgId, revoked: false, accessTokens: new Set(), currentRefreshToken: this.newRefreshToken() };
    this.families.push(family);
    this.refreshTokens.set(family.currentRefreshToken, family);
    return this.tokenResponse(family, family.currentRefreshToken);
  }

  private refresh(form: URLSearchParams): TokenResponse {
    const presented = form.get('refresh_token') ?? '';
    const family = this.refreshTokens.get(presented);
    if (!family || family.revoked) throw new OAuthError('invalid_grant', 'expired access/refresh token');
    if (family.currentRefreshToken !== presented) {
      // A rotated-out token came back: someone holds a stolen copy. Revoke the whole family.
      this.revokeFamily(family);
      throw new OAuthError('invalid_grant', 'expired access/refresh token');
    }
    if (!this.options.rotateRefreshTokens) return this.tokenResponse(family, undefined);
    family.currentRefreshToken = this.newRefreshToken();
    this.refreshTokens.set(family.currentRefreshToken, family);
    return this.tokenResponse(family, family.currentRefreshToken);
  }

  private newRefreshToken(): string {
    return `5Aep861${randomToken(60)}`;
  }

  private tokenResponse(family: TokenFamily, refreshToken: string | undefined): TokenResponse {
    const org = this.identity(family.orgId);
    const accessToken = `${org.sfOrgId15}!${randomToken(72)}`;
    const issuedAt = Date.now();
    this.accessTokens.set(accessToken, { orgId: family.orgId, family, issuedAt, valid: true });
    family.accessTokens.add(accessToken);
    const id = `${this.baseUrl()}/id/${org.id}/${org.userId}`;
    // Salesforce signs id + issued_at with the client secret (HMAC-SHA256, base64).
    const signature = createHmac('sha256', this.options.clientSecret).update(`${id}${issuedAt}`).digest('base64');
    return {
      access_token: accessToken,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      signature,
      scope: 'api refresh_token',
      instance_url: this.baseUrl(),
      id,
      token_type: 'Bearer',
      issued_at: String(issuedAt),
    };
  }

  /** POST/GET /services/oauth2/revoke: a refresh token takes its family's access tokens along. */
  revoke(token: string): void {
    const family = this.refreshTokens.get(token);
    if (family) {
      this.revokeFamily(family);
      return;
    }
    const access = this.accessTokens.get(token);
    if (access?.valid) {
      access.valid = false;
      return;
    }
    throw new OAuthError('unsupported_token_type', 'this token type is not supported');
  }

  private revokeFamily(family: TokenFamily): void {
    family.revoked = true;
    for (const token of family.accessTokens) {
      const access = this.accessTokens.get(token);
      if (access) access.valid = false;
    }
  }

  /** The org of a valid access token, or undefined (unknown, revoked, expired). */
  orgOfAccessToken(token: string): string | undefined {
    const access = this.accessTokens.get(token);
    if (!access?.valid) return undefined;
    if (this.options.accessTokenTtlMs !== undefined && Date.now() - access.issuedAt >= this.options.accessTokenTtlMs) return undefined;
    return access.orgId;
  }

  /** Issues tokens without the OAuth dance (for tests that only need an authenticated org). */
  issueTokens(orgId: string): TokenResponse {
    const family: TokenFamily = { orgId, revoked: false, accessTokens: new Set(), currentRefreshToken: this.newRefreshToken() };
    this.families.push(family);
    this.refreshTokens.set(family.currentRefreshToken, family);
    return this.tokenResponse(family, family.currentRefreshToken);
  }

  expireSessions(orgId?: string): void {
    for (const access of this.accessTokens.values()) if (orgId === undefined || access.orgId === orgId) access.valid = false;
  }

  revokeAll(orgId: string): void {
    for (const family of this.families) if (family.orgId === orgId) family.revoked = true;
  }
}
