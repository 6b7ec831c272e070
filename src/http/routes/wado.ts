/**
 * WADO-RS (PS3.18 10.4): instances, metadata, frames and bulk data. Handlers check the path UIDs,
 * negotiate the representation from the accept query parameter or the Accept header, and stream the
 * answer; the core (RetrieveService) does the rest.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayCore } from '../../core.js';
import { isValidUid } from '../../dicom/uid.js';
import { GatewayError } from '../../errors.js';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../../dicom/transfer-syntax.js';
import { acceptedOffers, mediaTypeMatches, type Offer } from '../../retrieve/accept.js';
import { parseFrameList } from '../../retrieve/frames.js';
import type { Scope } from '../../retrieve/metadata.js';
import {
  multipartBody,
  singlePartFraming,
  multipartContentType,
  newBoundary,
  type Part,
} from '../../retrieve/multipart-writer.js';
import type { RetrieveService } from '../../retrieve/retrieve-service.js';
import { publicBase, queryPairs } from '../request-url.js';

type Params = { study: string; series?: string; instance?: string; frames?: string; '*'?: string };
type Request = FastifyRequest<{ Params: Params }>;

export function registerWadoRoutes(app: FastifyInstance, core: GatewayCore, retrieve: RetrieveService): void {
  const base = (request: Request) =>
    publicBase(request, core.config.http.publicBaseUrl, core.config.http.root);

  for (const path of [
    '/studies/:study',
    '/studies/:study/series/:series',
    '/studies/:study/series/:series/instances/:instance',
  ]) {
    app.get<{ Params: Params }>(path, (request, reply) =>
      retrieveInstances(retrieve, request, reply, base(request)),
    );
    app.get<{ Params: Params }>(`${path}/metadata`, (request, reply) =>
      metadata(retrieve, request, reply, base(request)),
    );
  }
  app.get<{ Params: Params }>(
    '/studies/:study/series/:series/instances/:instance/frames/:frames',
    (request, reply) => frames(retrieve, request, reply, base(request)),
  );
  app.get<{ Params: Params }>(
    '/studies/:study/series/:series/instances/:instance/bulkdata/*',
    (request, reply) => bulkData(retrieve, request, reply),
  );
}

/** The scope of a WADO-RS path, with every UID checked before it reaches anything else. */
export function scopeOf(params: Params): Scope {
  const scope: Scope = { studyInstanceUid: params.study };
  if (params.series !== undefined) scope.seriesInstanceUid = params.series;
  if (params.instance !== undefined) scope.sopInstanceUid = params.instance;
  for (const [name, uid] of [
    ['study', params.study],
    ['series', params.series],
    ['instance', params.instance],
  ] as const) {
    if (uid !== undefined && !isValidUid(uid)) {
      throw new GatewayError(
        'BAD_REQUEST',
        `${name} UID in the path is not a valid UID: ${JSON.stringify(uid.slice(0, 80))}`,
      );
    }
  }
  return scope;
}

function offersOf(request: Request): Offer[] {
  const acceptQuery = queryPairs(request.url)
    .filter(([key]) => key.toLowerCase() === 'accept')
    .map(([, value]) => value);
  return acceptedOffers(request.headers.accept, acceptQuery);
}

function notAcceptable(what: string): GatewayError {
  return new GatewayError('NOT_ACCEPTABLE', `none of the accepted media types can represent ${what}`);
}

function instanceUrl(base: string, study: string, series: string, instance: string): string {
  return `${base}/studies/${study}/series/${series}/instances/${instance}`;
}

