/**
 * DELETE at the WADO-RS resource paths (as Microsoft's and Google's DICOMweb servers offer): a study, a
 * series or one instance. 204 when something was deleted, 404 when nothing in scope is stored.
 */
import type { FastifyInstance } from 'fastify';
import type { DeleteService } from '../../ingest/delete-instances.js';
import { requestOrigin } from '../../observability/context.js';
import { scopeOf } from './wado.js';

type Params = { study: string; series?: string; instance?: string };

export function registerDeleteRoutes(app: FastifyInstance, deletion: DeleteService): void {
  for (const path of [
    '/studies/:study',
    '/studies/:study/series/:series',
    '/studies/:study/series/:series/instances/:instance',
  ]) {
    app.delete<{ Params: Params }>(path, async (request, reply) => {
      await deletion.delete(scopeOf(request.params), requestOrigin(request));
      return reply.code(204).send();
    });
  }
}
