/** Liveness at the server root, outside the DICOMweb prefix. */
import type { FastifyInstance } from 'fastify';

export interface HealthState {
  /** True once both doors accept connections, false again while shutting down. */
  ready: () => boolean;
}

export function registerHealthRoutes(app: FastifyInstance, state: HealthState): void {
  app.get('/health', (_request, reply) => {
    const up = state.ready();
    return reply.code(up ? 200 : 503).send({ status: up ? 'ok' : 'starting or stopping' });
  });
}
