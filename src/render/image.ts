/**
 * What the stored metadata says about an image and one of its frames: the Image Pixel module (PS3.3
 * C.7.6.3), the Modality LUT (C.11.1), the VOI LUT (C.11.2), Presentation LUT Shape (C.11.6) and the
 * palettes (C.7.6.3.1.5-6), read from the top level or, for enhanced multi-frame objects, from the frame's
 * Per-Frame or the Shared Functional Groups (C.7.6.16: Pixel Value Transformation, Frame VOI LUT).
 */
import type { DicomJsonDataset } from '../dicom/dicom-json.js';
import { RenderError } from './errors.js';
import { attribute, binaryValue, codeString, has, item, numberAt, numbers, type ReadBulk } from './json.js';

const T = {
  SOPClassUID: '00080016',
  SamplesPerPixel: '00280002',
  PhotometricInterpretation: '00280004',
  PlanarConfiguration: '00280006',
  NumberOfFrames: '00280008',
  Rows: '00280010',
  Columns: '00280011',
  BitsAllocated: '00280100',
  BitsStored: '00280101',
  HighBit: '00280102',
  PixelRepresentation: '00280103',
  PixelPaddingValue: '00280120',
  PixelPaddingRangeLimit: '00280121',
  WindowCenter: '00281050',
  WindowWidth: '00281051',
  RescaleIntercept: '00281052',
  RescaleSlope: '00281053',
  VOILUTFunction: '00281056',
  RedPaletteDescriptor: '00281101',
  RedPaletteData: '00281201',
  SegmentedRedPaletteData: '00281221',
  ModalityLUTSequence: '00283000',
  LUTDescriptor: '00283002',
  LUTData: '00283006',
  VOILUTSequence: '00283010',
  FrameVOILUTSequence: '00289132',
  PixelValueTransformationSequence: '00289145',
  PresentationLUTShape: '20500020',
  SharedFunctionalGroupsSequence: '52009229',
  PerFrameFunctionalGroupsSequence: '52009230',
  FloatPixelData: '7FE00008',
  DoubleFloatPixelData: '7FE00009',
  PixelData: '7FE00010',
} as const;

/** X-Ray Angiographic, Radiofluoroscopic and (retired) Bi-plane: their Modality LUT is not for display. */
const XA_XRF_SOP_CLASSES = new Set([
  '1.2.840.10008.5.1.4.1.1.12.1',
  '1.2.840.10008.5.1.4.1.1.12.2',
  '1.2.840.10008.5.1.4.1.1.12.3',
]);

export interface ImageInfo {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  photometric: string;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  signed: boolean;
  /** Planar Configuration 1: colour-by-plane. */
  planar: boolean;
  /** Pixel Data (integers), Float Pixel Data or Double Float Pixel Data. */
  sampleType: 'int' | 'float' | 'double';
  /** VR of the pixel data attribute (OB or OW), which matters for 8-bit big endian data. */
  pixelDataVr: string | undefined;
}

const MONOCHROME = new Set(['MONOCHROME1', 'MONOCHROME2']);

/** Whether the metadata describes an image the pipeline can be asked for: pixel data and image attributes. */
export function isRenderable(metadata: DicomJsonDataset): boolean {
  try {
    readImageInfo(metadata);
    return true;
  } catch {
    return false;
  }
}

