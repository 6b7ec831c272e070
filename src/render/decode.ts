/**
 * One stored frame to native little-endian samples. Native syntaxes are read as they are (big endian
 * swapped); compressed frames go through dcmjs-imaging's NativePixelDecoder (the dcmjs-codecs WebAssembly
 * decoders: RLE, JPEG 1/2&4/14/14-SV1, JPEG-LS, JPEG 2000, HTJ2K, JPEG XL), initialised lazily once.
 *
 * Fixes around dcmjs-imaging 0.2.5:
 * - its decoding context swaps Planar Configuration (0 is passed as 1 and back), which makes the RLE
 *   decoder return colour planes where the dataset says pixel-interleaved and the reverse; the value is
 *   handed over pre-swapped so the codec gets the dataset's;
 * - a codec failure (a corrupt or truncated codestream) can leave the WebAssembly instance in an undefined
 *   state: JPEG-LS errors trap ("unreachable") and every later decode fails, and the others unwind through
 *   the module without freeing its context. After any decoder error the module is dropped and initialised
 *   again before the next decode;
 * - the codecs' output layout is not always the dataset's: JPEG and JPEG 2000 colour come back
 *   pixel-interleaved, JPEG-LS as its interleave mode says, lossy JPEG colour and JPEG 2000 YBR_RCT/YBR_ICT
 *   as RGB, subsampled YBR as full-resolution samples; DecodedFrame says what was returned.
 * Signed samples come back sign-extended or not depending on the codestream; the grayscale pipeline only
 * uses the Bits Stored bits, so both work.
 */
import dcmjsImaging from 'dcmjs-imaging';
import { RenderError } from './errors.js';
import type { ImageInfo } from './image.js';
import { jpegLsIsPlanar } from '../transcode/codestream-markers.js';

const { NativePixelDecoder } = dcmjsImaging;

interface PixelLike {
  getWidth(): number;
  getHeight(): number;
  getBitsAllocated(): number;
  getBitsStored(): number;
  getSamplesPerPixel(): number;
  getPixelRepresentation(): number;
  getPlanarConfiguration(): number;
  getPhotometricInterpretation(): string;
}

type DecodeFn = (pixel: PixelLike, data: Uint8Array, parameters?: Record<string, unknown>) => Uint8Array;

/** The static decoders dcmjs-imaging exports but does not declare in its typings. */
const decoders = NativePixelDecoder as unknown as {
  decodeRle: DecodeFn;
  decodeJpeg: DecodeFn;
  decodeJpegLs: DecodeFn;
  decodeJpeg2000: DecodeFn;
  decodeJpegXl: DecodeFn;
};

const NATIVE = new Set([
  '1.2.840.10008.1.2',
  '1.2.840.10008.1.2.1',
  '1.2.840.10008.1.2.1.99',
  '1.2.840.10008.1.2.2',
  '1.2.840.10008.1.2.1.98', // Encapsulated Uncompressed Explicit VR Little Endian
]);
const EXPLICIT_VR_BIG_ENDIAN = '1.2.840.10008.1.2.2';

type Codec = 'rle' | 'jpeg' | 'jpeg-lossy' | 'jpeg-ls' | 'j2k' | 'jxl';

const CODEC_BY_SYNTAX = new Map<string, Codec>([
  ['1.2.840.10008.1.2.5', 'rle'],
  ['1.2.840.10008.1.2.4.50', 'jpeg-lossy'],
  ['1.2.840.10008.1.2.4.51', 'jpeg-lossy'],
  ['1.2.840.10008.1.2.4.57', 'jpeg'],
  ['1.2.840.10008.1.2.4.70', 'jpeg'],
  ['1.2.840.10008.1.2.4.80', 'jpeg-ls'],
  ['1.2.840.10008.1.2.4.81', 'jpeg-ls'],
  ['1.2.840.10008.1.2.4.90', 'j2k'],
  ['1.2.840.10008.1.2.4.91', 'j2k'],
  ['1.2.840.10008.1.2.4.201', 'j2k'],
  ['1.2.840.10008.1.2.4.202', 'j2k'],
  ['1.2.840.10008.1.2.4.203', 'j2k'],
  ['1.2.840.10008.1.2.4.110', 'jxl'],
  ['1.2.840.10008.1.2.4.111', 'jxl'],
  ['1.2.840.10008.1.2.4.112', 'jxl'],
]);

export function isBigEndian(transferSyntaxUid: string): boolean {
  return transferSyntaxUid === EXPLICIT_VR_BIG_ENDIAN;
}

export function canDecode(transferSyntaxUid: string): boolean {
  return NATIVE.has(transferSyntaxUid) || CODEC_BY_SYNTAX.has(transferSyntaxUid);
}

