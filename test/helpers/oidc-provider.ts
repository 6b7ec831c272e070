/**
 * A minimal OpenID provider for tests, on 127.0.0.1 (port 0): a real HTTP server with discovery, an
 * authorization endpoint that logs the user in at once (no login page), a token endpoint for the
 * authorization-code grant with PKCE (S256 only), a JWKS, userinfo and end-session. Access and ID tokens
 * are RS256 JWTs signed with a key pair made at start-up. Browser-facing JSON endpoints send CORS headers
 * for the configured origins, as a browser app (OHIF with oidc-client-ts) fetches them itself.
 *
 * Also the signing key shared with the smaller JWKS-only issuer of the unit tests (createSigningKey).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

// ---------------------------------------------------------------------------------------------------
// Signing keys

export interface JwtOptions {
  issuer: string;
  audience: string | string[];
  subject: string;
  /** Further claims (scope, nonce, ...); iss, aud, sub, iat and exp come from the options. */
  claims?: JWTPayload;
  /** Seconds from now; negative for an already expired token; null for no exp claim. Default 300. */
  expiresIn?: number | null;
  /** JOSE `typ` header, e.g. `at+jwt` for access tokens (RFC 9068) or `JWT`. Default `JWT`. */
  typ?: string;
  /** Sign with a key pair the JWKS does not hold (under the published kid unless kid is given). */
  foreignKey?: boolean;
  kid?: string;
}

export interface SigningKey {
  alg: 'RS256' | 'ES256';
  kid: string;
  /** The JWKS document with the public key. */
  jwks(): { keys: JWK[] };
  sign(options: JwtOptions): Promise<string>;
  /** Verifies a token this key signed (signature, `exp`, and `iss` when given); throws otherwise. */
  verify(token: string, issuer?: string): Promise<JWTPayload>;
}

