/**
 * Rendered images and thumbnails (PS3.18 10.4.1.1.3, 10.4.1.1.4) produced on demand from the one stored
 * copy: the frame's bytes by the recorded offsets, the image attributes from the stored metadata, the
 * pixel pipeline in src/render. Results are cached by (instance content, frame, parameters, type).
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { DicomJsonDataset } from '../dicom/dicom-json.js';
import { frameCount } from '../dicom/frame-layout.js';
import { GatewayError } from '../errors.js';
import type { IndexStore, StoredInstanceRef } from '../index/index-store.js';
import {
  renderAnimatedGif,
  renderFrame,
  isRenderable,
  RenderError,
  type FrameRequest,
} from '../render/render.js';
import type { FileStore } from '../storage/file-store.js';
import { readFrame } from './frames.js';
import { LruCache } from './lru-cache.js';
import type { Scope } from './metadata.js';
import { renderParamsKey, type RenderParams } from './render-params.js';
import { readStoredRange } from './stored-bytes.js';
import { WorkLimiter } from './work-limiter.js';

export type RenderedMediaType = 'image/jpeg' | 'image/png' | 'image/gif';

export interface RenderedImage {
  bytes: Buffer;
  etag: string;
}

/** Thumbnails are small unless a viewport says otherwise. */
export const THUMBNAIL_VIEWPORT = { width: 128, height: 128 };

export class RenderedService {
  private readonly cache: LruCache<string, Buffer>;
  private readonly limiter = new WorkLimiter(Math.max(1, availableParallelism()));

  constructor(
    private readonly index: IndexStore,
    private readonly store: FileStore,
    cacheBytes: number,
  ) {
    this.cache = new LruCache(cacheBytes, (b) => b.length);
  }

  /** Drops cached images of deleted instances, so their pixels do not linger in memory. */
  forget(sopInstanceUids: readonly string[]): void {
    const gone = new Set(sopInstanceUids);
    this.cache.deleteWhere((key) => gone.has(key.slice(0, key.indexOf('|'))));
  }

  metadataOf(ref: StoredInstanceRef): DicomJsonDataset {
    const text = this.index.getMetadata(ref.sopInstanceUid);
    if (!text) throw new GatewayError('NOT_FOUND', `instance ${ref.sopInstanceUid} not found`);
    return JSON.parse(text) as DicomJsonDataset;
  }

  /** Has frames of pixel data (checked from the frame layout, without parsing metadata). */
  renderable(ref: StoredInstanceRef): boolean {
    return ref.storage.frames.kind === 'native' || ref.storage.frames.kind === 'encapsulated';
  }

  frames(ref: StoredInstanceRef): number {
    return frameCount(ref.storage.frames);
  }

  /** The instances in scope that have an image, in series then instance order; 404 when the scope is empty. */
  renderableInstances(scope: Scope): StoredInstanceRef[] {
    const refs = this.index.listInstances(scope);
    if (refs.length === 0) {
      throw new GatewayError(
        'NOT_FOUND',
        `${scope.sopInstanceUid ?? scope.seriesInstanceUid ?? scope.studyInstanceUid} not found`,
      );
    }
    return refs.filter((ref) => this.renderable(ref));
  }

  /**
   * The image a thumbnail of this scope shows: for a series the middle instance (by instance number), for
   * a study its first series with an image; the middle frame of a multi-frame instance. Undefined when
   * nothing in scope is an image (SR, PDF, video...).
   */
  representative(scope: Scope): { ref: StoredInstanceRef; frame: number } | undefined {
    const bySeries = new Map<string, StoredInstanceRef[]>();
    for (const ref of this.renderableInstances(scope)) {
      const list = bySeries.get(ref.seriesInstanceUid) ?? [];
      list.push(ref);
      bySeries.set(ref.seriesInstanceUid, list);
    }
    const first = bySeries.values().next().value as StoredInstanceRef[] | undefined;
    if (!first) return undefined;
    const ref = first[Math.floor((first.length - 1) / 2)]!;
    return { ref, frame: Math.floor((this.frames(ref) - 1) / 2) + 1 };
  }

