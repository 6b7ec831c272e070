/**
 * Where each frame of an instance lives in its file, worked out once at ingest so frame retrieval and
 * rendering read only the bytes of the frames asked for (PS3.5 8.2 native, A.4 encapsulated).
 */
import type { ByteRange, DataSet, Fragment } from './dataset.js';
import { DicomParseError } from './errors.js';
import { Tag } from './tags.js';
import type { TransferSyntax } from './transfer-syntax.js';
import { getNumber, getString } from './values.js';

export type FrameLayout =
  | { kind: 'none' }
  /** Uncompressed: frame i (0-based) starts at offset + i * frameLength. For 1-bit data, lengths are in bits. */
  | { kind: 'native'; offset: number; frameLength: number; count: number; bitPacked: boolean }
  /** Compressed: the fragments that make up each frame. */
  | { kind: 'encapsulated'; frames: ByteRange[][] }
  /** MPEG/HEVC: the whole stream is one unit; frames are not separately addressable (PS3.18 8.7.3.4). */
  | { kind: 'video'; fragments: ByteRange[]; count: number };

export function frameCount(layout: FrameLayout): number {
  switch (layout.kind) {
    case 'none':
      return 0;
    case 'native':
      return layout.count;
    case 'encapsulated':
      return layout.frames.length;
    case 'video':
      return layout.count;
  }
}

export function computeFrameLayout(dataset: DataSet, ts: TransferSyntax): FrameLayout {
  const pixelData =
    dataset.get(Tag.PixelData) ?? dataset.get(Tag.FloatPixelData) ?? dataset.get(Tag.DoubleFloatPixelData);
  if (!pixelData) return { kind: 'none' };
  const numberOfFrames = Math.max(1, Math.trunc(getNumber(dataset, Tag.NumberOfFrames) ?? 1));

  if (pixelData.fragments) {
    const fragments = pixelData.fragments;
    if (ts.frameMediaType.startsWith('video/')) {
      return { kind: 'video', fragments: fragments.map(toRange), count: numberOfFrames };
    }
    return {
      kind: 'encapsulated',
      frames: splitFragments(dataset, fragments, pixelData.basicOffsetTable, numberOfFrames, ts),
    };
  }

  const rows = getNumber(dataset, Tag.Rows);
  const columns = getNumber(dataset, Tag.Columns);
  const bitsAllocated =
    pixelData.tag === Tag.FloatPixelData
      ? 32
      : pixelData.tag === Tag.DoubleFloatPixelData
        ? 64
        : getNumber(dataset, Tag.BitsAllocated);
  const samplesPerPixel = getNumber(dataset, Tag.SamplesPerPixel) ?? 1;
  if (!rows || !columns || !bitsAllocated) {
    throw new DicomParseError('pixel data without Rows, Columns and Bits Allocated');
  }
  // YBR_FULL_422 (and the retired YBR_PARTIAL_422) store two luminance and two chrominance samples per pair
  // of pixels (PS3.3 C.7.6.3.1.2).
  const photometric = getString(dataset, Tag.PhotometricInterpretation);
  const samplesStored =
    photometric === 'YBR_FULL_422' || photometric === 'YBR_PARTIAL_422' ? 2 : samplesPerPixel;
  const bitPacked = bitsAllocated === 1;
  const frameBits = rows * columns * samplesStored * bitsAllocated;
  const frameLength = bitPacked ? frameBits : frameBits / 8;
  const available = bitPacked ? pixelData.length * 8 : pixelData.length;
  const count = Math.min(numberOfFrames, Math.floor(available / frameLength));
  if (count < 1) {
    throw new DicomParseError(
      `pixel data of ${pixelData.length} bytes is shorter than one ${rows}x${columns} frame`,
    );
  }
  return { kind: 'native', offset: pixelData.offset, frameLength, count, bitPacked };
}

function toRange(fragment: ByteRange): ByteRange {
  return { offset: fragment.offset, length: fragment.length };
}

function splitFragments(
  dataset: DataSet,
  fragments: Fragment[],
  basicOffsetTable: Buffer | undefined,
  numberOfFrames: number,
  ts: TransferSyntax,
): ByteRange[][] {
  if (fragments.length === 0) throw new DicomParseError('encapsulated pixel data without fragments');
  if (numberOfFrames === 1) return [fragments.map(toRange)];

  const offsets = offsetTable(dataset, basicOffsetTable);
  if (offsets && offsets.length === numberOfFrames) {
    // Offsets count from the first byte of the first fragment's item tag (PS3.5 A.4).
    const base = fragments[0]!.offset - 8;
    const frames: ByteRange[][] = offsets.map(() => []);
    let frame = 0;
    for (const fragment of fragments) {
      const itemStart = fragment.offset - 8 - base;
      while (frame + 1 < offsets.length && itemStart >= offsets[frame + 1]!) frame++;
      frames[frame]!.push(toRange(fragment));
    }
    if (frames.every((f) => f.length > 0)) return frames;
  }
  if (fragments.length === numberOfFrames) return fragments.map((f) => [toRange(f)]);

  // No usable offset table: frames start at fragments beginning with the codec's start marker.
  const startMarker = codestreamStart(ts);
  if (startMarker !== undefined) {
    const frames: ByteRange[][] = [];
    for (const fragment of fragments) {
      if (fragment.head === startMarker || frames.length === 0) frames.push([]);
      frames[frames.length - 1]!.push(toRange(fragment));
    }
    if (frames.length === numberOfFrames) return frames;
  }
  throw new DicomParseError(
    `cannot tell the ${numberOfFrames} frames apart among ${fragments.length} fragments (no offset table)`,
  );
}

/** The Extended Offset Table if present (PS3.3 C.7.6.3.1.8), else the Basic Offset Table, else none. */
function offsetTable(dataset: DataSet, basicOffsetTable: Buffer | undefined): number[] | undefined {
  const extended = dataset.get(Tag.ExtendedOffsetTable);
  if (extended?.value && extended.value.length >= 8) {
    const out: number[] = [];
    for (let at = 0; at + 8 <= extended.value.length; at += 8) {
      out.push(
        Number(
          dataset.littleEndian ? extended.value.readBigUInt64LE(at) : extended.value.readBigUInt64BE(at),
        ),
      );
    }
    return out;
  }
  if (basicOffsetTable && basicOffsetTable.length >= 4) {
    const out: number[] = [];
    for (let at = 0; at + 4 <= basicOffsetTable.length; at += 4) out.push(basicOffsetTable.readUInt32LE(at));
    return out;
  }
  return undefined;
}

function codestreamStart(ts: TransferSyntax): number | undefined {
  switch (ts.frameMediaType) {
    case 'image/jpeg':
    case 'image/jls':
      return 0xffd8; // SOI
    case 'image/jp2':
    case 'image/jpx':
    case 'image/jph':
      return 0xff4f; // SOC
    default:
      return undefined;
  }
}
