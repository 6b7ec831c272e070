/**
 * Colour frames to 8-bit pixel-interleaved RGB (PS3.3 C.7.6.3.1.2): RGB (either planar configuration, any
 * bit depth), YBR_FULL and YBR_FULL_422 (full-range ITU-R BT.601 to RGB, rounded), YBR_PARTIAL_422 and
 * PALETTE COLOR (8- or 16-bit entries; first mapped value; out-of-range indices take the first or last entry).
 * No VOI unless a window is given; then it applies to each channel's values (at their own bit depth).
 * Everything is table driven: one lookup per sample, integer arithmetic for the YBR conversion.
 */
import type { DecodedFrame } from './decode.js';
import { RenderError } from './errors.js';
import type { ResolvedVoi } from './grayscale.js';
import type { ImageInfo, Lut, Palette } from './image.js';

/** Channel value of `bits` bits -> output byte: the window if any, else rescaled to 8 bits as dcmtk does. */
function channelTable(bits: number, window: ResolvedVoi | undefined): Uint8Array {
  const size = 2 ** bits;
  const table = new Uint8Array(size);
  if (window && window.kind === 'window') {
    const { center: c, width: w, fn } = window;
    for (let v = 0; v < size; v++) {
      let t: number;
      if (fn === 'SIGMOID') t = 1 / (1 + Math.exp((-4 * (v - c)) / w));
      else if (fn === 'LINEAR_EXACT') t = v <= c - w / 2 ? 0 : v > c + w / 2 ? 1 : (v - c) / w + 0.5;
      else {
        const left = c - 0.5 - (w - 1) / 2;
        const right = c - 0.5 + (w - 1) / 2;
        t = v <= left ? 0 : v > right || w <= 1 ? 1 : (v - (c - 0.5)) / (w - 1) + 0.5;
      }
      table[v] = Math.floor(255 * t);
    }
  } else if (bits >= 8) {
    for (let v = 0; v < size; v++) table[v] = v >>> (bits - 8);
  } else {
    for (let v = 0; v < size; v++) table[v] = Math.floor((v * 255) / (size - 1));
  }
  return table;
}

/** Raw sample -> output byte for RGB samples: Bits Stored bits below High Bit, then channelTable. */
function sampleTable(containerBits: number, info: ImageInfo, window: ResolvedVoi | undefined): Uint8Array {
  const stored = Math.min(info.bitsStored, containerBits);
  const high = info.highBit < containerBits ? info.highBit : stored - 1;
  const shift = high + 1 - stored;
  const mask = (1 << stored) - 1;
  const channel = channelTable(stored, window);
  const table = new Uint8Array(1 << containerBits);
  for (let raw = 0; raw < table.length; raw++) table[raw] = channel[(raw >>> shift) & mask]!;
  return table;
}

function isIdentity(table: Uint8Array): boolean {
  if (table.length !== 256) return false;
  for (let i = 0; i < 256; i++) if (table[i] !== i) return false;
  return true;
}

// Full-range YCbCr -> RGB (PS3.3 C.7.6.3.1.2, JFIF): R = Y + 1.402 Cr', G = Y - 0.344136 Cb' - 0.714136 Cr',
// B = Y + 1.772 Cb' (Cb' = Cb - 128), in 16.16 fixed point with rounding.
const FIX = 1 << 16;
const HALF = 1 << 15;
const CR_R = new Int32Array(256);
const CB_G = new Int32Array(256);
const CR_G = new Int32Array(256);
const CB_B = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const d = i - 128;
  CR_R[i] = Math.round(1.402 * FIX * d);
  CB_G[i] = Math.round(-0.344136 * FIX * d);
  CR_G[i] = Math.round(-0.714136 * FIX * d);
  CB_B[i] = Math.round(1.772 * FIX * d);
}
// Partial range (YBR_PARTIAL_422): Y' = 1.164383 (Y - 16); chroma scaled by 255/224.
const Y_P = new Int32Array(256);
const CR_RP = new Int32Array(256);
const CB_GP = new Int32Array(256);
const CR_GP = new Int32Array(256);
const CB_BP = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const d = i - 128;
  Y_P[i] = Math.round(1.164383 * FIX * (i - 16));
  CR_RP[i] = Math.round(1.596027 * FIX * d);
  CB_GP[i] = Math.round(-0.391762 * FIX * d);
  CR_GP[i] = Math.round(-0.812968 * FIX * d);
  CB_BP[i] = Math.round(2.017232 * FIX * d);
}

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

type YbrLayout = 'interleaved' | 'planar' | '422';

