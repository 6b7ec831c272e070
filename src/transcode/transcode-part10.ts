/**
 * Transfer syntax conversion of whole instances for WADO-RS (PS3.18 8.7.3) and the C-STORE sub-operations of
 * C-MOVE/C-GET: a stored Part 10 file re-encoded in another transfer syntax (which conversions are possible:
 * capabilities.ts; single frames: frame-codec.ts).
 *
 * Reading uses the gateway's own DatasetReader (bulk values stay in the input buffer; big endian, implicit VR
 * and deflated inputs are all read); the dataset is then re-encoded element by element in the target encoding,
 * so text keeps its bytes and Specific Character Set, and binary values are byte-swapped by VR when the
 * endianness changes. Pixel data goes through the dcmjs-codecs WebAssembly codecs one frame at a time
 * (NativeCodecs, initialised lazily once). Icon images (nested Pixel Data) are converted the same way, or
 * their sequence is dropped when they cannot be.
 */
import { setImmediate as nextTick } from 'node:timers/promises';
import { deflateRawSync, inflateRawSync, inflateSync } from 'node:zlib';
import { DatasetReader } from '../dicom/dataset-reader.js';
import type { DataSet } from '../dicom/dataset.js';
import {
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  type MetaElement,
  part10Header,
  stringElement,
  stringValue,
} from '../dicom/file-meta.js';
import { computeFrameLayout } from '../dicom/frame-layout.js';
import { Tag } from '../dicom/tags.js';
import { findTransferSyntax } from '../dicom/transfer-syntax.js';
import { getNumber, getString } from '../dicom/values.js';
import type { VR } from '../dicom/vr.js';
import {
  canTranscode,
  DECODABLE,
  ENCODABLE,
  refusal,
  syntaxName,
  TranscodeError,
  UID,
  type Family,
} from './capabilities.js';
import { DatasetWriter, valueOf, type Patch, type Patches, type Source } from './dataset-writer.js';
import { decodeFrameSync, encodeFrameSync, initCodecs } from './frame-codec.js';
import { bytesPerSample, swapBytes, type FrameImageInfo } from './pixel-samples.js';

function setPatch(patches: Patches, dataset: DataSet, tag: number, patch: Patch): void {
  let map = patches.get(dataset);
  if (!map) patches.set(dataset, (map = new Map()));
  map.set(tag, patch);
}

function usValue(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value, 0);
  return b;
}

function imageInfo(dataset: DataSet): FrameImageInfo {
  const bitsAllocated = getNumber(dataset, Tag.BitsAllocated) ?? 0;
  const bitsStored = getNumber(dataset, Tag.BitsStored) ?? bitsAllocated;
  return {
    rows: getNumber(dataset, Tag.Rows) ?? 0,
    columns: getNumber(dataset, Tag.Columns) ?? 0,
    samplesPerPixel: getNumber(dataset, Tag.SamplesPerPixel) ?? 1,
    bitsAllocated,
    bitsStored,
    highBit: getNumber(dataset, Tag.HighBit) ?? bitsStored - 1,
    pixelRepresentation: getNumber(dataset, Tag.PixelRepresentation) ?? 0,
    photometricInterpretation: getString(dataset, Tag.PhotometricInterpretation) ?? 'MONOCHROME2',
    planarConfiguration: getNumber(dataset, Tag.PlanarConfiguration) ?? 0,
  };
}

/**
 * Works out the new Pixel Data (and the attributes that change with it) of one dataset that has pixel data.
 * Yields to the event loop between frames so a large instance does not block other requests for long.
 */
