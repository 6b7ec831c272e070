/** QIDO-RS (PS3.18 10.6): every search level and nesting, answered from the index. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayCore } from '../../core.js';
import { isValidUid } from '../../dicom/uid.js';
import { GatewayError } from '../../errors.js';
import type { QueryLevel } from '../../query/attributes.js';
import { publicBase, queryPairs } from '../request-url.js';

type Params = { study?: string; series?: string };

const ROUTES: [path: string, level: Exclude<QueryLevel, 'PATIENT'>][] = [
  ['/studies', 'STUDY'],
  ['/series', 'SERIES'],
  ['/instances', 'IMAGE'],
  ['/studies/:study/series', 'SERIES'],
  ['/studies/:study/instances', 'IMAGE'],
  ['/studies/:study/series/:series/instances', 'IMAGE'],
];

export function registerQidoRoutes(app: FastifyInstance, core: GatewayCore): void {
  for (const [path, level] of ROUTES) {
    app.get<{ Params: Params }>(path, (request, reply) => search(core, request, reply, level));
  }
}

function search(
  core: GatewayCore,
  request: FastifyRequest<{ Params: Params }>,
  reply: FastifyReply,
  level: Exclude<QueryLevel, 'PATIENT'>,
): FastifyReply {
  const { study, series } = request.params;
  for (const [name, uid] of [
    ['study', study],
    ['series', series],
  ] as const) {
    if (uid !== undefined && !isValidUid(uid)) {
      throw new GatewayError(
        'BAD_REQUEST',
        `${name} UID in the path is not a valid UID: ${JSON.stringify(uid.slice(0, 80))}`,
      );
    }
  }
  const base = publicBase(request, core.config.http.publicBaseUrl, core.config.http.root);
  const { results, warnings } = core.search.search(
    level,
    { studyInstanceUid: study, seriesInstanceUid: series },
    queryPairs(request.url),
    base,
  );
  if (warnings.length)
    reply.header(
      'warning',
      warnings.map((w) => `299 dicomweb-gateway "${w}"`),
    );
  // No match is 200 with an empty array (PS3.18 allows 204 too; OHIF accepts both, and [] parses everywhere).
  return reply.code(200).type('application/dicom+json').send(results);
}