/** YCbCr samples (8-bit, in `layout`) to pixel-interleaved RGB. 422: Y1 Y2 Cb Cr for each pair of pixels. */
function ybrToRgb(source: Uint8Array, pixels: number, layout: YbrLayout, partial: boolean): Buffer {
  const out = Buffer.allocUnsafe(pixels * 3);
  const rT = partial ? CR_RP : CR_R;
  const gbT = partial ? CB_GP : CB_G;
  const grT = partial ? CR_GP : CR_G;
  const bT = partial ? CB_BP : CB_B;
  const mode = layout === 'interleaved' ? 0 : layout === 'planar' ? 1 : 2;
  for (let p = 0, o = 0; p < pixels; p++, o += 3) {
    let iy: number;
    let icb: number;
    let icr: number;
    if (mode === 0) {
      iy = p * 3;
      icb = iy + 1;
      icr = iy + 2;
    } else if (mode === 1) {
      iy = p;
      icb = p + pixels;
      icr = icb + pixels;
    } else {
      const base = (p >> 1) * 4;
      iy = base + (p & 1);
      icb = base + 2;
      icr = base + 3;
    }
    const Y = partial ? Y_P[source[iy]!]! : source[iy]! * FIX;
    const cb = source[icb]!;
    const cr = source[icr]!;
    out[o] = clampByte((Y + rT[cr]! + HALF) >> 16);
    out[o + 1] = clampByte((Y + gbT[cb]! + grT[cr]! + HALF) >> 16);
    out[o + 2] = clampByte((Y + bT[cb]! + HALF) >> 16);
  }
  return out;
}

/** Samples of any container as 8-bit values (through `table`), keeping their layout. */
function toBytes(samples: Uint8Array | Uint16Array, table: Uint8Array): Uint8Array {
  if (samples instanceof Uint8Array && isIdentity(table)) return samples;
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = table[samples[i]!]!;
  return out;
}

/** The frame as 8-bit RGB, pixel-interleaved. */
export function renderColour(
  frame: DecodedFrame,
  info: ImageInfo,
  window: ResolvedVoi | undefined,
  palette: Palette | undefined,
): Buffer {
  const { samples } = frame;
  if (!(samples instanceof Uint8Array || samples instanceof Uint16Array)) {
    throw new RenderError(`colour samples of ${frame.bitsAllocated} bits are not supported`, 'unsupported');
  }
  const pixels = info.rows * info.columns;
  if (frame.photometric === 'PALETTE COLOR') {
    if (!palette) throw new RenderError('PALETTE COLOR image without a palette', 'unsupported');
    return renderPalette(samples, frame.bitsAllocated, info, palette, window, pixels);
  }
  const photometric = frame.photometric;
  const ybr = photometric.startsWith('YBR_FULL') || photometric.startsWith('YBR_PARTIAL');
  if (!ybr && photometric !== 'RGB') {
    throw new RenderError(`Photometric Interpretation ${photometric} is not supported`, 'unsupported');
  }
  const partial = photometric.startsWith('YBR_PARTIAL');
  if (!ybr) {
    const bytes = toBytes(samples, sampleTable(frame.bitsAllocated, info, window));
    return interleave(bytes, pixels, frame.planar);
  }
  // YBR: to 8-bit samples first (no window), convert, then the window on the RGB values if any.
  const bytes = toBytes(samples, sampleTable(frame.bitsAllocated, info, undefined));
  const layout = frame.subsampled ? '422' : frame.planar ? 'planar' : 'interleaved';
  const rgb = ybrToRgb(bytes, pixels, layout, partial);
  if (window) {
    const table = channelTable(8, window);
    for (let i = 0; i < rgb.length; i++) rgb[i] = table[rgb[i]!]!;
  }
  return rgb;
}

function interleave(bytes: Uint8Array, pixels: number, planar: boolean): Buffer {
  if (!planar) return Buffer.from(bytes.buffer, bytes.byteOffset, pixels * 3);
  const out = Buffer.allocUnsafe(pixels * 3);
  for (let p = 0, o = 0; p < pixels; p++, o += 3) {
    out[o] = bytes[p]!;
    out[o + 1] = bytes[p + pixels]!;
    out[o + 2] = bytes[p + 2 * pixels]!;
  }
  return out;
}

function paletteTable(
  containerBits: number,
  info: ImageInfo,
  lut: Lut,
  window: ResolvedVoi | undefined,
): Uint8Array {
  const stored = Math.min(info.bitsStored, containerBits);
  const high = info.highBit < containerBits ? info.highBit : stored - 1;
  const shift = high + 1 - stored;
  const mask = (1 << stored) - 1;
  const channel = channelTable(lut.bits, window);
  const last = lut.entries.length - 1;
  const table = new Uint8Array(1 << containerBits);
  for (let raw = 0; raw < table.length; raw++) {
    let index = ((raw >>> shift) & mask) - lut.first;
    if (index < 0) index = 0;
    else if (index > last) index = last;
    table[raw] = channel[lut.entries[index]!]!;
  }
  return table;
}

function renderPalette(
  samples: Uint8Array | Uint16Array,
  containerBits: number,
  info: ImageInfo,
  palette: Palette,
  window: ResolvedVoi | undefined,
  pixels: number,
): Buffer {
  const red = paletteTable(containerBits, info, palette.red, window);
  const green = paletteTable(containerBits, info, palette.green, window);
  const blue = paletteTable(containerBits, info, palette.blue, window);
  const out = Buffer.allocUnsafe(pixels * 3);
  for (let p = 0, o = 0; p < pixels; p++, o += 3) {
    const s = samples[p]!;
    out[o] = red[s]!;
    out[o + 1] = green[s]!;
    out[o + 2] = blue[s]!;
  }
  return out;
}
