/**
 * WADO-RS rendered resources and thumbnails (PS3.18 10.4.1.1.3, 10.4.1.1.4).
 *
 * - instance: one image (the first frame of a multi-frame instance) as image/jpeg (default) or
 *   image/png; all frames as image/gif or as multipart/related of images;
 * - frames: the listed frames, one image or a multipart (or a GIF);
 * - series and study: multipart/related, one rendered image per image instance;
 * - thumbnails: one small image of the representative frame; 204 when nothing in scope is an image;
 * - Encapsulated PDF and video instances render as their document or video stream when accepted.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { findTransferSyntax } from '../../dicom/transfer-syntax.js';
import { GatewayError } from '../../errors.js';
import type { StoredInstanceRef } from '../../index/index-store.js';
import { acceptedOffers, mediaTypeMatches, type Offer } from '../../retrieve/accept.js';
import { parseFrameList } from '../../retrieve/frames.js';
import {
  multipartBody,
  multipartContentType,
  newBoundary,
  type Part,
} from '../../retrieve/multipart-writer.js';
import { parseRenderParams, type RenderParams } from '../../retrieve/render-params.js';
import {
  THUMBNAIL_VIEWPORT,
  type RenderedMediaType,
  type RenderedService,
} from '../../retrieve/rendered-service.js';
import type { RetrieveService } from '../../retrieve/retrieve-service.js';
import { queryPairs } from '../request-url.js';
import { scopeOf } from './wado.js';

type Params = { study: string; series?: string; instance?: string; frames?: string };
type Request = FastifyRequest<{ Params: Params }>;

const ENCAPSULATED_PDF = '1.2.840.10008.5.1.4.1.1.104.1';
const DOCUMENT_TAG = '00420011';

/** What a rendered request may come back as, in the client's order of preference. */
interface Choice {
  mediaType: RenderedMediaType;
  multipart: boolean;
}

function offersOf(request: Request): Offer[] {
  const query = queryPairs(request.url)
    .filter(([key]) => key.toLowerCase() === 'accept')
    .map(([, value]) => value);
  return acceptedOffers(request.headers.accept, query);
}

/** The first image representation the offers admit; `*` means JPEG (PS3.18 8.7.4: image/jpeg default). */
function chooseImage(
  offers: Offer[],
  allowGif: boolean,
  allowMultipart: boolean,
  allowSingle: boolean,
): Choice | undefined {
  for (const offer of offers) {
    for (const mediaType of ['image/jpeg', 'image/png', 'image/gif'] as const) {
      if (mediaType === 'image/gif' && !allowGif) continue;
      if (
        offer.mediaType === '*' ? mediaType !== 'image/jpeg' : !mediaTypeMatches(offer.mediaType, mediaType)
      )
        continue;
      const multipart = offer.multipart ?? !allowSingle;
      if ((multipart && !allowMultipart) || (!multipart && !allowSingle)) continue;
      if (mediaType === 'image/gif' && multipart) continue;
      return { mediaType, multipart };
    }
  }
  return undefined;
}

function notAcceptable(what: string): GatewayError {
  return new GatewayError('NOT_ACCEPTABLE', `${what} cannot be rendered as any of the accepted media types`);
}

export function registerRenderedRoutes(
  app: FastifyInstance,
  retrieve: RetrieveService,
  rendered: RenderedService,
): void {
  const instancePath = '/studies/:study/series/:series/instances/:instance';
  for (const path of ['/studies/:study', '/studies/:study/series/:series']) {
    app.get<{ Params: Params }>(`${path}/rendered`, (request, reply) =>
      renderScope(rendered, request, reply),
    );
  }
  app.get<{ Params: Params }>(`${instancePath}/rendered`, (request, reply) =>
    renderInstance(rendered, retrieve, request, reply),
  );
  app.get<{ Params: Params }>(`${instancePath}/frames/:frames/rendered`, (request, reply) =>
    renderFrames(rendered, retrieve, request, reply),
  );
  for (const path of [
    '/studies/:study',
    '/studies/:study/series/:series',
    instancePath,
    `${instancePath}/frames/:frames`,
  ]) {
    app.get<{ Params: Params }>(`${path}/thumbnail`, (request, reply) =>
      thumbnail(rendered, retrieve, request, reply),
    );
  }
}

function paramsOf(request: Request, thumbnail = false): RenderParams {
  const params = parseRenderParams(queryPairs(request.url));
  if (thumbnail && !params.viewport) params.viewport = THUMBNAIL_VIEWPORT;
  return params;
}

async function sendImage(
  reply: FastifyReply,
  request: Request,
  produce: () => Promise<{ bytes: Buffer; etag: string }>,
  etag: string,
  mediaType: string,
): Promise<FastifyReply> {
  reply.header('etag', etag).header('cache-control', 'private, no-cache');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  const { bytes } = await produce();
  return reply.type(mediaType).send(bytes);
}

async function renderInstance(
  rendered: RenderedService,
  retrieve: RetrieveService,
  request: Request,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const scope = scopeOf(request.params);
  const ref = retrieve.instance({ ...scope, sopInstanceUid: scope.sopInstanceUid! });
  const offers = offersOf(request);
  if (!rendered.renderable(ref)) return renderNonImage(retrieve, ref, offers, reply);
  const params = paramsOf(request);
  const frames = rendered.frames(ref);
  const choice = chooseImage(offers, frames > 1, true, true);
  if (!choice) throw notAcceptable(`instance ${ref.sopInstanceUid}`);
  if (choice.mediaType === 'image/gif') {
    return sendImage(
      reply,
      request,
      () => rendered.renderGif(ref, params),
      rendered.etag(ref, 'all', params, 'image/gif'),
      'image/gif',
    );
  }
  const numbers = Array.from({ length: frames }, (_, i) => i + 1);
  return sendFrames(rendered, ref, numbers, params, choice.mediaType, choice.multipart, request, reply);
}

