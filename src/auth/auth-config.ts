/**
 * The `auth` section of the configuration: its type, its defaults and its JSON schema (ajv, strict mode),
 * kept here so config.ts can import them. Nothing in this file imports config.ts.
 *
 * ```json
 * "auth": {
 *   "tokens": [{ "sha256": "<hex of the token>", "scopes": ["read", "write"], "name": "ci" }],
 *   "basic": [{ "user": "u", "passwordHash": "$scrypt$N=131072,r=8,p=1$<salt>$<hash>", "scopes": ["read"] }],
 *   "oidc": { "issuer": "...", "audience": "...", "jwksUri": "...", "scopeClaim": "scope" },
 *   "publicThumbnails": false
 * }
 * ```
 */
import { passwordHashProblem } from './password-hash.js';

/** What an HTTP credential may do: read (QIDO, WADO, rendered), write (STOW), admin (delete, reindex, metrics). */
export type Scope = 'read' | 'write' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'write', 'admin'];

export interface TokenEntry {
  /** Lower- or upper-case hex SHA-256 of the token as the client sends it (`dicomweb-gateway hash-token`). */
  sha256: string;
  scopes: Scope[];
  /** Shown in logs and the audit trail instead of the hash prefix. */
  name?: string;
}

export interface BasicUser {
  /** No colon (RFC 7617). */
  user: string;
  /** A PHC string: `$scrypt$N=…,r=…,p=…$<salt>$<hash>`, or `$argon2id$v=19$…` on Node.js 24.7 or newer. */
  passwordHash: string;
  scopes: Scope[];
}

export interface OidcConfig {
  /** Must equal the token's `iss` claim exactly. */
  issuer: string;
  /** The token's `aud` must contain one of these. */
  audience: string | string[];
  /** The issuer's JSON Web Key Set (the `jwks_uri` of its discovery document). */
  jwksUri: string;
  /**
   * Claim holding the granted scopes: a space-separated string (OAuth `scope`) or an array of strings
   * (`roles`, `groups`). A dotted path (`realm_access.roles`) reaches into nested objects when no claim
   * has that exact name. Default `scope`.
   */
  scopeClaim: string;
  /**
   * IdP scope or role names that grant each gateway scope, e.g. `{ "read": ["dicom.read"] }`. When absent
   * the claim's values must be `read`, `write` or `admin` themselves. When present it is the only
   * mapping: a gateway scope it does not list cannot be granted by a token.
   */
  scopeMap?: Partial<Record<Scope, string[]>>;
  /** Leeway for `exp` and `nbf`, in seconds. Default 30. */
  clockToleranceSeconds: number;
}

export interface AuthConfig {
  /** Static API tokens, sent as `Authorization: Bearer <token>`; only their SHA-256 is configured. */
  tokens: TokenEntry[];
  /** HTTP Basic users with password hashes (`dicomweb-gateway hash-password`). */
  basic: BasicUser[];
  /** OpenID Connect bearer JWTs, verified against the issuer's JWKS. */
  oidc?: OidcConfig;
  /** Thumbnails answer without credentials (OHIF's thumbnailDirect sends none). Off by default. */
  publicThumbnails: boolean;
  /** Start without any auth method on a non-loopback address (explicit opt-out, `--insecure-no-auth`). */
  insecureNoAuth: boolean;
}

export const DEFAULT_AUTH_CONFIG: AuthConfig = {
  tokens: [],
  basic: [],
  publicThumbnails: false,
  insecureNoAuth: false,
};

export const DEFAULT_SCOPE_CLAIM = 'scope';
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;

const NON_EMPTY = { type: 'string', minLength: 1 } as const;
const SCOPE_LIST = {
  type: 'array',
  items: { enum: ['read', 'write', 'admin'] },
  uniqueItems: true,
  minItems: 1,
} as const;

/** The `auth` property of config.ts's SCHEMA (ajv strict mode). */
export const AUTH_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    tokens: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['sha256', 'scopes'],
        properties: {
          sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
          scopes: SCOPE_LIST,
          name: NON_EMPTY,
        },
      },
    },
    basic: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['user', 'passwordHash', 'scopes'],
        properties: {
          user: { type: 'string', pattern: '^[^:]+$' },
          passwordHash: { type: 'string', pattern: '^\\$(scrypt|argon2id|argon2i|argon2d)\\$' },
          scopes: SCOPE_LIST,
        },
      },
    },
    oidc: {
      type: 'object',
      additionalProperties: false,
      required: ['issuer', 'audience', 'jwksUri'],
      properties: {
        issuer: NON_EMPTY,
        audience: { anyOf: [NON_EMPTY, { type: 'array', items: NON_EMPTY, minItems: 1 }] },
        jwksUri: { type: 'string', pattern: '^https?://\\S+$' },
        scopeClaim: NON_EMPTY,
        scopeMap: {
          type: 'object',
          additionalProperties: false,
          properties: {
            read: { type: 'array', items: NON_EMPTY },
            write: { type: 'array', items: NON_EMPTY },
            admin: { type: 'array', items: NON_EMPTY },
          },
        },
        clockToleranceSeconds: { type: 'number', minimum: 0 },
      },
    },
    publicThumbnails: { type: 'boolean' },
    insecureNoAuth: { type: 'boolean' },
  },
} as const;

/** Fills the defaults inside an `auth` section that passed the schema (in place; returns it). */
export function applyAuthDefaults(auth: AuthConfig): AuthConfig {
  auth.tokens ??= [];
  auth.basic ??= [];
  auth.publicThumbnails ??= false;
  auth.insecureNoAuth ??= false;
  if (auth.oidc) {
    auth.oidc.scopeClaim ??= DEFAULT_SCOPE_CLAIM;
    auth.oidc.clockToleranceSeconds ??= DEFAULT_CLOCK_TOLERANCE_SECONDS;
  }
  return auth;
}

/** True when at least one way to authenticate is configured; without one, HTTP is open (loopback only). */
export function hasAuthMethod(auth: AuthConfig | undefined): boolean {
  return !!auth && (auth.tokens.length > 0 || auth.basic.length > 0 || auth.oidc !== undefined);
}

/**
 * What the schema cannot check: password hashes that parse with sane cost parameters, tokens and users
 * listed once. Each problem names its config key; config.ts turns them into a ConfigError.
 */
export function authConfigProblems(auth: AuthConfig): string[] {
  const problems: string[] = [];
  const hashes = new Set<string>();
  auth.tokens.forEach((token, i) => {
    const hash = token.sha256.toLowerCase();
    if (hashes.has(hash)) problems.push(`config key "auth.tokens.${i}.sha256" lists a token twice`);
    hashes.add(hash);
  });
  const users = new Set<string>();
  auth.basic.forEach((user, i) => {
    if (users.has(user.user))
      problems.push(`config key "auth.basic.${i}.user" lists user ${user.user} twice`);
    users.add(user.user);
    const problem = passwordHashProblem(user.passwordHash);
    if (problem) problems.push(`config key "auth.basic.${i}.passwordHash" ${problem}`);
  });
  if (auth.oidc) {
    try {
      new URL(auth.oidc.jwksUri);
    } catch {
      problems.push(`config key "auth.oidc.jwksUri" is not a URL`);
    }
  }
  return problems;
}