export interface DecodedFrame {
  /** Little-endian samples; 8-bit containers as bytes, 16-bit as words (an aligned copy when needed). */
  samples: Uint8Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;
  /** Bits per sample of `samples`: the image's Bits Allocated, or 8 when a codec returned bytes for words. */
  bitsAllocated: number;
  /** Photometric interpretation of the samples: RGB where the codec converted, YBR_FULL when upsampled. */
  photometric: string;
  /** Colour-by-plane layout (else pixel-interleaved). */
  planar: boolean;
  /** Native YBR_FULL_422/YBR_PARTIAL_422: two samples (Y1 Y2 Cb Cr per pixel pair) per pixel. */
  subsampled: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Codec module lifecycle

let ready: Promise<void> | undefined;

function initDecoders(): Promise<void> {
  ready ??= NativePixelDecoder.initializeAsync().catch((error: unknown) => {
    ready = undefined;
    throw new RenderError(`cannot initialise the image decoders: ${String(error)}`, 'unsupported', {
      cause: error,
    });
  });
  return ready;
}

/** Drops the WebAssembly instance after a decoder failure; the next decode initialises a fresh one. */
function resetDecoders(): void {
  NativePixelDecoder.release();
  ready = undefined;
}

// ---------------------------------------------------------------------------------------------------------

function nativeFrameLength(info: ImageInfo): number {
  const pixels = info.rows * info.columns;
  if (info.bitsAllocated === 1) return Math.ceil(pixels / 8);
  const samples = isSubsampled(info.photometric) && info.samplesPerPixel === 3 ? 2 : info.samplesPerPixel;
  return pixels * samples * (info.bitsAllocated / 8);
}

function isSubsampled(photometric: string): boolean {
  return photometric === 'YBR_FULL_422' || photometric === 'YBR_PARTIAL_422';
}

/** `length` bytes of `bytes` as a typed array of `bits`-bit samples (copied when unaligned or swapped). */
function view(
  bytes: Uint8Array,
  length: number,
  info: ImageInfo,
  bits: number,
  swap: boolean,
): DecodedFrame['samples'] {
  const size = bits === 64 ? 8 : bits === 32 ? 4 : bits === 16 ? 2 : 1;
  let data = bytes.subarray(0, length);
  if (size > 1 && (swap || data.byteOffset % size !== 0)) {
    const copy = Buffer.alloc(length);
    copy.set(data);
    if (swap && size === 2) copy.swap16();
    else if (swap && size === 4) copy.swap32();
    else if (swap && size === 8) copy.swap64();
    data = copy;
  }
  const count = length / size;
  switch (bits) {
    case 64:
      return new Float64Array(data.buffer, data.byteOffset, count);
    case 32:
      if (info.sampleType === 'float') return new Float32Array(data.buffer, data.byteOffset, count);
      return info.signed
        ? new Int32Array(data.buffer, data.byteOffset, count)
        : new Uint32Array(data.buffer, data.byteOffset, count);
    case 16:
      return new Uint16Array(data.buffer, data.byteOffset, count);
    default:
      return data;
  }
}

/** 1-bit samples (least significant bit first, PS3.5 8.1.1) as one byte (0 or 1) per pixel. */
function unpackBits(bytes: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) out[i] = (bytes[i >> 3]! >> (i & 7)) & 1;
  return out;
}

/**
 * The RLE header (PS3.5 G.5): as many segments as bytes per pixel, offsets increasing from 64 and inside the
 * frame. The codec itself accepts garbage and truncated frames (it returns zeros for what is missing).
 */
function checkRleHeader(data: Uint8Array, info: ImageInfo): void {
  const expected = info.samplesPerPixel * (info.bitsAllocated / 8);
  if (data.length < 64) throw new RenderError(`RLE frame of ${data.length} bytes has no header`, 'corrupt');
  const word = (at: number) =>
    (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24)) >>> 0;
  const segments = word(0);
  if (segments !== expected) {
    throw new RenderError(`RLE header names ${segments} segments, the image needs ${expected}`, 'corrupt');
  }
  let previous = 63;
  for (let s = 0; s < segments; s++) {
    const offset = word(4 + s * 4);
    if (offset <= previous || offset >= data.length || (s === 0 && offset !== 64)) {
      throw new RenderError(
        `RLE segment ${s + 1} offset ${offset} is outside the ${data.length}-byte frame`,
        'corrupt',
      );
    }
    previous = offset;
  }
}

/**
 * JPEG, JPEG-LS and JPEG 2000 codestreams end with EOI/EOC (FFD9), before at most a padding byte or two.
 * A truncated stream is refused here: the JPEG decoder would otherwise fill the missing part with grey.
 */
function checkEndMarker(data: Uint8Array): void {
  let end = data.length;
  while (end > 2 && data.length - end < 2 && data[end - 1] === 0) end--;
  if (end < 4 || data[end - 2] !== 0xff || data[end - 1] !== 0xd9) {
    throw new RenderError('the codestream is truncated (no end of image marker)', 'corrupt');
  }
}

/**
 * Decodes one frame as stored (native bytes, or the frame's fragments joined) to little-endian samples.
 * Throws RenderError for unknown syntaxes, short frames and codec failures.
 */
