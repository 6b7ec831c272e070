/**
 * The HTTP adapter as a fastify instance that never listens by itself: the server (main.ts) or a test
 * decides where it runs. Request bodies are left unread here; STOW streams them itself.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { GatewayCore } from '../core.js';
import { installCors } from './cors.js';
import { installErrorHandler } from './error-handler.js';
import { registerHealthRoutes, type HealthState } from './routes/health.js';
import { registerQidoRoutes } from './routes/qido.js';
import { registerStowRoutes } from './routes/stow.js';
import { registerRenderedRoutes } from './routes/rendered.js';
import { registerWadoUriRoute } from './routes/wado-uri.js';
import { registerWadoRoutes } from './routes/wado.js';

export interface HttpAppOptions {
  core: GatewayCore;
  health: HealthState;
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

export async function buildHttpApp({ core, health }: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; typing it so keeps route plugins on the default instance type.
    loggerInstance: core.log.child({ door: 'http' }) as FastifyBaseLogger,
    requestIdHeader: 'x-request-id',
    return503OnClosing: true,
    // Paths carry UIDs of up to 64 characters; the default 100 would cut nested WADO paths.
    routerOptions: { maxParamLength: 256, ignoreTrailingSlash: true },
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
  installCors(app, core.config.http.corsOrigins);
  registerHealthRoutes(app, health);
  registerWadoUriRoute(app, core.retrieve, core.rendered);
  await app.register(
    async (dicomweb) => {
      registerStowRoutes(dicomweb, core);
      registerQidoRoutes(dicomweb, core);
      registerWadoRoutes(dicomweb, core, core.retrieve);
      registerRenderedRoutes(dicomweb, core.retrieve, core.rendered);
    },
    { prefix: core.config.http.root },
  );
  return app;
}
