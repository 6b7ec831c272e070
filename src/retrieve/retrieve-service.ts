/**
 * WADO-RS retrieval in the core (no HTTP types): which instances a resource holds, how each can be
 * represented in the transfer syntax asked for, and the bytes of instances, frames and bulk data.
 */
import type { Readable } from 'node:stream';
import type { BulkDataRef } from '../dicom/dicom-json.js';
import {
  EXPLICIT_VR_BIG_ENDIAN,
  EXPLICIT_VR_LITTLE_ENDIAN,
  IMPLICIT_VR_LITTLE_ENDIAN,
  findTransferSyntax,
} from '../dicom/transfer-syntax.js';
import { GatewayError } from '../errors.js';
import type { IndexStore, StoredInstanceRef } from '../index/index-store.js';
import { withRoom, type FileStore, type Room } from '../storage/file-store.js';
import { canTranscode, TranscodeError } from '../transcode/capabilities.js';
import { decodeFrame } from '../transcode/frame-codec.js';
import type { FrameImageInfo } from '../transcode/pixel-samples.js';
import { transcodePart10 } from '../transcode/transcode-part10.js';
import { mediaTypeMatches, type Offer } from './accept.js';
import { readFrame } from './frames.js';
import { MetadataService, type Scope } from './metadata.js';
import { readStoredRange, streamStoredRange, WHOLE_READ_MAX_BYTES } from './stored-bytes.js';

/** How a frame goes out: as stored, byte-swapped from big endian, or decoded to native pixels. */
export interface FrameTarget {
  mediaType: string;
  transferSyntax: string;
  mode: 'stored' | 'swap' | 'decode';
}

const LITTLE_ENDIAN_NATIVE = new Set([EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN]);

export class RetrieveService {
  readonly metadata: MetadataService;

  constructor(
    private readonly index: IndexStore,
    private readonly store: FileStore,
  ) {
    this.metadata = new MetadataService(index);
  }

  instances(scope: Scope): StoredInstanceRef[] {
    const refs = this.index.listInstances(scope);
    if (refs.length === 0) {
      const what = scope.sopInstanceUid ?? scope.seriesInstanceUid ?? scope.studyInstanceUid;
      throw new GatewayError('NOT_FOUND', `${what} not found`);
    }
    return refs;
  }

  instance(scope: Required<Pick<Scope, 'sopInstanceUid'>> & Scope): StoredInstanceRef {
    return this.instances(scope)[0]!;
  }

  /** Whether an instance can go out in `transferSyntax` ('*' = as stored). */
  canProduce(ref: StoredInstanceRef, transferSyntax: string): boolean {
    const stored = ref.storage.transferSyntaxUid;
    return transferSyntax === '*' || transferSyntax === stored || canTranscode(stored, transferSyntax);
  }

  /** The instance as a Part 10 file: streamed from disk as stored, or transcoded. */
  async instanceBody(
    ref: StoredInstanceRef,
    transferSyntax: string,
  ): Promise<{ body: Readable | Buffer; transferSyntax: string }> {
    const stored = ref.storage.transferSyntaxUid;
    if (transferSyntax === '*' || transferSyntax === stored) {
      const body =
        ref.storage.fileSize <= WHOLE_READ_MAX_BYTES
          ? await this.store.read(ref.storage.fileKey, 0, ref.storage.fileSize)
          : this.store.createReadStream(ref.storage.fileKey);
      return { body, transferSyntax: stored };
    }
    const file = await this.store.read(ref.storage.fileKey, 0, ref.storage.fileSize);
    try {
      return { body: await transcodePart10(file, transferSyntax), transferSyntax };
    } catch (error) {
      // Some images are beyond a codec (e.g. 16-bit colour to JPEG 2000): that is "not acceptable".
      if (error instanceof TranscodeError) throw new GatewayError('NOT_ACCEPTABLE', error.message);
      throw error;
    }
  }

  /** The first representation an offer list admits for this instance's frames, or undefined (406). */
  frameTarget(ref: StoredInstanceRef, offers: Offer[]): FrameTarget | undefined {
    for (const offer of offers) {
      const target = this.frameTargetFor(ref, offer);
      if (target) return target;
    }
    return undefined;
  }

