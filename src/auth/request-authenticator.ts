/**
 * Turns a request's `Authorization` header into a principal, or a 401 with `WWW-Authenticate` challenges.
 *
 * - `Bearer <token>`: first the static API tokens (SHA-256 of the token compared with every configured
 *   digest in constant time), then, if OIDC is configured and the token is a JWT, a signature check
 *   against the issuer's JWKS (jose: keys fetched on first use, cached 10 minutes, refetched at most every
 *   30 s when a token names an unknown key) with `iss`, `aud`, `exp` (required) and `nbf` checked.
 * - `Basic <base64 user:password>`: the user's scrypt (or argon2) hash. An unknown user still costs one
 *   hash so timing does not tell which users exist. A good password is remembered for a few minutes
 *   (keyed by an HMAC of user and password under a per-process random key, never the password itself)
 *   because viewers send Basic credentials with every one of hundreds of requests; concurrent checks of
 *   the same credentials share one hash computation.
 *
 * Everything a client did wrong is a 401 (GatewayError UNAUTHORIZED); an issuer whose keys cannot be
 * fetched is a 500 (PROCESSING_FAILURE, logged with its cause), since re-authenticating would not help.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWSAlgorithm,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { GatewayError } from '../errors.js';
import {
  authConfigProblems,
  DEFAULT_CLOCK_TOLERANCE_SECONDS,
  DEFAULT_SCOPE_CLAIM,
  SCOPES,
  type AuthConfig,
  type BasicUser,
  type OidcConfig,
  type Scope,
  type TokenEntry,
} from './auth-config.js';
import { parsePasswordHash, sha256Hex, verifyPassword, type ParsedPasswordHash } from './password-hash.js';

export type PrincipalKind = 'token' | 'basic' | 'oidc' | 'anonymous';

export interface Principal {
  kind: PrincipalKind;
  /** Token name (or `sha256:<first 12 hex>`), Basic user name, OIDC `sub`, or `anonymous`. */
  name: string;
  scopes: ReadonlySet<Scope>;
}

export const REALM = 'dicomweb-gateway';

/** Signature algorithms accepted for OIDC tokens: asymmetric only, so a JWKS can never hold an HMAC secret. */
export const OIDC_ALGORITHMS: JWSAlgorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

/** No credentials: what a public route sees when auth is on. */
export const ANONYMOUS: Principal = Object.freeze({
  kind: 'anonymous',
  name: 'anonymous',
  scopes: new Set<Scope>(),
});

/** No auth method configured (the loopback default): every request may do everything. */
export const OPEN_ACCESS: Principal = Object.freeze({
  kind: 'anonymous',
  name: 'anonymous',
  scopes: new Set<Scope>(SCOPES),
});

/** A 401 with the challenges to send as `WWW-Authenticate` headers. */
export class AuthenticationError extends GatewayError {
  constructor(
    message: string,
    readonly challenges: string[],
    options?: { cause?: unknown },
  ) {
    super('UNAUTHORIZED', message, options);
    this.name = 'AuthenticationError';
  }
}

export interface AuthenticatorOptions {
  /** Where OIDC signing keys come from instead of `auth.oidc.jwksUri` (tests). */
  jwks?: JWTVerifyGetKey;
  /** How long a verified Basic password is remembered, in ms; default 5 minutes, 0 to disable. */
  basicCacheMs?: number;
  /** Most remembered Basic credentials; the oldest is forgotten first. Default 1000. */
  basicCacheSize?: number;
  /** Checks a Basic password against its hash; verifyPassword unless given (tests count the checks). */
  verifyPassword?: (password: string, hash: ParsedPasswordHash) => Promise<boolean>;
}