export function readImageInfo(metadata: DicomJsonDataset): ImageInfo {
  const pixelTag = [T.PixelData, T.FloatPixelData, T.DoubleFloatPixelData].find((tag) => has(metadata, tag));
  if (!pixelTag) throw new RenderError('the instance has no pixel data', 'unsupported');
  const rows = numberAt(metadata, T.Rows) ?? 0;
  const columns = numberAt(metadata, T.Columns) ?? 0;
  const sampleType = pixelTag === T.PixelData ? 'int' : pixelTag === T.FloatPixelData ? 'float' : 'double';
  const bitsAllocated =
    sampleType === 'float' ? 32 : sampleType === 'double' ? 64 : (numberAt(metadata, T.BitsAllocated) ?? 0);
  const samplesPerPixel = numberAt(metadata, T.SamplesPerPixel) ?? 1;
  const photometric =
    codeString(metadata, T.PhotometricInterpretation) ?? (samplesPerPixel === 1 ? 'MONOCHROME2' : 'RGB');
  const bitsStored =
    sampleType === 'int' ? (numberAt(metadata, T.BitsStored) ?? bitsAllocated) : bitsAllocated;
  let highBit = sampleType === 'int' ? (numberAt(metadata, T.HighBit) ?? bitsStored - 1) : bitsAllocated - 1;
  if (!(rows > 0 && columns > 0))
    throw new RenderError(`invalid image size ${columns}x${rows}`, 'unsupported');
  if (![1, 8, 16, 32, 64].includes(bitsAllocated) || (sampleType === 'int' && bitsAllocated === 64)) {
    throw new RenderError(`Bits Allocated ${bitsAllocated} is not supported`, 'unsupported');
  }
  if (!(bitsStored >= 1 && bitsStored <= bitsAllocated)) {
    throw new RenderError(
      `invalid Bits Stored ${bitsStored} for Bits Allocated ${bitsAllocated}`,
      'unsupported',
    );
  }
  if (highBit < bitsStored - 1 || highBit >= bitsAllocated) highBit = bitsStored - 1;
  const mono = MONOCHROME.has(photometric);
  if (samplesPerPixel === 1 ? !(mono || photometric === 'PALETTE COLOR') : samplesPerPixel !== 3 || mono) {
    throw new RenderError(
      `Photometric Interpretation ${photometric} with ${samplesPerPixel} samples per pixel is not supported`,
      'unsupported',
    );
  }
  if (sampleType !== 'int' && !mono) {
    throw new RenderError('float pixel data is only rendered for monochrome images', 'unsupported');
  }
  return {
    rows,
    columns,
    samplesPerPixel,
    photometric,
    bitsAllocated,
    bitsStored,
    highBit,
    signed: (numberAt(metadata, T.PixelRepresentation) ?? 0) === 1,
    planar: samplesPerPixel > 1 && (numberAt(metadata, T.PlanarConfiguration) ?? 0) === 1,
    sampleType,
    pixelDataVr: attribute(metadata, pixelTag)?.vr,
  };
}

export function numberOfFrames(metadata: DicomJsonDataset): number {
  return Math.max(1, Math.trunc(numberAt(metadata, T.NumberOfFrames) ?? 1));
}

// ---------------------------------------------------------------------------------------------------------
// Frame-level attributes

/**
 * The datasets that hold a frame's attributes of one functional group macro, in the order they are
 * consulted: the top level (classic images), the frame's Per-Frame Functional Groups item, the Shared
 * Functional Groups item.
 */
function scopes(metadata: DicomJsonDataset, frameIndex: number, macro: string): [DicomJsonDataset, string][] {
  const out: [DicomJsonDataset, string][] = [[metadata, '']];
  const perFrame = item(item(metadata, T.PerFrameFunctionalGroupsSequence, frameIndex), macro);
  if (perFrame) out.push([perFrame, `${T.PerFrameFunctionalGroupsSequence}/${frameIndex}/${macro}/0/`]);
  const shared = item(item(metadata, T.SharedFunctionalGroupsSequence, 0), macro);
  if (shared) out.push([shared, `${T.SharedFunctionalGroupsSequence}/0/${macro}/0/`]);
  return out;
}

export interface Lut {
  /** First input value mapped (LUT Descriptor value 2). */
  first: number;
  /** Bits per entry (LUT Descriptor value 3), which sets the output range 0 .. 2^bits - 1. */
  bits: number;
  entries: Uint16Array;
}

export type Modality = { kind: 'rescale'; slope: number; intercept: number } | { kind: 'lut'; lut: Lut };

export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

export type Voi =
  | { kind: 'window'; center: number; width: number; fn: VoiFunction }
  | { kind: 'lut'; lut: Lut }
  | { kind: 'minmax' };

export interface GrayscaleTransform {
  modality: Modality;
  voi: Voi;
  /** MONOCHROME1, or Presentation LUT Shape INVERSE: minimum values are shown white. */
  invert: boolean;
  /** Pixel Padding Value range (stored values), left out of the min-max window. */
  padding: [number, number] | undefined;
}

export interface WindowOverride {
  center: number;
  width: number;
  fn: 'linear' | 'linear-exact' | 'sigmoid';
}

const FUNCTION_BY_PARAMETER: Record<WindowOverride['fn'], VoiFunction> = {
  linear: 'LINEAR',
  'linear-exact': 'LINEAR_EXACT',
  sigmoid: 'SIGMOID',
};

/** Whether a window width is usable with a function (PS3.3 C.11.2.1.2: >= 1 for LINEAR, > 0 otherwise). */
function validWindow(center: number | undefined, width: number | undefined, fn: VoiFunction): boolean {
  if (center === undefined || width === undefined || !Number.isFinite(center) || !Number.isFinite(width)) {
    return false;
  }
  return fn === 'LINEAR' ? width >= 1 : width > 0;
}