async function renderFrames(
  rendered: RenderedService,
  retrieve: RetrieveService,
  request: Request,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const scope = scopeOf(request.params);
  const ref = retrieve.instance({ ...scope, sopInstanceUid: scope.sopInstanceUid! });
  const numbers = parseFrameList(request.params.frames ?? '', ref.storage);
  if (!rendered.renderable(ref))
    throw new GatewayError('NOT_FOUND', `instance ${ref.sopInstanceUid} has no image to render`);
  const params = paramsOf(request);
  const choice = chooseImage(offersOf(request), false, true, numbers.length === 1);
  if (!choice || choice.mediaType === 'image/gif') throw notAcceptable(`frames of ${ref.sopInstanceUid}`);
  return sendFrames(rendered, ref, numbers, params, choice.mediaType, choice.multipart, request, reply);
}

/** The first frame alone as a single image, or every frame as a multipart of images. */
async function sendFrames(
  rendered: RenderedService,
  ref: StoredInstanceRef,
  numbers: number[],
  params: RenderParams,
  mediaType: Exclude<RenderedMediaType, 'image/gif'>,
  multipart: boolean,
  request: Request,
  reply: FastifyReply,
): Promise<FastifyReply> {
  if (!multipart) {
    const frame = numbers[0]!;
    return sendImage(
      reply,
      request,
      () => rendered.render(ref, frame, params, mediaType),
      rendered.etag(ref, frame, params, mediaType),
      mediaType,
    );
  }
  return sendParts(
    reply,
    mediaType,
    numbers.map((n) => renderedPart(rendered, ref, n, params, mediaType)),
  );
}

async function renderScope(
  rendered: RenderedService,
  request: Request,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const scope = scopeOf(request.params);
  const refs = rendered.renderableInstances(scope);
  if (refs.length === 0) throw new GatewayError('NOT_FOUND', 'nothing in this scope is an image to render');
  const params = paramsOf(request);
  const choice = chooseImage(offersOf(request), false, true, false);
  if (!choice || choice.mediaType === 'image/gif') throw notAcceptable('these instances');
  const mediaType = choice.mediaType;
  // One unrenderable image must not sink the rest of the study: it is left out and logged.
  const parts = refs.map((ref): Part => ({
    ...renderedPart(rendered, ref, 1, params, mediaType),
    onError: (error) => {
      request.log.warn(
        { err: error, sopInstanceUid: ref.sopInstanceUid },
        'left an unrenderable instance out',
      );
      return 'skip';
    },
  }));
  return sendParts(reply, mediaType, parts);
}

async function thumbnail(
  rendered: RenderedService,
  retrieve: RetrieveService,
  request: Request,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const scope = scopeOf(request.params);
  let target: { ref: StoredInstanceRef; frame: number } | undefined;
  if (request.params.frames !== undefined) {
    const ref = retrieve.instance({ ...scope, sopInstanceUid: scope.sopInstanceUid! });
    const [frame] = parseFrameList(request.params.frames, ref.storage);
    target = rendered.renderable(ref) ? { ref, frame: frame! } : undefined;
  } else {
    target = rendered.representative(scope);
  }
  // Nothing in scope is an image (SR, PDF, video): no content, which viewers show as a placeholder.
  if (!target) return reply.code(204).send();
  const params = paramsOf(request, true);
  const choice = chooseImage(offersOf(request), false, false, true);
  if (!choice || choice.mediaType === 'image/gif') throw notAcceptable('the thumbnail');
  const { ref, frame } = target;
  const mediaType = choice.mediaType;
  return sendImage(
    reply,
    request,
    () => rendered.render(ref, frame, params, mediaType),
    rendered.etag(ref, frame, params, mediaType),
    mediaType,
  );
}

function renderedPart(
  rendered: RenderedService,
  ref: StoredInstanceRef,
  frame: number,
  params: RenderParams,
  mediaType: 'image/jpeg' | 'image/png',
): Part {
  return {
    contentType: mediaType,
    body: async () => (await rendered.render(ref, frame, params, mediaType)).bytes,
  };
}

function sendParts(reply: FastifyReply, mediaType: string, parts: Part[]): FastifyReply {
  const boundary = newBoundary();
  return reply.type(multipartContentType(mediaType, boundary)).send(multipartBody(parts, boundary));
}

/** Encapsulated PDF renders as the document, video as its stream; anything else has no rendering. */
async function renderNonImage(
  retrieve: RetrieveService,
  ref: StoredInstanceRef,
  offers: Offer[],
  reply: FastifyReply,
): Promise<FastifyReply> {
  if (
    ref.sopClassUid === ENCAPSULATED_PDF &&
    offers.some((o) => mediaTypeMatches(o.mediaType, 'application/pdf'))
  ) {
    const bulk = retrieve.bulkData(ref, DOCUMENT_TAG);
    return reply.type('application/pdf').send(retrieve.bulkStream(ref, bulk));
  }
  const syntax = findTransferSyntax(ref.storage.transferSyntaxUid);
  if (
    ref.storage.frames.kind === 'video' &&
    syntax &&
    offers.some((o) => mediaTypeMatches(o.mediaType, syntax.frameMediaType))
  ) {
    return reply.type(syntax.frameMediaType).send(await retrieve.readFrame(ref, 1));
  }
  throw new GatewayError(
    'NOT_FOUND',
    `instance ${ref.sopInstanceUid} has no image to render (SOP class ${ref.sopClassUid})`,
  );
}