  etag(
    ref: StoredInstanceRef,
    frame: number | 'all',
    params: RenderParams,
    mediaType: RenderedMediaType,
  ): string {
    return `"r-${hash(cacheKey(ref, frame, params, mediaType))}"`;
  }

  async render(
    ref: StoredInstanceRef,
    frame: number,
    params: RenderParams,
    mediaType: Exclude<RenderedMediaType, 'image/gif'>,
  ): Promise<RenderedImage> {
    const key = cacheKey(ref, frame, params, mediaType);
    const etag = this.etag(ref, frame, params, mediaType);
    const cached = this.cache.get(key);
    if (cached) return { bytes: cached, etag };
    const request = await this.request(ref, frame, params);
    const { bytes } = await this.limiter.run(() =>
      renderFrame({ ...request, mediaType, quality: params.quality }).catch((error: unknown) => {
        throw asGatewayError(error, ref, frame);
      }),
    );
    this.cache.set(key, bytes);
    return { bytes, etag };
  }

  async renderGif(ref: StoredInstanceRef, params: RenderParams): Promise<RenderedImage> {
    const key = cacheKey(ref, 'all', params, 'image/gif');
    const etag = this.etag(ref, 'all', params, 'image/gif');
    const cached = this.cache.get(key);
    if (cached) return { bytes: cached, etag };
    const requests: FrameRequest[] = [];
    for (let frame = 1; frame <= this.frames(ref); frame++)
      requests.push(await this.request(ref, frame, params));
    const bytes = await this.limiter.run(() =>
      renderAnimatedGif(requests).catch((error: unknown) => {
        throw asGatewayError(error, ref, 0);
      }),
    );
    this.cache.set(key, bytes);
    return { bytes, etag };
  }

  private async request(ref: StoredInstanceRef, frame: number, params: RenderParams): Promise<FrameRequest> {
    const metadata = this.metadataOf(ref);
    if (!this.renderable(ref) || !isRenderable(metadata)) {
      throw new GatewayError('NOT_FOUND', `instance ${ref.sopInstanceUid} has no image to render`);
    }
    if (frame < 1 || frame > this.frames(ref)) {
      throw new GatewayError(
        'NOT_FOUND',
        `frame ${frame} does not exist (the instance has ${this.frames(ref)})`,
      );
    }
    return {
      metadata,
      frameNumber: frame,
      frame: await readFrame(this.store, ref.storage, frame),
      transferSyntaxUid: ref.storage.transferSyntaxUid,
      readBulk: (path: string) => {
        const bulk = ref.storage.bulk.find((b) => b.path.toUpperCase() === path.toUpperCase());
        if (!bulk) throw new GatewayError('PROCESSING_FAILURE', `bulk data ${path} is not stored`);
        return readStoredRange(this.store, ref.storage, bulk);
      },
      window: params.window,
      viewport: params.viewport,
    };
  }
}

function cacheKey(
  ref: StoredInstanceRef,
  frame: number | 'all',
  params: RenderParams,
  mediaType: string,
): string {
  // The dataset hash makes a replaced instance a different entry.
  return `${ref.sopInstanceUid}|${ref.storage.datasetSha256}|${frame}|${renderParamsKey(params)}|${mediaType}`;
}

function asGatewayError(error: unknown, ref: StoredInstanceRef, frame: number): unknown {
  if (!(error instanceof RenderError)) return error;
  const message = `cannot render frame ${frame} of ${ref.sopInstanceUid}: ${error.message}`;
  switch (error.reason) {
    case 'invalid-parameter':
      return new GatewayError('BAD_REQUEST', message);
    case 'unsupported':
      return new GatewayError('NOT_ACCEPTABLE', message);
    case 'corrupt':
      return new GatewayError('PROCESSING_FAILURE', message);
  }
}

function hash(text: string): string {
  return createHash('sha1').update(text).digest('base64url').slice(0, 22);
}