type BearerError = { error: 'invalid_token' | 'invalid_request'; description: string };

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const BASIC = /^Basic +([A-Za-z0-9+/]+=*) *$/i;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export class RequestAuthenticator {
  private readonly tokens: { digest: Buffer; entry: TokenEntry }[];
  private readonly users = new Map<string, { entry: BasicUser; hash: ParsedPasswordHash }>();
  /** Verified against when the user is unknown, so an unknown user costs as much as a known one. */
  private readonly decoyHash: ParsedPasswordHash | undefined;
  private readonly oidc: OidcConfig | undefined;
  private readonly jwks: JWTVerifyGetKey | undefined;
  private readonly basicCache = new Map<
    string,
    { expires: number; result: Promise<Principal | undefined> }
  >();
  private readonly basicCacheKey = randomBytes(32);
  private readonly basicCacheMs: number;
  private readonly basicCacheSize: number;
  private readonly verifyPassword: (password: string, hash: ParsedPasswordHash) => Promise<boolean>;

  /** Throws an Error naming the config key when a password hash is unusable or an entry is listed twice. */
  constructor(auth: AuthConfig, options: AuthenticatorOptions = {}) {
    const problems = authConfigProblems(auth);
    if (problems.length) throw new Error(`invalid auth configuration:\n  ${problems.join('\n  ')}`);
    this.tokens = auth.tokens.map((entry) => ({
      digest: Buffer.from(entry.sha256.toLowerCase(), 'hex'),
      entry,
    }));
    for (const entry of auth.basic) {
      this.users.set(entry.user, { entry, hash: parsePasswordHash(entry.passwordHash) });
    }
    this.decoyHash = this.users.values().next().value?.hash;
    this.oidc = auth.oidc;
    if (this.oidc) this.jwks = options.jwks ?? createRemoteJWKSet(new URL(this.oidc.jwksUri));
    this.basicCacheMs = options.basicCacheMs ?? 5 * 60_000;
    this.basicCacheSize = options.basicCacheSize ?? 1000;
    this.verifyPassword = options.verifyPassword ?? verifyPassword;
  }

  get acceptsBearer(): boolean {
    return this.tokens.length > 0 || this.oidc !== undefined;
  }

  get acceptsBasic(): boolean {
    return this.users.size > 0;
  }

  /** The `WWW-Authenticate` values for a 401: one challenge per accepted scheme (RFC 7235, 6750, 7617). */
  challenges(bearerError?: BearerError): string[] {
    const challenges: string[] = [];
    if (this.acceptsBearer) {
      const detail = bearerError
        ? `, error="${bearerError.error}", error_description="${bearerError.description.replace(/["\\]/g, "'")}"`
        : '';
      challenges.push(`Bearer realm="${REALM}"${detail}`);
    }
    if (this.acceptsBasic) challenges.push(`Basic realm="${REALM}", charset="UTF-8"`);
    return challenges;
  }

  private fail(message: string, bearerError?: BearerError, cause?: unknown): AuthenticationError {
    return new AuthenticationError(message, this.challenges(bearerError), cause ? { cause } : undefined);
  }

  /** The principal the header proves, or throws AuthenticationError (401). */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (authorization === undefined || authorization.trim() === '') {
      throw this.fail(`authentication required (${this.schemes()})`);
    }
    const bearer = BEARER.exec(authorization);
    if (bearer) {
      if (!this.acceptsBearer) throw this.fail(`bearer tokens are not accepted here (${this.schemes()})`);
      return this.bearer(bearer[1]!);
    }
    const basic = BASIC.exec(authorization);
    if (basic) {
      if (!this.acceptsBasic) throw this.fail(`Basic credentials are not accepted here (${this.schemes()})`);
      return this.basic(basic[1]!);
    }
    const [scheme, ...credentials] = authorization.trim().split(/\s+/);
    if (/^(Bearer|Basic)$/i.test(scheme!)) {
      throw this.fail(`malformed ${scheme} credentials`, {
        error: 'invalid_request',
        description: 'malformed Authorization header',
      });
    }
    // Name the scheme only when it looks like one: a bare token sent without a scheme is not echoed.
    const named =
      credentials.length > 0 && /^[A-Za-z][A-Za-z0-9-]{0,15}$/.test(scheme!) ? ` "${scheme}"` : '';
    throw this.fail(`unsupported authorization scheme${named} (${this.schemes()})`);
  }

  private schemes(): string {
    const schemes: string[] = [];
    if (this.acceptsBearer) schemes.push('Bearer');
    if (this.acceptsBasic) schemes.push('Basic');
    return `send ${schemes.join(' or ')} credentials`;
  }

  private async bearer(token: string): Promise<Principal> {
    const entry = this.matchToken(token);
    if (entry) {
      return {
        kind: 'token',
        name: entry.name ?? `sha256:${entry.sha256.toLowerCase().slice(0, 12)}`,
        scopes: new Set(entry.scopes),
      };
    }
    if (this.oidc && JWT_SHAPE.test(token)) return this.verifyJwt(token, this.oidc);
    throw this.fail('unknown bearer token', { error: 'invalid_token', description: 'unknown token' });
  }

  /** The configured token with this SHA-256; every digest is compared, in constant time. */
  private matchToken(token: string): TokenEntry | undefined {
    const digest = Buffer.from(sha256Hex(token), 'hex');
    let found: TokenEntry | undefined;
    for (const { digest: known, entry } of this.tokens) {
      if (timingSafeEqual(digest, known) && !found) found = entry;
    }
    return found;
  }

  private async verifyJwt(token: string, oidc: OidcConfig): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks!, {
        issuer: oidc.issuer,
        audience: oidc.audience,
        algorithms: OIDC_ALGORITHMS,
        requiredClaims: ['exp'],
        clockTolerance: oidc.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (error) {
      throw this.jwtError(error);
    }
    return {
      kind: 'oidc',
      name: typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : 'unknown-subject',
      scopes: scopesFromClaims(payload, oidc),
    };
  }

  private jwtError(error: unknown): GatewayError {
    const invalid = (description: string) =>
      this.fail(`invalid bearer token: ${description}`, { error: 'invalid_token', description }, error);
    if (error instanceof joseErrors.JWTExpired) return invalid('the token has expired');
    if (error instanceof joseErrors.JWTClaimValidationFailed) {
      if (error.claim === 'iss') return invalid('the token was issued by another issuer');
      if (error.claim === 'aud') return invalid('the token is meant for another audience');
      if (error.claim === 'nbf') return invalid('the token is not valid yet');
      if (error.claim === 'exp' || error.claim === 'iat')
        return invalid(`the token has no valid ${error.claim}`);
      return invalid(`claim ${error.claim} failed validation`);
    }
    if (error instanceof joseErrors.JWSSignatureVerificationFailed)
      return invalid('the signature is not valid');
    if (error instanceof joseErrors.JWKSNoMatchingKey) {
      return invalid('the token is not signed with a key of the issuer');
    }
    if (error instanceof joseErrors.JWKSMultipleMatchingKeys) {
      return invalid('the token names no key id and the issuer has several keys');
    }
    if (error instanceof joseErrors.JOSEAlgNotAllowed)
      return invalid('the signature algorithm is not accepted');
    if (
      error instanceof joseErrors.JWSInvalid ||
      error instanceof joseErrors.JWTInvalid ||
      error instanceof joseErrors.JOSENotSupported
    ) {
      return invalid('the token is malformed');
    }
    // Left: the key set could not be fetched or parsed (timeout, network, non-200, not a JWKS).
    return new GatewayError('PROCESSING_FAILURE', 'cannot fetch the signing keys of the OIDC issuer', {
      cause: error,
    });
  }

  private async basic(encoded: string): Promise<Principal> {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw this.fail('malformed Basic credentials (no colon between user and password)');
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const key = createHmac('sha256', this.basicCacheKey)
      .update(user)
      .update('\0')
      .update(password)
      .digest('hex');
    const now = Date.now();
    let entry = this.basicCache.get(key);
    if (!entry || entry.expires <= now) {
      entry = { expires: now + this.basicCacheMs, result: this.checkPassword(user, password) };
      this.basicCache.delete(key);
      this.basicCache.set(key, entry);
      while (this.basicCache.size > this.basicCacheSize) {
        this.basicCache.delete(this.basicCache.keys().next().value!);
      }
    }
    const principal = await entry.result;
    if (principal && this.basicCacheMs > 0) return principal;
    // Only good answers are remembered, and only while the cache is on.
    if (this.basicCache.get(key) === entry) this.basicCache.delete(key);
    if (principal) return principal;
    throw this.fail('wrong user name or password');
  }

  private async checkPassword(user: string, password: string): Promise<Principal | undefined> {
    const known = this.users.get(user);
    const hash = known?.hash ?? this.decoyHash;
    if (!hash) return undefined;
    const ok = await this.verifyPassword(password, hash);
    if (!known || !ok) return undefined;
    return { kind: 'basic', name: known.entry.user, scopes: new Set(known.entry.scopes) };
  }
}

/** A claim by exact name (Auth0-style names are URLs with dots), else by dotted path (`realm_access.roles`). */
function claimAt(payload: JWTPayload, claim: string): unknown {
  if (Object.hasOwn(payload, claim)) return payload[claim];
  let node: unknown = payload;
  for (const part of claim.split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** The gateway scopes a token's claims grant: by scopeMap when configured, else by name. */
export function scopesFromClaims(payload: JWTPayload, oidc: OidcConfig): Set<Scope> {
  const value = claimAt(payload, oidc.scopeClaim ?? DEFAULT_SCOPE_CLAIM);
  const names = new Set<string>(
    typeof value === 'string'
      ? value.split(/\s+/).filter(Boolean)
      : Array.isArray(value)
        ? value.filter((v): v is string => typeof v === 'string')
        : [],
  );
  const scopes = new Set<Scope>();
  for (const scope of SCOPES) {
    const grantedBy = oidc.scopeMap ? (oidc.scopeMap[scope] ?? []) : [scope];
    if (grantedBy.some((name) => names.has(name))) scopes.add(scope);
  }
  return scopes;
}
