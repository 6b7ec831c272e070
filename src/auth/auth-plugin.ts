/**
 * Authentication and authorization for every HTTP route, in one `onRequest` hook: the scope a request
 * needs comes from its method and matched route (route-scopes.ts), so a new route is covered without
 * annotations. Refusals are GatewayErrors (401 UNAUTHORIZED with `WWW-Authenticate`, 403 FORBIDDEN naming
 * the missing scope) and go through the gateway's error handler like any other error.
 *
 * Install it after installCors: CORS headers are then already on 401 and 403 answers, so a browser
 * viewer on another origin can read them (and send its user to log in again). Preflights (OPTIONS) are
 * public either way, since browsers send them without credentials.
 *
 * With no auth method configured (the loopback default) every request passes as an anonymous principal
 * holding every scope. `request.principal` is set on every request, for the audit trail.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import { hasAuthMethod, type AuthConfig } from './auth-config.js';
import {
  ANONYMOUS,
  AuthenticationError,
  RequestAuthenticator,
  OPEN_ACCESS,
  REALM,
  type AuthenticatorOptions,
  type Principal,
} from './request-authenticator.js';
import { normalizePath, requiredScope, type Requirement } from './route-scopes.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the request; set by the auth hook before any handler runs. */
    principal: Principal | null;
  }
}

/** The part of a logger installAuth uses (pino and fastify loggers both fit). */
export interface AuthLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface InstallAuthOptions {
  auth: AuthConfig | undefined;
  /** DICOMweb path prefix (config http.root), e.g. `/dicom-web`. */
  root: string;
  log: AuthLog;
  /** For tests: JWKS source, Basic cache. */
  authenticator?: AuthenticatorOptions;
}

export interface InstalledAuth {
  /** False when no auth method is configured: every request is let through. */
  enabled: boolean;
  /** The scope a request needs (exposed for the startup log and tests). */
  requirement(request: FastifyRequest): Requirement;
}

function describe(principal: Principal): string {
  return `${principal.kind} ${principal.name}`;
}

export function installAuth(app: FastifyInstance, options: InstallAuthOptions): InstalledAuth {
  const { auth, root, log } = options;
  app.decorateRequest('principal', null);

  const requirement = (request: FastifyRequest): Requirement => {
    const pattern = request.routeOptions.url;
    return requiredScope(request.method, pattern ?? normalizePath(request.url), {
      root,
      // Only a matched thumbnail route is public; an unmatched path is a 404 for whoever asks.
      publicThumbnails: pattern !== undefined && (auth?.publicThumbnails ?? false),
    });
  };

  if (!auth || !hasAuthMethod(auth)) {
    app.addHook('onRequest', async (request) => {
      request.principal = OPEN_ACCESS;
    });
    return { enabled: false, requirement };
  }

  const authenticator = new RequestAuthenticator(auth, options.authenticator);
  log.info(
    {
      tokens: auth.tokens.length,
      basicUsers: auth.basic.length,
      oidcIssuer: auth.oidc?.issuer,
      publicThumbnails: auth.publicThumbnails,
    },
    'HTTP authentication on',
  );

  app.addHook('onRequest', async (request, reply) => {
    const needed = requirement(request);
    if (needed === 'public') {
      request.principal = ANONYMOUS;
      return;
    }
    let principal: Principal;
    try {
      principal = await authenticator.authenticate(request.headers.authorization);
    } catch (error) {
      if (error instanceof AuthenticationError) {
        reply.header('www-authenticate', error.challenges);
        request.log.info({ reason: error.message }, 'authentication failed');
      }
      throw error;
    }
    request.principal = principal;
    request.log = request.log.child({ principal: describe(principal) });
    reply.log = request.log;
    if (principal.scopes.has(needed)) return;

    const path = normalizePath(request.url);
    request.log.info({ needed, granted: [...principal.scopes] }, 'missing scope');
    if (principal.kind === 'token' || principal.kind === 'oidc') {
      reply.header(
        'www-authenticate',
        `Bearer realm="${REALM}", error="insufficient_scope", scope="${needed}"`,
      );
    }
    const granted = principal.scopes.size ? [...principal.scopes].join(', ') : 'no scope';
    throw new GatewayError(
      'FORBIDDEN',
      `${request.method} ${path} needs the "${needed}" scope; ${describe(principal)} has ${granted}`,
    );
  });

  return { enabled: true, requirement };
}