/**
 * The grayscale transforms of frame `frameIndex` (0-based): Modality LUT Sequence, else Rescale
 * Slope/Intercept; VOI from the override, else the first Window Center/Width with VOI LUT Function, else
 * the first VOI LUT, else min-max (decided later, from the pixels).
 */
export async function readGrayscaleTransform(
  metadata: DicomJsonDataset,
  info: ImageInfo,
  frameIndex: number,
  window: WindowOverride | undefined,
  readBulk: ReadBulk,
  bigEndian: boolean,
): Promise<GrayscaleTransform> {
  const modality = await readModality(metadata, info, frameIndex, readBulk, bigEndian);
  let voi: Voi | undefined;
  if (window) {
    const fn = FUNCTION_BY_PARAMETER[window.fn];
    if (!Number.isFinite(window.center) || !Number.isFinite(window.width) || window.width <= 0) {
      throw new RenderError(`invalid window ${window.center},${window.width}`, 'invalid-parameter');
    }
    // LINEAR needs a width of at least 1; narrower is a threshold at the center, as width 1 is.
    voi = {
      kind: 'window',
      center: window.center,
      width: fn === 'LINEAR' ? Math.max(1, window.width) : window.width,
      fn,
    };
  } else {
    voi = await readVoi(metadata, info, modality, frameIndex, readBulk, bigEndian);
  }
  const shape = codeString(metadata, T.PresentationLUTShape);
  const low = numberAt(metadata, T.PixelPaddingValue);
  const high = numberAt(metadata, T.PixelPaddingRangeLimit);
  return {
    modality,
    voi: voi ?? { kind: 'minmax' },
    invert: info.photometric === 'MONOCHROME1' || shape === 'INVERSE',
    padding: low === undefined ? undefined : [Math.min(low, high ?? low), Math.max(low, high ?? low)],
  };
}

async function readModality(
  metadata: DicomJsonDataset,
  info: ImageInfo,
  frameIndex: number,
  readBulk: ReadBulk,
  bigEndian: boolean,
): Promise<Modality> {
  const identity: Modality = { kind: 'rescale', slope: 1, intercept: 0 };
  // As dcmtk does (after D. Clunie): XA/XRF Modality LUTs map to X-ray intensity, not towards display.
  const sopClass = metadata[T.SOPClassUID]?.Value?.[0];
  if (typeof sopClass === 'string' && XA_XRF_SOP_CLASSES.has(sopClass.trim())) return identity;
  const lutItem = item(metadata, T.ModalityLUTSequence);
  if (lutItem && info.sampleType === 'int') {
    const lut = await readLut(lutItem, `${T.ModalityLUTSequence}/0/`, info.signed, readBulk, bigEndian);
    if (lut) return { kind: 'lut', lut };
  }
  for (const [scope] of scopes(metadata, frameIndex, T.PixelValueTransformationSequence)) {
    const slope = numberAt(scope, T.RescaleSlope);
    const intercept = numberAt(scope, T.RescaleIntercept);
    if (slope !== undefined || intercept !== undefined) {
      // A zero slope would map every pixel to one value: ignored, as dcmtk does.
      return slope === 0 ? identity : { kind: 'rescale', slope: slope ?? 1, intercept: intercept ?? 0 };
    }
  }
  return identity;
}

async function readVoi(
  metadata: DicomJsonDataset,
  info: ImageInfo,
  modality: Modality,
  frameIndex: number,
  readBulk: ReadBulk,
  bigEndian: boolean,
): Promise<Voi | undefined> {
  const frameScopes = scopes(metadata, frameIndex, T.FrameVOILUTSequence);
  for (const [scope] of frameScopes) {
    if (!has(scope, T.WindowCenter) && !has(scope, T.WindowWidth)) continue;
    const fnText = codeString(scope, T.VOILUTFunction);
    const fn: VoiFunction = fnText === 'LINEAR_EXACT' || fnText === 'SIGMOID' ? fnText : 'LINEAR';
    const center = numberAt(scope, T.WindowCenter);
    const width = numberAt(scope, T.WindowWidth);
    if (validWindow(center, width, fn)) return { kind: 'window', center: center!, width: width!, fn };
  }
  for (const [scope, prefix] of frameScopes) {
    const lutItem = item(scope, T.VOILUTSequence);
    if (!lutItem) continue;
    // The VOI LUT's input is the modality output, signed when that can be negative.
    const signedInput = modalityRange(info, modality)[0] < 0;
    const lut = await readLut(lutItem, `${prefix}${T.VOILUTSequence}/0/`, signedInput, readBulk, bigEndian);
    if (lut) return { kind: 'lut', lut };
  }
  return undefined;
}