async function retrieveInstances(
  retrieve: RetrieveService,
  request: Request,
  reply: FastifyReply,
  base: string,
): Promise<FastifyReply> {
  const scope = scopeOf(request.params);
  const refs = retrieve.instances(scope);
  const single = scope.sopInstanceUid !== undefined;
  let chosen: { multipart: boolean; transferSyntax: string } | undefined;
  for (const offer of offersOf(request)) {
    if (!mediaTypeMatches(offer.mediaType, 'application/dicom')) continue;
    const multipart = offer.multipart ?? true;
    if (!multipart && !single) continue;
    // PS3.18 Table 8.7.3-2: application/dicom defaults to Explicit VR Little Endian.
    const transferSyntax = offer.transferSyntax ?? EXPLICIT_VR_LITTLE_ENDIAN;
    if (refs.every((ref) => retrieve.canProduce(ref, transferSyntax))) {
      chosen = { multipart, transferSyntax };
      break;
    }
  }
  if (!chosen) throw notAcceptable('these instances');
  const { transferSyntax } = chosen;

  if (!chosen.multipart) {
    const { body, transferSyntax: produced } = await retrieve.instanceBody(refs[0]!, transferSyntax);
    return reply.type(`application/dicom; transfer-syntax=${produced}`).send(body);
  }
  const boundary = newBoundary();
  const parts = refs.map((ref): Part => ({
    contentType: `application/dicom; transfer-syntax=${transferSyntax === '*' ? ref.storage.transferSyntaxUid : transferSyntax}`,
    location: instanceUrl(base, ref.studyInstanceUid, ref.seriesInstanceUid, ref.sopInstanceUid),
    body: async () => (await retrieve.instanceBody(ref, transferSyntax)).body,
  }));
  return reply.type(multipartContentType('application/dicom', boundary)).send(multipartBody(parts, boundary));
}

async function metadata(
  retrieve: RetrieveService,
  request: Request,
  reply: FastifyReply,
  base: string,
): Promise<FastifyReply> {
  const scope = scopeOf(request.params);
  let format: 'json' | 'xml' | undefined;
  for (const offer of offersOf(request)) {
    // OHIF sends combined lists: any mention of JSON gets JSON.
    if (offer.mediaType === 'application/dicom+json' || offer.mediaType === 'application/json') {
      format = 'json';
      break;
    }
    if (offer.mediaType === 'application/dicom+xml' && offer.multipart !== false) format ??= 'xml';
    if (offer.mediaType === '*') format ??= 'json';
  }
  if (!format)
    throw notAcceptable(
      'metadata (use application/dicom+json or multipart/related; type="application/dicom+xml")',
    );

  const etag = retrieve.metadata.etag(scope, base, format);
  reply.header('etag', etag).header('cache-control', 'no-cache').header('vary', 'Accept, Accept-Encoding');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  const body = retrieve.metadata.get(scope, base, format);
  if (format === 'xml') {
    const boundary = newBoundary();
    const parts = body.xml!.map((xml): Part => ({
      contentType: 'application/dicom+xml; charset=utf-8',
      body: async () => xml,
    }));
    return reply
      .type(multipartContentType('application/dicom+xml', boundary))
      .send(multipartBody(parts, boundary));
  }
  reply.type('application/dicom+json; charset=utf-8');
  const encoding = preferredEncoding(request.headers['accept-encoding']);
  if (encoding)
    return reply.header('content-encoding', encoding).send(retrieve.metadata.compressed(body, encoding));
  return reply.send(body.json);
}

/** gzip or br when the client takes them (gzip first: it is cheaper to produce). */
function preferredEncoding(header: string | undefined): 'gzip' | 'br' | undefined {
  if (!header) return undefined;
  const accepted = header
    .split(',')
    .map((part) => part.trim().split(';'))
    .filter(([, q]) => !q || !/^\s*q=0(\.0*)?\s*$/.test(q))
    .map(([name]) => name!.trim().toLowerCase());
  if (accepted.includes('gzip')) return 'gzip';
  if (accepted.includes('br')) return 'br';
  return undefined;
}

