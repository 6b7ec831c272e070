/**
 * WADO-URI (PS3.18 9): GET /wado?requestType=WADO&studyUID=..&seriesUID=..&objectUID=..
 * contentType picks the answer (the Accept header is not consulted: OHIF's wadouri mode sends a
 * multipart Accept header and expects a Part 10 file back): application/dicom (with transferSyntax),
 * image/jpeg (the default for images), image/png. Rendering takes frameNumber, rows, columns, region,
 * windowCenter, windowWidth and imageQuality.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../../dicom/transfer-syntax.js';
import { isValidUid } from '../../dicom/uid.js';
import { GatewayError } from '../../errors.js';
import { parseFrameList } from '../../retrieve/frames.js';
import { parseQuality, type RenderParams } from '../../retrieve/render-params.js';
import type { RenderedService } from '../../retrieve/rendered-service.js';
import type { RetrieveService } from '../../retrieve/retrieve-service.js';
import { queryPairs } from '../request-url.js';

const SUPPORTED = ['application/dicom', 'image/jpeg', 'image/png'] as const;
type WadoUriType = (typeof SUPPORTED)[number];

export function registerWadoUriRoute(
  app: FastifyInstance,
  retrieve: RetrieveService,
  rendered: RenderedService,
): void {
  app.get('/wado', (request, reply) => wadoUri(retrieve, rendered, request, reply));
}

function bad(message: string): GatewayError {
  return new GatewayError('BAD_REQUEST', message);
}

async function wadoUri(
  retrieve: RetrieveService,
  rendered: RenderedService,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const query = new Map<string, string>();
  for (const [key, value] of queryPairs(request.url)) query.set(key, value);
  if (query.get('requestType') !== 'WADO') throw bad('requestType must be WADO');
  const uid = (name: string) => {
    const value = query.get(name);
    if (!value) throw bad(`${name} is required`);
    if (!isValidUid(value)) throw bad(`${name} is not a valid UID: ${JSON.stringify(value.slice(0, 80))}`);
    return value;
  };
  const scope = {
    studyInstanceUid: uid('studyUID'),
    seriesInstanceUid: uid('seriesUID'),
    sopInstanceUid: uid('objectUID'),
  };
  for (const unsupported of ['anonymize', 'presentationUID', 'presentationSeriesUID']) {
    if (query.has(unsupported)) throw bad(`${unsupported} is not supported`);
  }
  const ref = retrieve.instance(scope);

  // contentType lists acceptable types in order of preference (PS3.18 9.2.2); images default to JPEG.
  const wanted = (query.get('contentType') ?? (rendered.renderable(ref) ? 'image/jpeg' : 'application/dicom'))
    .split(',')
    .map((t) => t.split(';')[0]!.trim().toLowerCase());
  const type = wanted
    .map((t) =>
      t === '*/*' || t === 'image/*' ? (rendered.renderable(ref) ? 'image/jpeg' : 'application/dicom') : t,
    )
    .find((t): t is WadoUriType => (SUPPORTED as readonly string[]).includes(t));
  if (!type)
    throw new GatewayError(
      'NOT_ACCEPTABLE',
      `contentType ${query.get('contentType')} is not one of ${SUPPORTED.join(', ')}`,
    );

  if (type === 'application/dicom') {
    // PS3.18 9.3.2.1: Explicit VR Little Endian unless transferSyntax says otherwise; "*" = as stored.
    const transferSyntax = query.get('transferSyntax') ?? EXPLICIT_VR_LITTLE_ENDIAN;
    if (transferSyntax !== '*' && !isValidUid(transferSyntax)) throw bad('transferSyntax is not a valid UID');
    if (!retrieve.canProduce(ref, transferSyntax)) {
      throw new GatewayError(
        'NOT_ACCEPTABLE',
        `instance ${ref.sopInstanceUid} cannot be sent in transfer syntax ${transferSyntax}`,
      );
    }
    const { body, transferSyntax: produced } = await retrieve.instanceBody(ref, transferSyntax);
    return reply.type(`application/dicom; transfer-syntax=${produced}`).send(body);
  }

  if (!rendered.renderable(ref))
    throw new GatewayError('NOT_FOUND', `instance ${ref.sopInstanceUid} has no image to render`);
  const frame = query.has('frameNumber') ? parseFrameList(query.get('frameNumber')!, ref.storage)[0]! : 1;
  const params = renderParamsFromUri(query, retrieve.imageInfo(ref));
  const etag = rendered.etag(ref, frame, params, type);
  reply.header('etag', etag).header('cache-control', 'private, no-cache');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  const { bytes } = await rendered.render(ref, frame, params, type);
  return reply.type(type).send(bytes);
}

/** rows/columns/region/window/quality of WADO-URI (PS3.18 9.3.2) as WADO-RS rendering parameters. */
function renderParamsFromUri(
  query: Map<string, string>,
  image: { rows: number; columns: number },
): RenderParams {
  const params: RenderParams = {};
  const positive = (name: string) => {
    const text = query.get(name);
    if (text === undefined) return undefined;
    if (!/^\d{1,5}$/.test(text) || Number(text) < 1) throw bad(`${name} must be a positive whole number`);
    return Number(text);
  };
  const rows = positive('rows');
  const columns = positive('columns');
  let region = { sx: 0, sy: 0, sw: image.columns, sh: image.rows };
  const regionText = query.get('region');
  if (regionText !== undefined) {
    const parts = regionText.split(',').map(Number);
    const [x1, y1, x2, y2] = parts as [number, number, number, number];
    if (
      parts.length !== 4 ||
      parts.some((n) => !Number.isFinite(n) || n < 0 || n > 1) ||
      x2 <= x1 ||
      y2 <= y1
    ) {
      throw bad('region must be four fractions x1,y1,x2,y2 from 0.0 to 1.0 with x1 < x2 and y1 < y2');
    }
    region = {
      sx: Math.round(x1 * image.columns),
      sy: Math.round(y1 * image.rows),
      sw: Math.max(1, Math.round((x2 - x1) * image.columns)),
      sh: Math.max(1, Math.round((y2 - y1) * image.rows)),
    };
  }
  if (rows !== undefined || columns !== undefined || regionText !== undefined) {
    // A missing rows or columns keeps the aspect ratio of the region (PS3.18 9.3.2.4-5).
    const width = columns ?? Math.round((region.sw * (rows ?? region.sh)) / region.sh);
    const height = rows ?? Math.round((region.sh * width) / region.sw);
    params.viewport = { width, height, ...region };
  }
  const center = query.get('windowCenter');
  const width = query.get('windowWidth');
  if ((center === undefined) !== (width === undefined)) throw bad('windowCenter and windowWidth go together');
  if (center !== undefined && width !== undefined) {
    const c = Number(center);
    const w = Number(width);
    if (!Number.isFinite(c) || !Number.isFinite(w) || w <= 0)
      throw bad('windowCenter and windowWidth must be numbers, the width above 0');
    params.window = { center: c, width: w, fn: 'linear' };
  }
  if (query.has('imageQuality')) params.quality = parseQuality(query.get('imageQuality')!, 'imageQuality');
  return params;
}
