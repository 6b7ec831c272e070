/**
 * Helpers for the render tests: a Part-10 file turned into what the renderer is given in the gateway (the
 * stored DICOM JSON, one frame's stored bytes, the transfer syntax and a bulk data reader), read with the
 * gateway's own reader, JSON encoder and frame layout; and dcmtk's rendering of the same file as raw pixels.
 */
import { readFile } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';
import sharp from 'sharp';
import { DatasetReader } from '../../../src/dicom/dataset-reader.js';
import { encodeDicomJson, type DicomJsonDataset } from '../../../src/dicom/dicom-json.js';
import { computeFrameLayout } from '../../../src/dicom/frame-layout.js';
import type { RenderRequest } from '../../../src/render/render.js';
import { execFile } from '../../helpers/dcmtk.js';

export interface LoadedInstance {
  metadata: DicomJsonDataset;
  transferSyntaxUid: string;
  /** Each frame's bytes as stored: native pixels, or the frame's fragments concatenated. */
  frames: Buffer[];
  readBulk(path: string): Promise<Buffer>;
  /** A render request for frame `index` (0-based), without media type. */
  request(index?: number): Omit<RenderRequest, 'mediaType'>;
}

export function loadInstanceBytes(bytes: Buffer): LoadedInstance {
  const reader = new DatasetReader();
  const rest = reader.write(bytes);
  // Deflated: the reader hands back the deflated stream; offsets then count in the inflated dataset.
  let data = bytes;
  if (rest) {
    data = inflateRawSync(rest);
    reader.write(data);
  }
  const parsed = reader.end();
  const { json, bulk } = encodeDicomJson(parsed.dataset, {
    bulkDataUriPrefix: 'studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.5/bulkdata/',
  });
  const layout = computeFrameLayout(parsed.dataset, parsed.transferSyntax);
  const slice = (r: { offset: number; length: number }): Buffer =>
    data.subarray(r.offset, r.offset + r.length);
  let frames: Buffer[];
  if (layout.kind === 'native') {
    frames = Array.from({ length: layout.count }, (_, i) =>
      slice({ offset: layout.offset + i * layout.frameLength, length: layout.frameLength }),
    );
  } else if (layout.kind === 'encapsulated') {
    frames = layout.frames.map((ranges) => Buffer.concat(ranges.map(slice)));
  } else {
    frames = [];
  }
  const bulkByPath = new Map(bulk.map((ref) => [ref.path, ref]));
  const readBulk = async (path: string): Promise<Buffer> => {
    const ref = bulkByPath.get(path);
    if (!ref) throw new Error(`no bulk data at ${path}`);
    return slice(ref);
  };
  const transferSyntaxUid = parsed.transferSyntax.uid;
  return {
    metadata: json,
    transferSyntaxUid,
    frames,
    readBulk,
    request: (index = 0) => {
      const frame = frames[index];
      if (!frame) throw new Error(`no frame ${index}`);
      return { metadata: json, frame, transferSyntaxUid, readBulk, frameNumber: index + 1 };
    },
  };
}

export async function loadInstance(path: string): Promise<LoadedInstance> {
  return loadInstanceBytes(await readFile(path));
}

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

/** Decodes an encoded image (PNG, JPEG, GIF's first frame) to raw pixels, keeping grayscale one channel. */
export async function decodeImage(bytes: Buffer): Promise<RawImage> {
  const meta = await sharp(bytes).metadata();
  const gray = meta.channels === 1 || meta.space === 'b-w';
  const image = gray ? sharp(bytes).toColourspace('b-w') : sharp(bytes).removeAlpha();
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/**
 * dcmtk's rendering of a file (dcm2pnm, or dcmj2pnm/dcml2pnm for JPEG/JPEG-LS input) to 8-bit PNG, as raw
 * pixels. `options` are dcm2pnm's image processing options, e.g. ['+Wi', '1'] or ['+F', '3'].
 */
export async function dcmtkRender(
  tool: 'dcm2pnm' | 'dcmj2pnm' | 'dcml2pnm',
  path: string,
  options: string[],
): Promise<RawImage> {
  const out = `${path}.${options.join('_').replace(/[^\w.-]+/g, '')}.png`;
  await execFile(tool, ['--write-png', '--nointerlace', ...options, path, out], { maxBuffer: 64 << 20 });
  return decodeImage(await readFile(out));
}

/** Mean absolute difference of two raw images of the same size and channel count (0..255). */
export function meanAbsoluteDifference(a: RawImage, b: RawImage): number {
  if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels) {
    throw new Error(
      `images differ in shape: ${a.width}x${a.height}x${a.channels} vs ${b.width}x${b.height}x${b.channels}`,
    );
  }
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
}

/** Largest absolute difference of two raw images of the same shape. */
export function maxAbsoluteDifference(a: RawImage, b: RawImage): number {
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i]! - b.data[i]!));
  return max;
}
