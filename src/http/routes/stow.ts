/**
 * STOW-RS (PS3.18 10.5): POST /studies and /studies/{study}. Bodies are read as streams, part by part,
 * each part piped into the ingest pipeline: multipart/related of application/dicom, a single
 * application/dicom body, or multipart/form-data file fields (curl -F).
 */
import busboy from 'busboy';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { GatewayCore } from '../../core.js';
import { isValidUid } from '../../dicom/uid.js';
import { GatewayError, toGatewayError } from '../../errors.js';
import type { BeginOptions } from '../../ingest/store-instance.js';
import { requestOrigin } from '../../observability/context.js';
import { parseMediaType } from '../media-type.js';
import { MultipartError, MultipartReader } from '../multipart-related-reader.js';
import { publicBase } from '../request-url.js';
import { StowPipeline } from '../stow-pipeline.js';
import { stowResponse, type PartResult } from '../stow-response.js';

export function registerStowRoutes(app: FastifyInstance, core: GatewayCore): void {
  const slots = new UploadSlots(core.config.limits.maxConcurrentUploads);
  const limited = async (request: FastifyRequest, reply: FastifyReply, study: string | undefined) => {
    if (!slots.acquire()) {
      // The body is left unread, so the connection cannot carry another request.
      reply.header('retry-after', String(RETRY_AFTER_SECONDS)).header('connection', 'close');
      throw new GatewayError(
        'TOO_MANY_REQUESTS',
        `${slots.max} uploads are in progress (limits.maxConcurrentUploads); retry in ${RETRY_AFTER_SECONDS} s`,
      );
    }
    try {
      return await store(core, request, reply, study);
    } finally {
      slots.release();
    }
  };
  app.post('/studies', (request, reply) => limited(request, reply, undefined));
  app.post<{ Params: { study: string } }>('/studies/:study', (request, reply) =>
    limited(request, reply, request.params.study),
  );
}

const RETRY_AFTER_SECONDS = 1;

class UploadSlots {
  private active = 0;
  constructor(readonly max: number) {}
  acquire(): boolean {
    if (this.active >= this.max) return false;
    this.active++;
    return true;
  }
  release(): void {
    this.active--;
  }
}