async function frames(
  retrieve: RetrieveService,
  request: Request,
  reply: FastifyReply,
  base: string,
): Promise<FastifyReply> {
  const scope = scopeOf(request.params);
  const ref = retrieve.instance({ ...scope, sopInstanceUid: scope.sopInstanceUid! });
  const numbers = parseFrameList(request.params.frames ?? '', ref.storage);
  const offers = offersOf(request);
  // Single part only when one frame is asked for and the client named a single-part type.
  const singleOffers = numbers.length === 1 ? offers.filter((o) => o.multipart === false) : [];
  const multipartOffers = offers.filter((o) => o.multipart !== false);
  const single = retrieve.frameTarget(ref, singleOffers);
  const multi = single ? undefined : retrieve.frameTarget(ref, multipartOffers);
  const target = single ?? multi;
  if (!target)
    throw notAcceptable(`the frames of ${ref.sopInstanceUid} (stored as ${ref.storage.transferSyntaxUid})`);
  const partType = `${target.mediaType}; transfer-syntax=${target.transferSyntax}`;

  if (single) return reply.type(partType).send(await retrieve.frameBody(ref, numbers[0]!, target));
  const boundary = newBoundary();
  const url = instanceUrl(base, ref.studyInstanceUid, ref.seriesInstanceUid, ref.sopInstanceUid);
  if (numbers.length === 1) {
    // The usual request (OHIF asks one frame at a time): the frame is read into the message's buffer.
    const { head, tail } = singlePartFraming(boundary, {
      contentType: partType,
      location: `${url}/frames/${numbers[0]}`,
    });
    const message = await retrieve.frameBody(ref, numbers[0]!, target, {
      before: head.length,
      after: tail.length,
    });
    head.copy(message, 0);
    tail.copy(message, message.length - tail.length);
    return reply.type(multipartContentType(target.mediaType, boundary)).send(message);
  }
  const parts = numbers.map((n): Part => ({
    contentType: partType,
    location: `${url}/frames/${n}`,
    body: () => retrieve.frameBody(ref, n, target),
  }));
  return reply.type(multipartContentType(target.mediaType, boundary)).send(multipartBody(parts, boundary));
}

async function bulkData(
  retrieve: RetrieveService,
  request: Request,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const scope = scopeOf(request.params);
  const ref = retrieve.instance({ ...scope, sopInstanceUid: scope.sopInstanceUid! });
  const path = request.params['*'] ?? '';
  if (!/^[0-9A-Fa-f]{8}(\/\d{1,6}\/[0-9A-Fa-f]{8})*\/?$/.test(path)) {
    throw new GatewayError('BAD_REQUEST', `malformed bulk data path ${JSON.stringify(path.slice(0, 100))}`);
  }
  const bulk = retrieve.bulkData(ref, path);
  if (bulk.length === 0xffffffff) {
    // Encapsulated pixel data has no single byte range: its frames are its bulk data.
    const target = retrieve.frameTarget(ref, [{ mediaType: '*', multipart: true, transferSyntax: '*' }])!;
    const count = ref.storage.frames.kind === 'encapsulated' ? ref.storage.frames.frames.length : 1;
    const boundary = newBoundary();
    const parts = Array.from({ length: count }, (_, i): Part => ({
      contentType: `${target.mediaType}; transfer-syntax=${target.transferSyntax}`,
      body: () => retrieve.frameBody(ref, i + 1, target),
    }));
    return reply.type(multipartContentType(target.mediaType, boundary)).send(multipartBody(parts, boundary));
  }

  const offers = offersOf(request);
  const singlePart = offers.some(
    (o) => o.multipart === false && mediaTypeMatches(o.mediaType, 'application/octet-stream'),
  );
  const multipart =
    !singlePart &&
    offers.some((o) => o.multipart !== false && mediaTypeMatches(o.mediaType, 'application/octet-stream'));
  if (!singlePart && !multipart) throw notAcceptable('bulk data (use application/octet-stream)');

  const range = parseRange(request.headers.range, bulk.length);
  reply.header('accept-ranges', 'bytes');
  if (range === 'unsatisfiable') {
    return reply.code(416).header('content-range', `bytes */${bulk.length}`).send();
  }
  if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end - 1}/${bulk.length}`);
  if (singlePart || range) {
    reply.header('content-length', (range ? range.end - range.start : bulk.length).toString());
    return reply.type('application/octet-stream').send(retrieve.bulkStream(ref, bulk, range));
  }
  const boundary = newBoundary();
  const part: Part = {
    contentType: 'application/octet-stream',
    body: async () => retrieve.bulkStream(ref, bulk),
  };
  return reply
    .type(multipartContentType('application/octet-stream', boundary))
    .send(multipartBody([part], boundary));
}

/** A single byte range (RFC 9110 14.2); several ranges are answered whole, as the RFC allows. */
function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]));
    end = size;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size : Math.min(size, Number(match[2]) + 1);
  }
  if (start >= size || start >= end) return 'unsatisfiable';
  return { start, end };
}
