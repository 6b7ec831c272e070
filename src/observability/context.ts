/**
 * Who is calling, passed explicitly. Routes build the origin of their request (request id, user,
 * address) and hand it to the ingest and delete services, which hand it to their listeners (the audit
 * trail); log lines name the request or association through the child loggers that carry them.
 *
 * There is deliberately no async context store here: on Node 20 one turns on promise hooks for every
 * promise in the process, a cost the ingest and DIMSE paths cannot afford.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RequestOrigin } from '../ingest/origin.js';

export type { RequestOrigin };

interface PrincipalLike {
  name?: unknown;
  subject?: unknown;
  kind?: unknown;
  method?: unknown;
}

/**
 * The name of the principal an authentication plugin may have put on `request.principal` (its `name`
 * or `subject`); none for an anonymous principal.
 */
export function principalOf(request: FastifyRequest): string | undefined {
  const principal = (request as { principal?: PrincipalLike | null }).principal;
  if (!principal || principal.kind === 'anonymous' || principal.method === 'anonymous') return undefined;
  const name = typeof principal.name === 'string' ? principal.name : principal.subject;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

const ORIGINS = new WeakMap<FastifyRequest, RequestOrigin>();

/**
 * The origin of a request: its id, the authenticated user and the peer's address. One object per
 * request (made on the first call, from a handler, once authentication has run): the audit hook
 * recognises the events the listeners recorded for the request by it.
 */
export function requestOrigin(request: FastifyRequest): RequestOrigin {
  let origin = ORIGINS.get(request);
  if (!origin) {
    origin = { requestId: String(request.id), user: principalOf(request), address: request.ip };
    ORIGINS.set(request, origin);
  }
  return origin;
}

/** Sends every request's id back in X-Request-ID, for the caller to quote when asking about it. */
export function installRequestIdHeader(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', String(request.id));
    done();
  });
}