async function transcodePixelData(
  dataset: DataSet,
  source: Source,
  to: string,
  patches: Patches,
): Promise<void> {
  const element = dataset.get(Tag.PixelData);
  let layout;
  try {
    layout = computeFrameLayout(dataset, source.ts);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new TranscodeError(`cannot locate the frames: ${detail}`, { cause: error });
  }
  const toFamily = ENCODABLE.get(to);
  if (layout.kind === 'none' || !toFamily) return;
  if (layout.kind === 'video') {
    throw new TranscodeError(`${syntaxName(source.ts.uid)} video frames cannot be decoded`);
  }
  const image = imageInfo(dataset);
  const sampleBytes = bytesPerSample(image);

  if (layout.kind === 'native' && toFamily === 'native') {
    // Only the byte order (and, from implicit VR, the VR) can change; float/double pixel data are ordinary
    // OF/OD elements then. 8-bit data is written OB (never byte-swapped), wider data OW.
    if (!element) return;
    const unit = image.bitsAllocated >= 16 && image.bitsAllocated % 8 === 0 ? sampleBytes : 2;
    const vr: VR = image.bitsAllocated <= 8 ? 'OB' : 'OW';
    let value = valueOf(element, source);
    if (!source.ts.littleEndian && element.vr === 'OW') value = swapBytes(value, unit);
    setPatch(patches, dataset, Tag.PixelData, { kind: 'value', vr, value, swapUnit: vr === 'OW' ? unit : 1 });
    return;
  }
  if (!element) {
    throw new TranscodeError('only integer Pixel Data (7FE0,0010) can be compressed, not float pixel data');
  }
  if (layout.kind === 'native' && layout.bitPacked) {
    throw new TranscodeError('1-bit pixel data cannot be compressed by the codecs');
  }
  const fromFamily = DECODABLE.get(source.ts.uid);
  if (!fromFamily) throw refusal(source.ts.uid, to);
  const nativeOnly = (f: Family): boolean => f === 'native' || f === 'encapsulated-native';
  if (!nativeOnly(fromFamily) || !nativeOnly(toFamily)) await initCodecs();

  const frames: Buffer[] = [];
  if (layout.kind === 'native') {
    for (let i = 0; i < layout.count; i++) {
      const start = layout.offset + i * layout.frameLength;
      frames.push(source.bytes.subarray(start, start + layout.frameLength));
    }
  } else {
    for (const ranges of layout.frames) {
      const parts = ranges.map((r) => source.bytes.subarray(r.offset, r.offset + r.length));
      frames.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    }
  }

  let outPhotometric = image.photometricInterpretation;
  let outPlanar = image.planarConfiguration;
  const outFrames: Buffer[] = [];
  for (const [index, frame] of frames.entries()) {
    if (index > 0) await nextTick();
    const decoded = decodeFrameSync(frame, image, source.ts.uid);
    const decodedImage = {
      ...image,
      photometricInterpretation: decoded.photometricInterpretation,
      planarConfiguration: decoded.planarConfiguration,
    };
    if (toFamily === 'native') {
      outFrames.push(decoded.pixels);
      outPhotometric = decoded.photometricInterpretation;
      outPlanar = decoded.planarConfiguration;
    } else {
      const encoded = encodeFrameSync(decoded.pixels, decodedImage, to);
      outFrames.push(encoded.data);
      outPhotometric = encoded.photometricInterpretation;
      outPlanar = encoded.planarConfiguration;
    }
  }

  if (toFamily === 'native') {
    const vr: VR = image.bitsAllocated <= 8 ? 'OB' : 'OW';
    const value = Buffer.concat(outFrames);
    const swapUnit = vr === 'OW' ? sampleBytes : 1;
    setPatch(patches, dataset, Tag.PixelData, { kind: 'value', vr, value, swapUnit });
  } else {
    setPatch(patches, dataset, Tag.PixelData, { kind: 'fragments', fragments: outFrames });
  }
  // Offset tables of the old encapsulation are meaningless now (the new one gets a Basic Offset Table).
  setPatch(patches, dataset, Tag.ExtendedOffsetTable, { kind: 'delete' });
  setPatch(patches, dataset, Tag.ExtendedOffsetTableLengths, { kind: 'delete' });
  if (outPhotometric !== image.photometricInterpretation) {
    setPatch(patches, dataset, Tag.PhotometricInterpretation, {
      kind: 'value',
      vr: 'CS',
      value: stringValue(outPhotometric, 'CS'),
    });
  }
  if (
    image.samplesPerPixel > 1 &&
    (outPlanar !== image.planarConfiguration || !dataset.has(Tag.PlanarConfiguration))
  ) {
    setPatch(patches, dataset, Tag.PlanarConfiguration, {
      kind: 'value',
      vr: 'US',
      value: usValue(outPlanar),
    });
  }
}

