/**
 * The grayscale pipeline (PS3.4 N.2.1, PS3.3 C.11): stored value -> Modality LUT -> VOI LUT -> polarity
 * -> 8-bit output. For 8- and 16-bit samples all steps are folded into one table indexed by the raw sample
 * (256 or 65536 entries), so a frame costs one table lookup per pixel; tables for windows are kept for reuse.
 * The raw-indexed table takes only the Bits Stored bits below High Bit and sign-extends them, so codecs that
 * return signed samples sign-extended or not give the same image, and bits above High Bit (overlays,
 * garbage) are ignored. 32-bit and float samples are transformed pixel by pixel.
 *
 * Quantisation follows dcmtk: windows are computed in double precision and truncated to 0..255; VOI LUT
 * output is scaled by 256 / 2^bits and truncated.
 */
import type { DecodedFrame } from './decode.js';
import type { GrayscaleTransform, ImageInfo, Lut, Modality, Voi } from './image.js';

export type ResolvedVoi = Exclude<Voi, { kind: 'minmax' }>;

/** Smallest and largest modality value of some frames' pixels. */
export interface ValueRange {
  min: number;
  max: number;
}

// ---------------------------------------------------------------------------------------------------------
// Tables

/** Raw container value -> stored value, for each combination of bit layout (a handful in practice). */
const storedTables = new Map<string, Int32Array>();

function storedTable(
  containerBits: number,
  bitsStored: number,
  highBit: number,
  signed: boolean,
): Int32Array {
  const stored = Math.min(bitsStored, containerBits);
  const high = highBit < containerBits ? highBit : stored - 1;
  const key = `${containerBits}/${stored}/${high}/${signed}`;
  let table = storedTables.get(key);
  if (!table) {
    const size = 1 << containerBits;
    const shift = high + 1 - stored;
    const mask = (1 << stored) - 1; // containers of at most 16 bits
    const sign = 1 << (stored - 1);
    table = new Int32Array(size);
    for (let raw = 0; raw < size; raw++) {
      const value = (raw >>> shift) & mask;
      table[raw] = signed && value & sign ? value - (mask + 1) : value;
    }
    storedTables.set(key, table);
    // A handful of layouts occur in practice; odd metadata must not grow this without bound.
    if (storedTables.size > 16) storedTables.delete(storedTables.keys().next().value!);
  }
  return table;
}

function lutValue(lut: Lut, input: number): number {
  let index = Math.floor(input) - lut.first;
  if (index < 0) index = 0;
  else if (index >= lut.entries.length) index = lut.entries.length - 1;
  return lut.entries[index]!;
}

function modalityFunction(modality: Modality): (stored: number) => number {
  if (modality.kind === 'lut') return (stored) => lutValue(modality.lut, stored);
  const { slope, intercept } = modality;
  return slope === 1 && intercept === 0 ? (stored) => stored : (stored) => stored * slope + intercept;
}

/** Modality value -> output byte (0..255), with the polarity applied. */
function voiFunction(voi: ResolvedVoi, invert: boolean): (x: number) => number {
  if (voi.kind === 'lut') {
    const scale = 256 / 2 ** voi.lut.bits;
    const lut = voi.lut;
    return invert
      ? (x) => 255 - Math.min(255, Math.floor(lutValue(lut, x) * scale))
      : (x) => Math.min(255, Math.floor(lutValue(lut, x) * scale));
  }
  const { center: c, width: w } = voi;
  const [low, high] = invert ? [255, 0] : [0, 255];
  const range = high - low;
  switch (voi.fn) {
    case 'LINEAR': {
      // PS3.3 C.11.2.1.2.1, evaluated as dcmtk does (offset + x * gradient, truncated).
      const left = c - 0.5 - (w - 1) / 2;
      const right = c - 0.5 + (w - 1) / 2;
      if (w <= 1) return (x) => (x <= left ? low : high);
      const offset = high - ((c - 0.5) / (w - 1) + 0.5) * range;
      const gradient = range / (w - 1);
      return (x) => (x <= left ? low : x > right ? high : clampTrunc(offset + x * gradient));
    }
    case 'LINEAR_EXACT': {
      // PS3.3 C.11.2.1.3.2
      const left = c - w / 2;
      const right = c + w / 2;
      return (x) => (x <= left ? low : x > right ? high : clampTrunc(((x - c) / w + 0.5) * range + low));
    }
    case 'SIGMOID':
      // PS3.3 C.11.2.1.3.1
      return (x) => clampTrunc(range / (1 + Math.exp((-4 * (x - c)) / w)) + low);
  }
}

function clampTrunc(y: number): number {
  return y <= 0 ? 0 : y >= 255 ? 255 : Math.trunc(y);
}

/** Output tables of windows, by everything they depend on; small, as a frame needs at most 64 KiB. */
const outputTables = new Map<string, Uint8Array>();
const OUTPUT_TABLES_KEPT = 48;

