/**
 * The HTTP adapter as a fastify instance that never listens by itself: the server (main.ts) or a test
 * decides where it runs. Request bodies are left unread here; STOW streams them itself.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { GatewayCore } from '../core.js';
import { installErrorHandler } from './error-handler.js';
import { registerHealthRoutes, type HealthState } from './routes/health.js';
import { registerQidoRoutes } from './routes/qido.js';
import { registerStowRoutes } from './routes/stow.js';

export interface HttpAppOptions {
  core: GatewayCore;
  health: HealthState;
}

export async function buildHttpApp({ core, health }: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; typing it so keeps route plugins on the default instance type.
    loggerInstance: core.log.child({ door: 'http' }) as FastifyBaseLogger,
    disableRequestLogging: false,
    requestIdHeader: 'x-request-id',
    return503OnClosing: true,
    // Paths carry UIDs of up to 64 characters; the default 100 would cut nested WADO paths.
    routerOptions: { maxParamLength: 256, ignoreTrailingSlash: true },
  });
  // Every body type passes through unread; the handlers that take bodies stream them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  installErrorHandler(app);
  registerHealthRoutes(app, health);
  await app.register(
    async (dicomweb) => {
      registerStowRoutes(dicomweb, core);
      registerQidoRoutes(dicomweb, core);
    },
    { prefix: core.config.http.root },
  );
  return app;
}
