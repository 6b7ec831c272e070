/**
 * Helpers for the transcode tests: transfer syntax UIDs the generator does not name, a Part 10 file read into
 * its image attributes and stored frames with the gateway's own reader, and the test generator's frame in
 * the representation a decoded file reports.
 */
import assert from 'node:assert/strict';
import { DatasetReader, type ParsedDicom } from '../../../src/dicom/dataset-reader.js';
import { computeFrameLayout } from '../../../src/dicom/frame-layout.js';
import { Tag } from '../../../src/dicom/tags.js';
import { getNumber, getString } from '../../../src/dicom/values.js';
import type { FrameImageInfo } from '../../../src/transcode/pixel-samples.js';
import { generateFrame, resolveImage, type ImageSpec } from '../../helpers/dicom-generator.js';

export const HTJ2K_LOSSLESS = '1.2.840.10008.1.2.4.201';
export const HTJ2K_LOSSLESS_RPCL = '1.2.840.10008.1.2.4.202';
export const HTJ2K = '1.2.840.10008.1.2.4.203';
export const JPEG_XL_LOSSLESS = '1.2.840.10008.1.2.4.110';
export const ENCAPSULATED_UNCOMPRESSED = '1.2.840.10008.1.2.1.98';
export const MPEG2 = '1.2.840.10008.1.2.4.100';
export const MPEG4 = '1.2.840.10008.1.2.4.102';
export const J2K_PART2 = '1.2.840.10008.1.2.4.92';

export interface ParsedImage {
  parsed: ParsedDicom;
  info: FrameImageInfo;
  /** Each frame's bytes as stored: native bytes, or the frame's fragments concatenated. */
  frames: Buffer[];
}

export function parse(bytes: Buffer): ParsedImage {
  const reader = new DatasetReader();
  reader.write(bytes);
  const parsed = reader.end();
  assert.equal(parsed.deflated, false, 'helper reads non-deflated files only');
  const { dataset } = parsed;
  const layout = computeFrameLayout(dataset, parsed.transferSyntax);
  let frames: Buffer[];
  if (layout.kind === 'native') {
    frames = Array.from({ length: layout.count }, (_, i) =>
      bytes.subarray(layout.offset + i * layout.frameLength, layout.offset + (i + 1) * layout.frameLength),
    );
  } else if (layout.kind === 'encapsulated') {
    frames = layout.frames.map((ranges) =>
      Buffer.concat(ranges.map((r) => bytes.subarray(r.offset, r.offset + r.length))),
    );
  } else {
    throw new Error(`unexpected frame layout ${layout.kind}`);
  }
  const bitsAllocated = getNumber(dataset, Tag.BitsAllocated) ?? 0;
  const info: FrameImageInfo = {
    rows: getNumber(dataset, Tag.Rows) ?? 0,
    columns: getNumber(dataset, Tag.Columns) ?? 0,
    samplesPerPixel: getNumber(dataset, Tag.SamplesPerPixel) ?? 1,
    bitsAllocated,
    bitsStored: getNumber(dataset, Tag.BitsStored) ?? bitsAllocated,
    highBit: getNumber(dataset, Tag.HighBit) ?? bitsAllocated - 1,
    pixelRepresentation: getNumber(dataset, Tag.PixelRepresentation) ?? 0,
    photometricInterpretation: getString(dataset, Tag.PhotometricInterpretation) ?? '',
    planarConfiguration: getNumber(dataset, Tag.PlanarConfiguration) ?? 0,
  };
  return { parsed, info, frames };
}

/** YBR_FULL_422 native bytes expanded to YBR_FULL (chroma repeated), as the encoders receive them. */
function expand422(data: Buffer, pixels: number): Buffer {
  const out = Buffer.alloc(pixels * 3);
  for (let p = 0, i = 0; p < pixels; p += 2, i += 4) {
    out.set([data[i]!, data[i + 2]!, data[i + 3]!, data[i + 1]!, data[i + 2]!, data[i + 3]!], p * 3);
  }
  return out;
}

/**
 * The generator's frame k in the representation a decoded file reports: same picture, in the photometric
 * interpretation and planar configuration given (RGB for decoded YBR JPEG and YBR_RCT, YBR_FULL for
 * expanded YBR_FULL_422).
 */
export function expectedFrame(image: ImageSpec, k: number, photometric: string, planar: number): Buffer {
  const source = resolveImage(image).photometric;
  const layout = { planarConfiguration: planar as 0 | 1 };
  if (photometric === 'RGB' && source !== 'RGB')
    return generateFrame({ ...image, ...layout, photometric: 'RGB' }, k);
  if (photometric === 'YBR_FULL' && source === 'YBR_FULL_422') {
    return expand422(generateFrame(image, k), image.rows * image.columns);
  }
  if (photometric === 'YBR_RCT') return generateFrame({ ...image, ...layout, photometric: 'RGB' }, k);
  return generateFrame({ ...image, ...layout }, k);
}