/** The smallest and largest modality values the stored value range can give. */
export function modalityRange(info: ImageInfo, modality: Modality): [number, number] {
  if (modality.kind === 'lut') {
    let min = Infinity;
    let max = -Infinity;
    for (const v of modality.lut.entries) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    return [min, max];
  }
  const bits = Math.min(info.bitsStored, 32);
  const [lo, hi] = info.signed ? [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
  const a = lo * modality.slope + modality.intercept;
  const b = hi * modality.slope + modality.intercept;
  return [Math.min(a, b), Math.max(a, b)];
}

/**
 * One LUT (Modality, VOI) from its sequence item: descriptor (entries, 0 = 65536; first mapped value,
 * signed when `signedInput` or encoded as SS; bits per entry) and data (8-bit entries may be packed two per
 * word, PS3.3 C.11.1.1.1). Undefined when the item has no usable LUT.
 */
async function readLut(
  lutItem: DicomJsonDataset,
  pathPrefix: string,
  signedInput: boolean,
  readBulk: ReadBulk,
  bigEndian: boolean,
): Promise<Lut | undefined> {
  const descriptorAttr = attribute(lutItem, T.LUTDescriptor);
  const descriptor = numbers(lutItem, T.LUTDescriptor);
  if (!descriptorAttr || descriptor.length < 3 || descriptor.some((v) => !Number.isFinite(v)))
    return undefined;
  const entries = descriptor[0]! & 0xffff || 65536;
  let first = descriptor[1]!;
  if (descriptorAttr.vr !== 'SS' && signedInput && first > 0x7fff) first -= 0x10000;
  const bits = descriptor[2]!;
  const data = await binaryValue(
    attribute(lutItem, T.LUTData),
    `${pathPrefix}${T.LUTData}`,
    readBulk,
    bigEndian,
  );
  if (!data) return undefined;
  const values = lutEntries(data, entries, bits);
  if (values.length === 0) return undefined;
  return { first, bits: bits >= 1 && bits <= 16 ? bits : 16, entries: values };
}

/** LUT data bytes (little endian) as entry values: packed bytes for 8-bit entries, words otherwise. */
export function lutEntries(data: Buffer, entries: number, bits: number): Uint16Array {
  if (bits <= 8 && data.length < entries * 2) {
    return Uint16Array.from(data.subarray(0, Math.min(entries, data.length)));
  }
  const count = Math.min(entries, data.length >> 1);
  const out = new Uint16Array(count);
  for (let i = 0; i < count; i++) out[i] = data.readUInt16LE(i * 2);
  if (bits <= 8) for (let i = 0; i < count; i++) out[i] = Math.min(out[i]!, 0xff);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Palette

export interface Palette {
  red: Lut;
  green: Lut;
  blue: Lut;
}

/** The Red, Green and Blue Palette Color LUTs (PS3.3 C.7.6.3.1.5, C.7.6.3.1.6). */
export async function readPalette(
  metadata: DicomJsonDataset,
  readBulk: ReadBulk,
  bigEndian: boolean,
): Promise<Palette> {
  const channels: Lut[] = [];
  for (let c = 0; c < 3; c++) {
    const descriptorTag = (0x00281101 + c).toString(16).toUpperCase().padStart(8, '0');
    const dataTag = (0x00281201 + c).toString(16).toUpperCase().padStart(8, '0');
    const descriptor = numbers(metadata, descriptorTag);
    if (descriptor.length < 3 || descriptor.some((v) => !Number.isFinite(v))) {
      if (has(metadata, T.SegmentedRedPaletteData)) {
        throw new RenderError('segmented palette color LUTs are not supported', 'unsupported');
      }
      throw new RenderError('PALETTE COLOR image without a valid palette descriptor', 'unsupported');
    }
    const entries = descriptor[0]! & 0xffff || 65536;
    const first = descriptor[1]! & 0xffff;
    const bits = descriptor[2] === 8 ? 8 : 16;
    const data = await binaryValue(attribute(metadata, dataTag), dataTag, readBulk, bigEndian);
    if (!data) {
      const segmented = has(metadata, T.SegmentedRedPaletteData);
      throw new RenderError(
        segmented
          ? 'segmented palette color LUTs are not supported'
          : 'PALETTE COLOR image without palette data',
        'unsupported',
      );
    }
    const values = lutEntries(data, entries, bits);
    if (values.length === 0) throw new RenderError('empty palette color LUT', 'corrupt');
    channels.push({ first, bits, entries: values });
  }
  return { red: channels[0]!, green: channels[1]!, blue: channels[2]! };
}