  private frameTargetFor(ref: StoredInstanceRef, offer: Offer): FrameTarget | undefined {
    const stored = ref.storage.transferSyntaxUid;
    const syntax = findTransferSyntax(stored);
    if (!syntax) return undefined;
    const native = !syntax.encapsulated;
    const storedMedia = syntax.frameMediaType;

    if (mediaTypeMatches(offer.mediaType, 'application/octet-stream') && !storedMedia.startsWith('video/')) {
      // PS3.18 Table 8.7.3-2: frames as application/octet-stream default to Explicit VR Little Endian.
      const wanted = offer.transferSyntax ?? EXPLICIT_VR_LITTLE_ENDIAN;
      if (wanted === '*') {
        if (native)
          return {
            mediaType: 'application/octet-stream',
            transferSyntax: nativeSyntax(stored),
            mode: 'stored',
          };
        return { mediaType: 'application/octet-stream', transferSyntax: stored, mode: 'stored' };
      }
      if (LITTLE_ENDIAN_NATIVE.has(wanted)) {
        if (LITTLE_ENDIAN_NATIVE.has(stored))
          return {
            mediaType: 'application/octet-stream',
            transferSyntax: EXPLICIT_VR_LITTLE_ENDIAN,
            mode: 'stored',
          };
        if (stored === EXPLICIT_VR_BIG_ENDIAN)
          return {
            mediaType: 'application/octet-stream',
            transferSyntax: EXPLICIT_VR_LITTLE_ENDIAN,
            mode: 'swap',
          };
        if (canTranscode(stored, EXPLICIT_VR_LITTLE_ENDIAN)) {
          return {
            mediaType: 'application/octet-stream',
            transferSyntax: EXPLICIT_VR_LITTLE_ENDIAN,
            mode: 'decode',
          };
        }
        return undefined;
      }
      if (wanted === stored)
        return { mediaType: 'application/octet-stream', transferSyntax: stored, mode: 'stored' };
      return undefined;
    }
    // Compressed frames go out in their own image/video media type when the client takes it.
    if (!native && offer.mediaType !== '*' && mediaTypeMatches(offer.mediaType, storedMedia)) {
      const wanted = offer.transferSyntax;
      if (wanted === undefined || wanted === '*' || wanted === stored) {
        return { mediaType: storedMedia, transferSyntax: stored, mode: 'stored' };
      }
    }
    return undefined;
  }

  /** One frame's bytes as stored. */
  readFrame(ref: StoredInstanceRef, frameNumber: number): Promise<Buffer> {
    return readFrame(this.store, ref.storage, frameNumber);
  }

  /** A frame as the target wants it, after `room.before` spare bytes when room is asked for. */
  async frameBody(
    ref: StoredInstanceRef,
    frameNumber: number,
    target: FrameTarget,
    room?: Room,
  ): Promise<Buffer> {
    if (target.mode !== 'decode') {
      // Read into place; a big endian frame is then swapped where it lies (the buffer is this call's own).
      const framed = await readFrame(this.store, ref.storage, frameNumber, room);
      if (target.mode === 'swap') {
        const data = framed.subarray(room?.before ?? 0, framed.length - (room?.after ?? 0));
        const { bitsAllocated } = this.imageInfo(ref);
        if (bitsAllocated === 16) data.swap16();
        else if (bitsAllocated === 32) data.swap32();
      }
      return framed;
    }
    const bytes = await this.readFrame(ref, frameNumber);
    try {
      const decoded = await decodeFrame(bytes, this.imageInfo(ref), ref.storage.transferSyntaxUid);
      return withRoom(decoded.pixels, room);
    } catch (error) {
      if (error instanceof TranscodeError)
        throw new GatewayError('PROCESSING_FAILURE', `frame ${frameNumber}: ${error.message}`);
      throw error;
    }
  }

  /** Image attributes from the stored metadata, for decoding frames. */
  imageInfo(ref: StoredInstanceRef): FrameImageInfo {
    const metadata = JSON.parse(this.index.getMetadata(ref.sopInstanceUid) ?? '{}') as Record<
      string,
      { Value?: unknown[] }
    >;
    const num = (tag: string, fallback: number) => Number(metadata[tag]?.Value?.[0] ?? fallback);
    const text = (tag: string, fallback: string) => String(metadata[tag]?.Value?.[0] ?? fallback);
    return {
      rows: num('00280010', 0),
      columns: num('00280011', 0),
      samplesPerPixel: num('00280002', 1),
      bitsAllocated: num('00280100', 16),
      bitsStored: num('00280101', num('00280100', 16)),
      highBit: num('00280102', num('00280101', 16) - 1),
      pixelRepresentation: num('00280103', 0),
      photometricInterpretation: text('00280004', 'MONOCHROME2'),
      planarConfiguration: num('00280006', 0),
    };
  }

  bulkData(ref: StoredInstanceRef, path: string): BulkDataRef {
    const normalized = path.replace(/\/+$/, '').toUpperCase();
    const bulk = ref.storage.bulk.find((b) => b.path.toUpperCase() === normalized);
    if (!bulk)
      throw new GatewayError('NOT_FOUND', `no bulk data at ${path} in instance ${ref.sopInstanceUid}`);
    return bulk;
  }

  bulkStream(ref: StoredInstanceRef, bulk: BulkDataRef, range?: { start: number; end: number }): Readable {
    const start = bulk.offset + (range?.start ?? 0);
    const end = bulk.offset + (range?.end ?? bulk.length);
    return streamStoredRange(this.store, ref.storage, { offset: start, length: end - start });
  }

  readBulk(ref: StoredInstanceRef, bulk: BulkDataRef): Promise<Buffer> {
    return readStoredRange(this.store, ref.storage, bulk);
  }
}

/** Native pixel data keeps its byte order; implicit and explicit little endian frames are the same bytes. */
function nativeSyntax(stored: string): string {
  return stored === EXPLICIT_VR_BIG_ENDIAN ? EXPLICIT_VR_BIG_ENDIAN : EXPLICIT_VR_LITTLE_ENDIAN;
}