function outputTable(
  containerBits: number,
  info: ImageInfo,
  transform: GrayscaleTransform,
  voi: ResolvedVoi,
): Uint8Array {
  // Tables built from LUT data are not kept (their key would be the data).
  const cacheable = transform.modality.kind === 'rescale' && voi.kind === 'window';
  const key = cacheable
    ? JSON.stringify([
        containerBits,
        info.bitsStored,
        info.highBit,
        info.signed,
        transform.modality,
        voi,
        transform.invert,
      ])
    : '';
  if (cacheable) {
    const hit = outputTables.get(key);
    if (hit) {
      outputTables.delete(key);
      outputTables.set(key, hit);
      return hit;
    }
  }
  const stored = storedTable(containerBits, info.bitsStored, info.highBit, info.signed);
  const modality = modalityFunction(transform.modality);
  const toByte = voiFunction(voi, transform.invert);
  const table = new Uint8Array(stored.length);
  for (let raw = 0; raw < stored.length; raw++) table[raw] = toByte(modality(stored[raw]!));
  if (cacheable) {
    outputTables.set(key, table);
    if (outputTables.size > OUTPUT_TABLES_KEPT) outputTables.delete(outputTables.keys().next().value!);
  }
  return table;
}

// ---------------------------------------------------------------------------------------------------------

function isTableIndexed(samples: DecodedFrame['samples']): samples is Uint8Array | Uint16Array {
  return samples instanceof Uint8Array || samples instanceof Uint16Array;
}

/** Stored value of a sample of a 32-bit or float frame. */
function wideStoredFunction(info: ImageInfo): (v: number) => number {
  if (info.sampleType !== 'int' || info.bitsStored >= 32) return (v) => v;
  const bits = info.bitsStored;
  const shift = info.highBit + 1 - bits;
  return info.signed
    ? (v) => ((v >> shift) << (32 - bits)) >> (32 - bits)
    : (v) => ((v >>> shift) & (2 ** bits - 1)) >>> 0;
}

/**
 * Smallest and largest modality value of the frame's pixels, leaving out Pixel Padding Value (range);
 * undefined when every pixel is padding.
 */
export function frameRange(
  frame: DecodedFrame,
  info: ImageInfo,
  transform: GrayscaleTransform,
): ValueRange | undefined {
  const modality = modalityFunction(transform.modality);
  const padding = transform.padding;
  const isPadding = padding ? (s: number) => s >= padding[0] && s <= padding[1] : () => false;
  let min = Infinity;
  let max = -Infinity;
  const { samples } = frame;
  if (isTableIndexed(samples)) {
    const stored = storedTable(frame.bitsAllocated, info.bitsStored, info.highBit, info.signed);
    const seen = new Uint8Array(stored.length);
    for (let i = 0; i < samples.length; i++) seen[samples[i]!] = 1;
    for (let raw = 0; raw < seen.length; raw++) {
      if (!seen[raw] || isPadding(stored[raw]!)) continue;
      const x = modality(stored[raw]!);
      if (x < min) min = x;
      if (x > max) max = x;
    }
  } else {
    const toStored = wideStoredFunction(info);
    for (let i = 0; i < samples.length; i++) {
      const s = toStored(samples[i]!);
      if (Number.isNaN(s) || isPadding(s)) continue;
      const x = modality(s);
      if (x < min) min = x;
      if (x > max) max = x;
    }
  }
  return min <= max ? { min, max } : undefined;
}

/**
 * The window of a min-max VOI: like dcmtk's, center (min + max + 1) / 2 and width max - min + 1, which
 * LINEAR maps min to 0 and max to 255.
 */
export function minMaxWindow(
  range: ValueRange | undefined,
  info: ImageInfo,
  transform: GrayscaleTransform,
): ResolvedVoi {
  let { min, max } = range ?? { min: 0, max: 0 };
  if (!range) {
    const bits = Math.min(info.bitsStored, 32);
    [min, max] = info.signed ? [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
    const f = modalityFunction(transform.modality);
    [min, max] = [Math.min(f(min), f(max)), Math.max(f(min), f(max))];
  }
  return { kind: 'window', center: (min + max + 1) / 2, width: max - min + 1, fn: 'LINEAR' };
}

// Separate functions per sample type keep the hot loops monomorphic (about twice as fast as one loop over
// a union of array types).
function lookup16(samples: Uint16Array, table: Uint8Array, out: Uint8Array, pixels: number): void {
  for (let i = 0; i < pixels; i++) out[i] = table[samples[i]!]!;
}

function lookup8(samples: Uint8Array, table: Uint8Array, out: Uint8Array, pixels: number): void {
  for (let i = 0; i < pixels; i++) out[i] = table[samples[i]!]!;
}

/** The frame as 8-bit grayscale, one byte per pixel, rows top to bottom. */
export function renderGrayscale(
  frame: DecodedFrame,
  info: ImageInfo,
  transform: GrayscaleTransform,
  voi: ResolvedVoi,
): Buffer {
  const { samples } = frame;
  const pixels = info.rows * info.columns;
  const out = Buffer.allocUnsafe(pixels);
  if (isTableIndexed(samples)) {
    const table = outputTable(frame.bitsAllocated, info, transform, voi);
    if (samples instanceof Uint16Array) lookup16(samples, table, out, pixels);
    else lookup8(samples, table, out, pixels);
    return out;
  }
  const toStored = wideStoredFunction(info);
  const modality = modalityFunction(transform.modality);
  const toByte = voiFunction(voi, transform.invert);
  for (let i = 0; i < pixels; i++) {
    const s = toStored(samples[i]!);
    out[i] = Number.isNaN(s) ? 0 : toByte(modality(s));
  }
  return out;
}