export async function decodeFrame(
  frame: Buffer,
  info: ImageInfo,
  transferSyntaxUid: string,
): Promise<DecodedFrame> {
  const bytes = new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
  if (NATIVE.has(transferSyntaxUid)) {
    const length = nativeFrameLength(info);
    if (bytes.length < length) {
      throw new RenderError(`frame has ${bytes.length} bytes, expected ${length}`, 'corrupt');
    }
    const pixels = info.rows * info.columns;
    if (info.bitsAllocated === 1) {
      return { samples: unpackBits(bytes, pixels), bitsAllocated: 8, ...layout(info, false) };
    }
    // Big endian swaps words; 8-bit samples only when they were written as OW (PS3.5 A.3).
    const bigEndian = transferSyntaxUid === EXPLICIT_VR_BIG_ENDIAN;
    const eightBitWords = bigEndian && info.bitsAllocated === 8 && info.pixelDataVr === 'OW';
    let source = bytes;
    if (eightBitWords) {
      const copy = Buffer.from(bytes.subarray(0, length + (length % 2)));
      source = copy.length % 2 === 0 ? copy.swap16() : copy;
    }
    return {
      samples: view(source, length, info, info.bitsAllocated, bigEndian && info.bitsAllocated > 8),
      bitsAllocated: info.bitsAllocated,
      ...layout(info, isSubsampled(info.photometric)),
    };
  }

  const codec = CODEC_BY_SYNTAX.get(transferSyntaxUid);
  if (!codec) throw new RenderError(`no decoder for transfer syntax ${transferSyntaxUid}`, 'unsupported');
  if (info.sampleType !== 'int' || (info.bitsAllocated !== 8 && info.bitsAllocated !== 16)) {
    throw new RenderError(`compressed pixel data with ${info.bitsAllocated} bits allocated`, 'unsupported');
  }
  await initDecoders();
  const pixel: PixelLike = {
    getWidth: () => info.columns,
    getHeight: () => info.rows,
    getBitsAllocated: () => info.bitsAllocated,
    getBitsStored: () => info.bitsStored,
    getSamplesPerPixel: () => info.samplesPerPixel,
    getPixelRepresentation: () => (info.signed ? 1 : 0),
    // dcmjs-imaging swaps 0 and 1 on the way to the codec; swapped here so that the codec gets the real one.
    getPlanarConfiguration: () => (info.planar ? 0 : 1),
    getPhotometricInterpretation: () => info.photometric,
  };
  let decoded: Uint8Array;
  try {
    if (codec !== 'rle' && codec !== 'jxl') checkEndMarker(bytes);
    switch (codec) {
      case 'rle':
        checkRleHeader(bytes, info);
        decoded = decoders.decodeRle(pixel, bytes);
        break;
      case 'jpeg':
        decoded = decoders.decodeJpeg(pixel, bytes);
        break;
      case 'jpeg-lossy':
        decoded = decoders.decodeJpeg(pixel, bytes, { convertColorspaceToRgb: true });
        break;
      case 'jpeg-ls':
        decoded = decoders.decodeJpegLs(pixel, bytes);
        break;
      case 'j2k':
        decoded = decoders.decodeJpeg2000(pixel, bytes);
        break;
      case 'jxl':
        decoded = decoders.decodeJpegXl(pixel, bytes);
        break;
    }
  } catch (error) {
    if (error instanceof RenderError) throw error;
    resetDecoders();
    const detail = error instanceof Error ? error.message : String(error);
    throw new RenderError(
      `cannot decode the frame (${transferSyntaxUid}): ${detail.slice(0, 200)}`,
      'corrupt',
      {
        cause: error,
      },
    );
  }

  const colour = info.samplesPerPixel === 3;
  let photometric = info.photometric;
  let planar = false;
  if (colour) {
    if (codec === 'rle') planar = info.planar;
    else if (codec === 'jpeg-ls') planar = jpegLsIsPlanar(bytes, info.samplesPerPixel);
    if (codec === 'jpeg-lossy') photometric = 'RGB';
    else if ((codec === 'j2k' || codec === 'jxl') && /^(YBR_RCT|YBR_ICT|XYB)$/.test(photometric)) {
      photometric = 'RGB';
    } else if (photometric === 'YBR_FULL_422') photometric = 'YBR_FULL';
    else if (photometric === 'YBR_PARTIAL_422' || photometric === 'YBR_PARTIAL_420')
      photometric = 'YBR_PARTIAL';
  }
  const expected = info.rows * info.columns * info.samplesPerPixel * (info.bitsAllocated / 8);
  let bits = info.bitsAllocated;
  if (bits === 16 && decoded.length === expected / 2) {
    bits = 8; // a codestream of at most 8 bits returned as bytes
  } else if (decoded.length < expected) {
    throw new RenderError(`decoded frame has ${decoded.length} bytes, expected ${expected}`, 'corrupt');
  }
  const length = bits === info.bitsAllocated ? expected : expected / 2;
  return {
    samples: view(decoded, length, info, bits, false),
    bitsAllocated: bits,
    photometric,
    planar,
    subsampled: false,
  };
}

function layout(info: ImageInfo, subsampled: boolean): Omit<DecodedFrame, 'samples' | 'bitsAllocated'> {
  return { photometric: info.photometric, planar: info.planar, subsampled };
}