async function store(
  core: GatewayCore,
  request: FastifyRequest,
  reply: FastifyReply,
  pathStudyUid: string | undefined,
): Promise<FastifyReply> {
  if (pathStudyUid !== undefined && !isValidUid(pathStudyUid)) {
    throw new GatewayError(
      'BAD_REQUEST',
      `study UID in the path is not a valid UID: ${JSON.stringify(pathStudyUid.slice(0, 80))}`,
    );
  }
  const { maxBodyBytes } = core.config.limits;
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBodyBytes) {
    reply.header('connection', 'close');
    throw new GatewayError(
      'PAYLOAD_TOO_LARGE',
      `request body of ${declared} bytes is over the limit of ${maxBodyBytes}`,
    );
  }
  const mediaType = parseMediaType(request.headers['content-type']);
  if (!mediaType) {
    throw new GatewayError(
      'UNSUPPORTED_MEDIA_TYPE',
      'a Content-Type of multipart/related; type="application/dicom" is required',
    );
  }
  const begin: BeginOptions = {
    door: 'stow',
    expectedStudyInstanceUid: pathStudyUid,
    // Who sent the instances, for the audit trail.
    origin: requestOrigin(request),
    // Ingest's lines about them name the request (the process logger: request.log says door "http").
    log: core.log.child({ reqId: String(request.id) }),
  };
  const body = limitBody(request.raw, maxBodyBytes);
  const results: PartResult[] = [];
  let malformed: GatewayError | undefined;

  try {
    switch (mediaType.type) {
      case 'multipart/related':
        await readRelated(core, mediaType.params, body, begin, results);
        break;
      case 'application/dicom':
        results.push(await core.ingest.ingestStream(body, begin));
        break;
      case 'multipart/form-data':
        await readFormData(core, request.raw, body, begin, results);
        break;
      default:
        throw new GatewayError(
          'UNSUPPORTED_MEDIA_TYPE',
          `unsupported Content-Type ${mediaType.type}: use multipart/related; type="application/dicom", application/dicom or multipart/form-data`,
        );
    }
  } catch (error) {
    const failure =
      error instanceof MultipartError
        ? new GatewayError('BAD_REQUEST', error.message)
        : toGatewayError(error);
    // An oversize body stops the upload outright; whatever was stored before it stays stored.
    if (
      failure.code === 'PAYLOAD_TOO_LARGE' ||
      failure.code === 'UNSUPPORTED_MEDIA_TYPE' ||
      results.length === 0
    ) {
      if (failure.code === 'PAYLOAD_TOO_LARGE') reply.header('connection', 'close');
      throw failure;
    }
    malformed = failure;
    results.push({
      ok: false,
      error: new GatewayError('INVALID_DICOM', failure.message),
      instance: {},
      bytes: 0,
    });
  }

  if (results.length === 0) throw new GatewayError('BAD_REQUEST', 'the request body holds no DICOM instance');
  const base = publicBase(request, core.config.http.publicBaseUrl, core.config.http.root);
  const response = stowResponse(results, base, pathStudyUid);
  const stored = results.some((r) => r.ok);
  const status = malformed && !stored ? 400 : response.status;
  for (const warning of response.warnings.slice(0, 20)) {
    // A header value must be Latin-1 without controls (else Node throws, a 500); failure messages quote
    // hostile values, so anything but printable ASCII goes.
    const text = warning.replace(/["\\]/g, ' ').replace(/[^\x20-\x7e]/g, '?');
    reply.header('warning', `299 dicomweb-gateway "${text.slice(0, 300)}"`);
  }
  return reply.code(status).type('application/dicom+json').send(response.body);
}

async function readRelated(
  core: GatewayCore,
  params: Record<string, string>,
  body: AsyncIterable<Buffer>,
  begin: BeginOptions,
  results: PartResult[],
): Promise<void> {
  const rootType = params.type?.toLowerCase();
  if (rootType !== undefined && rootType !== 'application/dicom') {
    throw new GatewayError(
      'UNSUPPORTED_MEDIA_TYPE',
      `multipart/related of ${rootType} is not supported: send type="application/dicom" (Part 10 instances)`,
    );
  }
  if (!params.boundary)
    throw new GatewayError('BAD_REQUEST', 'multipart Content-Type has no boundary parameter');
  const reader = MultipartReader.from(body, params.boundary);
  const pipeline = new StowPipeline(results);
  try {
    for (let part = await reader.nextPart(); part; part = await reader.nextPart()) {
      checkPartCount(core, pipeline.parts);
      const partType = parseMediaType(part.headers['content-type']);
      if (partType && partType.type !== 'application/dicom') {
        for await (const _chunk of part.body) {
          // drain the part: only its end tells where the next one starts
        }
        const refused: PartResult = {
          ok: false,
          error: new GatewayError(
            'UNSUPPORTED_MEDIA_TYPE',
            `part of type ${partType.type} is not application/dicom`,
          ),
          instance: {},
          bytes: 0,
        };
        await pipeline.refuse(refused);
        continue;
      }
      await pipeline.add(await core.ingest.receive(part.body, begin));
    }
  } finally {
    // Parts already taken in are stored and reported even when a later one breaks the request.
    await pipeline.drain();
  }
}

async function readFormData(
  core: GatewayCore,
  raw: IncomingMessage,
  body: AsyncIterable<Buffer>,
  begin: BeginOptions,
  results: PartResult[],
): Promise<void> {
  const parser = busboy({ headers: raw.headers, limits: { fieldSize: 64 * 1024 } });
  let chain = Promise.resolve();
  const done = new Promise<void>((resolve, reject) => {
    parser.on('file', (_name, file) => {
      // busboy pauses on each file until its stream is read, so parts are stored one after another.
      chain = chain.then(async () => {
        checkPartCount(core, results.length);
        results.push(await core.ingest.ingestStream(file, begin));
      });
      chain.catch(reject);
    });
    parser.on('error', reject);
    parser.on('close', () => chain.then(resolve, reject));
  });
  const source = Readable.from(body);
  source.on('error', (error) => parser.destroy(error));
  source.pipe(parser);
  await done;
}

function checkPartCount(core: GatewayCore, parts: number): void {
  const max = core.config.limits.maxStowParts;
  if (parts >= max) {
    throw new GatewayError(
      'PAYLOAD_TOO_LARGE',
      `the request has more than ${max} parts (limits.maxStowParts); the first ${max} were processed`,
    );
  }
}

/** The request body as chunks, failing with 413 as soon as it passes the limit. */
async function* limitBody(raw: IncomingMessage, limit: number): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of raw) {
    total += (chunk as Buffer).length;
    if (total > limit)
      throw new GatewayError('PAYLOAD_TOO_LARGE', `request body is over the limit of ${limit} bytes`);
    yield chunk as Buffer;
  }
}