/** Transcodes the pixel data of the dataset and of nested images (icons); nested failures drop the sequence. */
async function transcodeAllPixelData(
  dataset: DataSet,
  source: Source,
  to: string,
  patches: Patches,
): Promise<void> {
  if (dataset.has(Tag.PixelData) || dataset.has(FLOAT_PIXEL_DATA) || dataset.has(DOUBLE_PIXEL_DATA)) {
    await transcodePixelData(dataset, source, to, patches);
  }
  for (const element of dataset.elements.values()) {
    if (!element.items) continue;
    try {
      for (const item of element.items) {
        await transcodeAllPixelData(item, source, to, patches);
      }
    } catch (error) {
      if (!(error instanceof TranscodeError)) throw error;
      setPatch(patches, dataset, element.tag, { kind: 'delete' });
    }
  }
}

const FLOAT_PIXEL_DATA = 0x7fe00008;
const DOUBLE_PIXEL_DATA = 0x7fe00009;

/** File Meta Information (Explicit VR Little Endian) copied from the source, naming the new syntax. */
function fileMetaFor(meta: DataSet, file: Buffer, transferSyntaxUid: string): Buffer {
  const parts: MetaElement[] = [];
  const replaced = new Map<number, MetaElement>(
    [
      stringElement(Tag.TransferSyntaxUID, 'UI', transferSyntaxUid),
      stringElement(Tag.ImplementationClassUID, 'UI', IMPLEMENTATION_CLASS_UID),
      stringElement(Tag.ImplementationVersionName, 'SH', IMPLEMENTATION_VERSION_NAME),
    ].map((element) => [element.tag, element]),
  );
  const tags = new Set<number>([...meta.elements.keys(), ...replaced.keys()]);
  for (const tag of [...tags].sort((a, b) => a - b)) {
    if (tag === Tag.FileMetaInformationGroupLength) continue;
    const element = meta.get(tag);
    const replacement = replaced.get(tag);
    const vr = element?.vr ?? replacement!.vr;
    const value =
      replacement?.value ??
      (element ? valueOf(element, { bytes: file, ts: EXPLICIT_LE_TS }) : Buffer.alloc(0));
    parts.push({ tag, vr, value });
  }
  return part10Header(parts);
}

const EXPLICIT_LE_TS = findTransferSyntax(UID.ExplicitLE)!;

function inflate(bytes: Buffer): Buffer {
  if (bytes.length === 0) return bytes;
  try {
    return inflateRawSync(bytes);
  } catch (error) {
    try {
      return inflateSync(bytes); // some writers add a zlib header
    } catch {
      throw new TranscodeError(`cannot inflate the deflated dataset: ${String(error)}`, { cause: error });
    }
  }
}

/**
 * A whole Part 10 file (as stored) re-encoded in another transfer syntax, returned as a Part 10 file whose
 * File Meta Information names the new syntax (other meta elements kept; Implementation Class UID/Version
 * Name are the gateway's). The identity returns the input unchanged. Throws a TranscodeError when the
 * conversion is not possible (see canTranscode and the encoder limits).
 */
export async function transcodePart10(file: Buffer, toTransferSyntax: string): Promise<Buffer> {
  const reader = new DatasetReader();
  let datasetBytes = file;
  let parsed;
  try {
    const rest = reader.write(file);
    if (rest !== undefined) {
      datasetBytes = inflate(rest);
      if (datasetBytes.length > 0) reader.write(datasetBytes);
    }
    parsed = reader.end();
  } catch (error) {
    if (error instanceof TranscodeError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new TranscodeError(`cannot read the stored instance: ${detail}`, { cause: error });
  }
  const from = parsed.transferSyntax.uid;
  if (from === toTransferSyntax) return file;
  const target = findTransferSyntax(toTransferSyntax);
  if (!canTranscode(from, toTransferSyntax) || !target) throw refusal(from, toTransferSyntax);

  const source: Source = { bytes: datasetBytes, ts: parsed.transferSyntax };
  const patches: Patches = new Map();
  await transcodeAllPixelData(parsed.dataset, source, toTransferSyntax, patches);

  const writer = new DatasetWriter(
    source,
    { explicitVR: target.explicitVR, littleEndian: target.littleEndian },
    patches,
  );
  writer.writeDataset(parsed.dataset, 0);
  let dataset = writer.result();
  if (target.deflated) dataset = deflateRawSync(dataset);
  return Buffer.concat([fileMetaFor(parsed.meta, file, toTransferSyntax), dataset]);
}