/** A key pair for signing test JWTs, and its public JWK under `kid`. */
export async function createSigningKey(alg: 'RS256' | 'ES256', kid = 'test-key-1'): Promise<SigningKey> {
  const published = await generateKeyPair(alg);
  const jwk: JWK = { ...(await exportJWK(published.publicKey)), kid, alg, use: 'sig' };
  let foreign: Promise<CryptoKey> | undefined;
  return {
    alg,
    kid,
    jwks: () => ({ keys: [jwk] }),
    async sign(options) {
      const now = Math.floor(Date.now() / 1000);
      const expiresIn = options.expiresIn === undefined ? 300 : options.expiresIn;
      // An expired token was also issued in the past.
      const issuedAt = expiresIn !== null && expiresIn < 0 ? now + expiresIn - 300 : now - 5;
      const jwt = new SignJWT({ ...options.claims })
        .setProtectedHeader({ alg, kid: options.kid ?? kid, typ: options.typ ?? 'JWT' })
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setSubject(options.subject)
        .setIssuedAt(issuedAt);
      if (expiresIn !== null) jwt.setExpirationTime(now + expiresIn);
      let key = published.privateKey;
      if (options.foreignKey) {
        foreign ??= generateKeyPair(alg).then((pair) => pair.privateKey);
        key = await foreign;
      }
      return jwt.sign(key);
    },
    async verify(token, issuer) {
      const { payload } = await jwtVerify(token, published.publicKey, {
        algorithms: [alg],
        ...(issuer ? { issuer } : {}),
      });
      return payload;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The provider

export interface OidcProviderOptions {
  /** `aud` of the access tokens: the resource server's (gateway's) configured audience. */
  audience: string;
  /** The one registered client; default `ohif-viewer`. */
  clientId?: string;
  /** Registered redirect URIs (exact match); default any URL on one of corsOrigins. */
  redirectUris?: string[];
  /** Browser origins allowed to read the discovery, token, JWKS and userinfo answers. */
  corsOrigins?: string[];
  /** The user every authorization logs in; default `oidc-test-user`. */
  subject?: string;
  /** Granted scopes, in the access token's `scope` claim; default: the scopes the client asked for. */
  scopes?: string[];
  /** Lifetime of issued tokens in seconds (`expires_in`, `exp`); negative = already expired. Default 3600. */
  expiresIn?: number;
}

/** What the provider did, for assertions and failure messages. */
export interface OidcProviderEvent {
  at: number;
  kind: 'authorize' | 'token' | 'userinfo' | 'end-session';
  ok: boolean;
  /** Why a request was refused, or a summary of what was granted. */
  detail: string;
  clientId?: string;
  /** `S256` when the authorization request carried a PKCE challenge. */
  codeChallengeMethod?: string;
  /** For token: whether the code_verifier matched the challenge of the code. */
  pkceVerified?: boolean;
  nonce?: string;
}

export interface OidcProviderRequest {
  method: string;
  path: string;
  origin: string;
  status: number;
}

export interface TestOidcProvider {
  /** The provider's origin, e.g. http://127.0.0.1:41236; also the `iss` of its tokens. */
  issuer: string;
  jwksUri: string;
  discoveryUrl: string;
  audience: string;
  clientId: string;
  /** Changes take effect for the next token request (scopes, lifetime). */
  grant: { scopes?: string[]; expiresIn: number };
  /** Every access token issued at the token endpoint, in order. */
  issuedAccessTokens: string[];
  events: OidcProviderEvent[];
  requests: OidcProviderRequest[];
  /** An access token as the token endpoint would issue it, without a login (direct API calls). */
  issueAccessToken(options?: { scopes?: string[]; expiresIn?: number; subject?: string }): Promise<string>;
  key: SigningKey;
  close(): Promise<void>;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce: string | undefined;
  scope: string;
  created: number;
}

const CODE_LIFETIME_MS = 60_000;
const PKCE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

async function readBody(request: IncomingMessage, limit = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startOidcProvider(options: OidcProviderOptions): Promise<TestOidcProvider> {
  const key = await createSigningKey('RS256', 'oidc-provider-key-1');
  const clientId = options.clientId ?? 'ohif-viewer';
  const subject = options.subject ?? 'oidc-test-user';
  const corsOrigins = new Set(options.corsOrigins ?? []);
  const codes = new Map<string, PendingCode>();
  const events: OidcProviderEvent[] = [];
  const requests: OidcProviderRequest[] = [];
  const issuedAccessTokens: string[] = [];
  const grant: TestOidcProvider['grant'] = { scopes: options.scopes, expiresIn: options.expiresIn ?? 3600 };
  let issuer = '';

  const redirectAllowed = (uri: string): boolean => {
    if (options.redirectUris) return options.redirectUris.includes(uri);
    try {
      const url = new URL(uri);
      return corsOrigins.has(url.origin) && url.hash === '';
    } catch {
      return false;
    }
  };

  const accessToken = (scope: string, expiresIn: number, sub = subject): Promise<string> =>
    key.sign({
      issuer,
      audience: options.audience,
      subject: sub,
      typ: 'at+jwt',
      expiresIn,
      claims: { scope, client_id: clientId, jti: randomBytes(12).toString('hex') },
    });

  const json = (
    response: ServerResponse,
    status: number,
    body: unknown,
    extra: Record<string, string> = {},
  ) => {
    const text = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      ...extra,
    });
    response.end(text);
  };

  /** CORS for an allowed origin; true when the request's origin is one. */
  const cors = (request: IncomingMessage, response: ServerResponse): boolean => {
    const origin = request.headers.origin;
    if (!origin || !corsOrigins.has(origin)) return false;
    response.setHeader('access-control-allow-origin', origin);
    response.setHeader('vary', 'Origin');
    response.setHeader('access-control-expose-headers', 'WWW-Authenticate');
    return true;
  };

  const authorize = (url: URL, response: ServerResponse): void => {
    const q = url.searchParams;
    const client = q.get('client_id') ?? '';
    const redirectUri = q.get('redirect_uri') ?? '';
    // Errors about the client or its redirect URI are shown, never redirected (RFC 6749 4.1.2.1).
    if (client !== clientId || !redirectAllowed(redirectUri)) {
      const detail =
        client !== clientId
          ? `unknown client_id ${JSON.stringify(client)}`
          : `redirect_uri not registered: ${redirectUri}`;
      events.push({ at: Date.now(), kind: 'authorize', ok: false, detail, clientId: client });
      response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(detail);
      return;
    }
    const back = new URL(redirectUri);
    const state = q.get('state');
    if (state !== null) back.searchParams.set('state', state);
    const method = q.get('code_challenge_method') ?? undefined;
    const challenge = q.get('code_challenge') ?? '';
    const scope = q.get('scope') ?? '';
    let error: string | undefined;
    if (q.get('response_type') !== 'code') error = `unsupported response_type ${q.get('response_type')}`;
    else if (method !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(challenge))
      error = `PKCE with code_challenge_method S256 is required (got ${method ?? 'none'})`;
    else if (!scope.split(' ').includes('openid')) error = 'the openid scope is required';
    if (error) {
      events.push({ at: Date.now(), kind: 'authorize', ok: false, detail: error, clientId: client });
      back.searchParams.set(
        'error',
        error.startsWith('unsupported') ? 'unsupported_response_type' : 'invalid_request',
      );
      back.searchParams.set('error_description', error);
      response.writeHead(302, { location: back.href }).end();
      return;
    }
    const code = randomBytes(24).toString('base64url');
    const nonce = q.get('nonce') ?? undefined;
    codes.set(code, {
      clientId: client,
      redirectUri,
      codeChallenge: challenge,
      nonce,
      scope,
      created: Date.now(),
    });
    events.push({
      at: Date.now(),
      kind: 'authorize',
      ok: true,
      detail: `code issued for scope "${scope}"`,
      clientId: client,
      codeChallengeMethod: method,
      ...(nonce ? { nonce } : {}),
    });
    back.searchParams.set('code', code);
    response.writeHead(302, { location: back.href, 'cache-control': 'no-store' }).end();
  };

  const token = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const form = new URLSearchParams(await readBody(request));
    const refuse = (error: string, detail: string, extra: Partial<OidcProviderEvent> = {}) => {
      events.push({ at: Date.now(), kind: 'token', ok: false, detail, ...extra });
      json(response, 400, { error, error_description: detail });
    };
    if (form.get('grant_type') !== 'authorization_code') {
      refuse('unsupported_grant_type', `grant_type ${form.get('grant_type')} is not supported`);
      return;
    }
    const code = form.get('code') ?? '';
    const pending = codes.get(code);
    // A code is used once, even when the exchange fails.
    codes.delete(code);
    if (!pending || Date.now() - pending.created > CODE_LIFETIME_MS) {
      refuse('invalid_grant', 'unknown, used or expired authorization code');
      return;
    }
    const client = form.get('client_id') ?? '';
    if (client !== pending.clientId) {
      refuse('invalid_client', `client_id ${JSON.stringify(client)} is not the one the code was issued to`);
      return;
    }
    if (form.get('redirect_uri') !== pending.redirectUri) {
      refuse('invalid_grant', 'redirect_uri differs from the authorization request');
      return;
    }
    const verifier = form.get('code_verifier') ?? '';
    const pkceVerified = PKCE_VERIFIER.test(verifier) && s256(verifier) === pending.codeChallenge;
    if (!pkceVerified) {
      refuse('invalid_grant', 'code_verifier does not match the code_challenge (PKCE S256)', {
        clientId: client,
        pkceVerified,
      });
      return;
    }
    const scope = grant.scopes ? grant.scopes.join(' ') : pending.scope;
    const expiresIn = grant.expiresIn;
    const access = await accessToken(scope, expiresIn);
    const idToken = await key.sign({
      issuer,
      audience: clientId,
      subject,
      expiresIn,
      claims: {
        ...(pending.nonce ? { nonce: pending.nonce } : {}),
        auth_time: Math.floor(pending.created / 1000),
        name: 'OIDC Test User',
        preferred_username: subject,
      },
    });
    issuedAccessTokens.push(access);
    events.push({
      at: Date.now(),
      kind: 'token',
      ok: true,
      detail: `tokens issued for scope "${scope}", expires_in ${expiresIn}`,
      clientId: client,
      pkceVerified,
      ...(pending.nonce ? { nonce: pending.nonce } : {}),
    });
    json(response, 200, {
      access_token: access,
      id_token: idToken,
      token_type: 'Bearer',
      expires_in: expiresIn,
      scope,
    });
  };

  const userinfo = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const match = /^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '');
    try {
      if (!match) throw new Error('no bearer token');
      const payload = await key.verify(match[1]!, issuer);
      events.push({ at: Date.now(), kind: 'userinfo', ok: true, detail: `sub ${payload.sub}` });
      json(response, 200, { sub: payload.sub, name: 'OIDC Test User', preferred_username: payload.sub });
    } catch (error) {
      events.push({ at: Date.now(), kind: 'userinfo', ok: false, detail: String(error) });
      json(response, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
  };

  const endSession = (url: URL, response: ServerResponse): void => {
    const target = url.searchParams.get('post_logout_redirect_uri');
    events.push({ at: Date.now(), kind: 'end-session', ok: true, detail: target ?? 'no redirect' });
    if (target && redirectAllowed(target)) {
      const back = new URL(target);
      const state = url.searchParams.get('state');
      if (state !== null) back.searchParams.set('state', state);
      response.writeHead(302, { location: back.href }).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('signed out');
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', issuer);
    const method = request.method ?? 'GET';
    const allowed = cors(request, response);
    if (method === 'OPTIONS') {
      if (allowed) {
        response.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
        const requested = request.headers['access-control-request-headers'];
        if (requested) response.setHeader('access-control-allow-headers', requested);
        response.setHeader('access-control-max-age', '600');
      }
      response.writeHead(204).end();
      return;
    }
    switch (`${method} ${url.pathname}`) {
      case 'GET /.well-known/openid-configuration':
        json(response, 200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          userinfo_endpoint: `${issuer}/userinfo`,
          end_session_endpoint: `${issuer}/end-session`,
          response_types_supported: ['code'],
          response_modes_supported: ['query'],
          grant_types_supported: ['authorization_code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          token_endpoint_auth_methods_supported: ['none'],
          code_challenge_methods_supported: ['S256'],
          scopes_supported: ['openid', 'profile', 'read', 'write', 'admin'],
          claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'name', 'preferred_username'],
        });
        return;
      case 'GET /jwks':
        json(response, 200, key.jwks(), { 'cache-control': 'max-age=300' });
        return;
      case 'GET /authorize':
        authorize(url, response);
        return;
      case 'POST /token':
        await token(request, response);
        return;
      case 'GET /userinfo':
        await userinfo(request, response);
        return;
      case 'GET /end-session':
        endSession(url, response);
        return;
      default:
        json(response, 404, { error: 'not_found' });
    }
  };

  const server = createServer((request, response) => {
    response.on('finish', () =>
      requests.push({
        method: request.method ?? '',
        path: (request.url ?? '').split('?')[0]!,
        origin: request.headers.origin ?? '',
        status: response.statusCode,
      }),
    );
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent)
        json(response, 500, { error: 'server_error', error_description: String(error) });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    audience: options.audience,
    clientId,
    grant,
    issuedAccessTokens,
    events,
    requests,
    issueAccessToken: (o = {}) =>
      accessToken(
        (o.scopes ?? grant.scopes ?? ['openid', 'read']).join(' '),
        o.expiresIn ?? grant.expiresIn,
        o.subject,
      ),
    key,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
