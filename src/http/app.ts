/**
 * The HTTP adapter as a fastify instance that never listens by itself: the server (main.ts) or a test
 * decides where it runs. Request bodies are left unread here; STOW streams them itself.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { GatewayCore } from '../core.js';
import { installHttpObservability, type HttpObservability } from '../observability/http.js';
import { requestIdFrom } from '../observability/log-hygiene.js';
import { installAuth } from '../auth/auth-plugin.js';
import { installCors } from './cors.js';
import { answerClientError, installErrorHandler } from './error-handler.js';
import { createNodeServer } from './server.js';
import { registerDeleteRoutes } from './routes/delete.js';
import { registerHealthRoutes, type HealthState } from './routes/health.js';
import { registerQidoRoutes } from './routes/qido.js';
import { registerStowRoutes } from './routes/stow.js';
import { registerRenderedRoutes } from './routes/rendered.js';
import { registerWadoUriRoute } from './routes/wado-uri.js';
import { registerWadoRoutes } from './routes/wado.js';

export interface HttpAppOptions {
  core: GatewayCore;
  health: HealthState;
  /** /ready, /metrics, request metrics and the HTTP audit trail (main.ts; tests may leave it out). */
  observability?: HttpObservability;
}

/** Method and path of every route, for the OpenAPI consistency test and the startup log. */
export interface RouteEntry {
  method: string;
  url: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    routeTable: RouteEntry[];
  }
}

export async function buildHttpApp({
  core,
  health,
  observability,
}: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; typing it so keeps route plugins on the default instance type.
    loggerInstance: core.log.child({ door: 'http' }) as FastifyBaseLogger,
    // X-Request-ID is taken when it is a sane token (at most 128 characters), else a UUID is made.
    requestIdHeader: false,
    genReqId: requestIdFrom,
    return503OnClosing: true,
    // Paths carry UIDs of up to 64 characters; the default 100 would cut nested WADO paths.
    routerOptions: { maxParamLength: 256, ignoreTrailingSlash: true },
    serverFactory: (handler) => createNodeServer(core.config, handler),
    // X-Forwarded-For/-Proto/-Host are believed only from the configured reverse proxies.
    trustProxy: core.config.http.trustedProxies.length > 0 ? core.config.http.trustedProxies : false,
    clientErrorHandler: answerClientError,
  });
  // Every body type passes through unread; the handlers that take bodies stream them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  const routeTable: RouteEntry[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routeTable.push({ method, url: route.url });
  });

  // While closing, answers to requests still in flight end their connections, so keep-alive clients do
  // not hold the drain open until the keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  installErrorHandler(app);
  // Before any route and before auth: routes get the hooks their plugin has when they are added, and
  // the request context (x-request-id) exists when auth answers 401.
  if (observability) installHttpObservability(app, observability);
  installCors(app, core.config.http.corsOrigins);
  // After CORS, so 401/403 answers carry the CORS headers; preflights (OPTIONS) are public anyway.
  installAuth(app, { auth: core.config.auth, root: core.config.http.root, log: core.log });
  registerHealthRoutes(app, health);
  registerWadoUriRoute(app, core.retrieve, core.rendered);
  await app.register(
    async (dicomweb) => {
      registerStowRoutes(dicomweb, core);
      registerQidoRoutes(dicomweb, core);
      registerWadoRoutes(dicomweb, core, core.retrieve);
      registerRenderedRoutes(dicomweb, core.retrieve, core.rendered);
      registerDeleteRoutes(dicomweb, core.deletion);
    },
    { prefix: core.config.http.root },
  );
  return app;
}
