/**
 * Transfer syntax conversion for WADO-RS (PS3.18 8.7.3): whole instances re-encoded in another transfer
 * syntax, and single frames decoded to native pixels.
 *
 * Reading uses the gateway's own DatasetReader (bulk values stay in the input buffer; big endian, implicit VR
 * and deflated inputs are all read); the dataset is then re-encoded element by element in the target encoding,
 * so text keeps its bytes and Specific Character Set, and binary values are byte-swapped by VR when the
 * endianness changes. Pixel data goes through the dcmjs-codecs WebAssembly codecs one frame at a time
 * (NativeCodecs, initialised lazily once). Icon images (nested Pixel Data) are converted the same way, or
 * their sequence is dropped when they cannot be.
 *
 * The conversion rule (canTranscode):
 * - the identity (from === to) is always possible: the stored file is returned unchanged;
 * - otherwise the source must be decodable (native, RLE, JPEG 1/2&4/14/14-SV1, JPEG-LS, JPEG 2000 Part 1,
 *   HTJ2K, JPEG XL) and the target must be native (Implicit/Explicit VR Little Endian, Explicit VR Big
 *   Endian, Deflated, Encapsulated Uncompressed) or a lossless syntax the codecs encode (RLE, JPEG Lossless
 *   SV1, JPEG-LS Lossless, JPEG 2000 Lossless, HTJ2K Lossless and Lossless RPCL, JPEG XL Lossless);
 * - lossy targets are never produced from anything but themselves: no lossy compression of lossless data and
 *   no re-compression of lossy data. A lossy source may be decompressed (and then losslessly re-encoded); its
 *   pixels are then the decoded lossy pixels and the dataset keeps its Lossy Image Compression attributes.
 * Whether a given image can be converted also depends on the image: transcodePart10 throws a TranscodeError
 * then, which callers map to 406 like a false canTranscode. Limits of the codecs (dcmjs-codecs 0.0.8): 8 or 16
 * Bits Allocated and 1 or 3 samples; colour JPEG 2000 is decoded and encoded at 8 bits only, colour HTJ2K
 * encoded at 8 bits only; signed images are JPEG 2000/HTJ2K-encoded at 16 bits only; YBR_PARTIAL_* and
 * subsampled colour other than YBR_FULL_422 are not re-encoded; 1-bit and float pixel data stay native.
 *
 * Samples are kept exactly: encoders code Bits Stored bits only when every sample fits them (otherwise the
 * whole container), and decoders sign-extend only what a codestream coded as unsigned Bits Stored values.
 */
import { setImmediate as nextTick } from 'node:timers/promises';
import { deflateRawSync, inflateRawSync, inflateSync } from 'node:zlib';
import dcmjsCodecs from 'dcmjs-codecs';
import { DatasetReader } from '../dicom/dataset-reader.js';
import { UNDEFINED_LENGTH, type DataSet, type DicomElement } from '../dicom/dataset.js';
import { lookupTag } from '../dicom/dictionary.js';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../dicom/file-meta.js';
import { computeFrameLayout } from '../dicom/frame-layout.js';
import { Tag } from '../dicom/tags.js';
import { findTransferSyntax, type TransferSyntax } from '../dicom/transfer-syntax.js';
import { getNumber, getString } from '../dicom/values.js';
import { hasLongLength, type VR } from '../dicom/vr.js';

const { NativeCodecs, Context } = dcmjsCodecs;
type CodecContext = InstanceType<typeof Context>;

export interface FrameImageInfo {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
  photometricInterpretation: string;
  planarConfiguration: number;
}

export interface DecodedFrame {
  /** Native little-endian pixels of one frame, laid out as the planar configuration below. */
  pixels: Buffer;
  photometricInterpretation: string;
  planarConfiguration: number;
}

/** A conversion that cannot be done (unsupported syntax pair, or an image the codecs cannot handle). */
export class TranscodeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TranscodeError';
  }
}

// ---------------------------------------------------------------------------------------------------------
// Transfer syntaxes and codec families

const UID = {
  ImplicitLE: '1.2.840.10008.1.2',
  ExplicitLE: '1.2.840.10008.1.2.1',
  DeflatedLE: '1.2.840.10008.1.2.1.99',
  ExplicitBE: '1.2.840.10008.1.2.2',
  EncapsulatedUncompressed: '1.2.840.10008.1.2.1.98',
  JpegBaseline: '1.2.840.10008.1.2.4.50',
  JpegExtended: '1.2.840.10008.1.2.4.51',
  JpegLossless: '1.2.840.10008.1.2.4.57',
  JpegLosslessSV1: '1.2.840.10008.1.2.4.70',
  JpegLsLossless: '1.2.840.10008.1.2.4.80',
  JpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  J2kLossless: '1.2.840.10008.1.2.4.90',
  J2k: '1.2.840.10008.1.2.4.91',
  HtJ2kLossless: '1.2.840.10008.1.2.4.201',
  HtJ2kLosslessRpcl: '1.2.840.10008.1.2.4.202',
  HtJ2k: '1.2.840.10008.1.2.4.203',
  JxlLossless: '1.2.840.10008.1.2.4.110',
  JxlJpegRecompression: '1.2.840.10008.1.2.4.111',
  Jxl: '1.2.840.10008.1.2.4.112',
  Rle: '1.2.840.10008.1.2.5',
} as const;

type Family = 'native' | 'encapsulated-native' | 'rle' | 'jpeg' | 'jpeg-ls' | 'j2k' | 'htj2k' | 'jxl';

/** Syntaxes whose pixel data can be decoded, by codec family. */
const DECODABLE: ReadonlyMap<string, Family> = new Map<string, Family>([
  [UID.ImplicitLE, 'native'],
  [UID.ExplicitLE, 'native'],
  [UID.DeflatedLE, 'native'],
  [UID.ExplicitBE, 'native'],
  [UID.EncapsulatedUncompressed, 'encapsulated-native'],
  [UID.Rle, 'rle'],
  [UID.JpegBaseline, 'jpeg'],
  [UID.JpegExtended, 'jpeg'],
  [UID.JpegLossless, 'jpeg'],
  [UID.JpegLosslessSV1, 'jpeg'],
  [UID.JpegLsLossless, 'jpeg-ls'],
  [UID.JpegLsNearLossless, 'jpeg-ls'],
  [UID.J2kLossless, 'j2k'],
  [UID.J2k, 'j2k'],
  [UID.HtJ2kLossless, 'htj2k'],
  [UID.HtJ2kLosslessRpcl, 'htj2k'],
  [UID.HtJ2k, 'htj2k'],
  [UID.JxlLossless, 'jxl'],
  [UID.JxlJpegRecompression, 'jxl'],
  [UID.Jxl, 'jxl'],
]);

/** Syntaxes that can be produced from decoded pixels: native ones and the lossless encoders. */
const ENCODABLE: ReadonlyMap<string, Family> = new Map<string, Family>([
  [UID.ImplicitLE, 'native'],
  [UID.ExplicitLE, 'native'],
  [UID.DeflatedLE, 'native'],
  [UID.ExplicitBE, 'native'],
  [UID.EncapsulatedUncompressed, 'encapsulated-native'],
  [UID.Rle, 'rle'],
  [UID.JpegLosslessSV1, 'jpeg'],
  [UID.JpegLsLossless, 'jpeg-ls'],
  [UID.J2kLossless, 'j2k'],
  [UID.HtJ2kLossless, 'htj2k'],
  [UID.HtJ2kLosslessRpcl, 'htj2k'],
  [UID.JxlLossless, 'jxl'],
]);

/** Lossy JPEG (processes 1, 2 and 4): colour data is YCbCr and comes out of the decoder as RGB. */
const LOSSY_JPEG = new Set<string>([UID.JpegBaseline, UID.JpegExtended]);

/**
 * Whether `from` -> `to` can be produced: the identity always; otherwise a decodable source and a native or
 * lossless target (see the module comment). Lossy targets only from the same syntax.
 */
export function canTranscode(fromTransferSyntax: string, toTransferSyntax: string): boolean {
  if (fromTransferSyntax === toTransferSyntax) return true;
  return DECODABLE.has(fromTransferSyntax) && ENCODABLE.has(toTransferSyntax);
}

function syntaxName(uid: string): string {
  const ts = findTransferSyntax(uid);
  return ts ? `${ts.name} (${uid})` : uid;
}

function refusal(from: string, to: string): TranscodeError {
  const target = findTransferSyntax(to);
  const reason = !DECODABLE.has(from)
    ? `no decoder for ${syntaxName(from)}`
    : target?.lossy && !target.frameMediaType.startsWith('video/')
      ? `${syntaxName(to)} is lossy and only served as stored`
      : `no encoder for ${syntaxName(to)}`;
  return new TranscodeError(`cannot transcode ${syntaxName(from)} to ${syntaxName(to)}: ${reason}`);
}

// ---------------------------------------------------------------------------------------------------------
// Codec initialisation

let codecsReady: Promise<void> | undefined;

/** Initialises the WebAssembly codecs once; a failed attempt is retried on the next call. */
function initCodecs(): Promise<void> {
  if (NativeCodecs.isInitialized()) return Promise.resolve();
  codecsReady ??= NativeCodecs.initializeAsync().catch((error: unknown) => {
    codecsReady = undefined;
    throw new TranscodeError(`cannot initialise the image codecs: ${String(error)}`, { cause: error });
  });
  return codecsReady;
}

// ---------------------------------------------------------------------------------------------------------
// Pixel helpers

const KNOWN_PHOTOMETRICS = new Set(Object.values(dcmjsCodecs.constants.PhotometricInterpretation));

function bytesPerSample(image: FrameImageInfo): number {
  return Math.ceil(image.bitsAllocated / 8);
}

/** Bytes of one native frame; YBR_FULL_422/YBR_PARTIAL_422 keep two samples per pixel (PS3.3 C.7.6.3.1.2). */
function nativeFrameLength(image: FrameImageInfo): number {
  const subsampled = image.photometricInterpretation.endsWith('_422');
  const samples = subsampled && image.samplesPerPixel === 3 ? 2 : image.samplesPerPixel;
  return image.rows * image.columns * samples * bytesPerSample(image);
}

function swapBytes(data: Buffer, unit: number): Buffer {
  const out = Buffer.from(data);
  const end = out.length - (out.length % unit);
  if (unit === 2) out.subarray(0, end).swap16();
  else if (unit === 4) out.subarray(0, end).swap32();
  else if (unit === 8) out.subarray(0, end).swap64();
  return out;
}

/** Pixel-interleaved <-> planar (colour-by-plane) for 1- or 2-byte samples. */
function changePlanar(data: Buffer, samples: number, sampleBytes: number, toPlanar: boolean): Buffer {
  const pixels = Math.floor(data.length / (samples * sampleBytes));
  const out = Buffer.alloc(data.length);
  for (let p = 0; p < pixels; p++) {
    for (let s = 0; s < samples; s++) {
      const interleaved = (p * samples + s) * sampleBytes;
      const planar = (s * pixels + p) * sampleBytes;
      const [from, to] = toPlanar ? [interleaved, planar] : [planar, interleaved];
      for (let b = 0; b < sampleBytes; b++) out[to + b] = data[from + b]!;
    }
  }
  return out;
}

/** YBR_FULL_422 (Y1 Y2 Cb Cr per pixel pair) to YBR_FULL, interleaved, by repeating the chroma samples. */
function expandYbr422(data: Buffer, image: FrameImageInfo): Buffer {
  const pixels = image.rows * image.columns;
  const out = Buffer.alloc(pixels * 3);
  for (let p = 0, i = 0; p < pixels && i + 3 < data.length; p += 2, i += 4) {
    const [y1, y2, cb, cr] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
    out[p * 3] = y1;
    out[p * 3 + 1] = cb;
    out[p * 3 + 2] = cr;
    if (p + 1 < pixels) {
      out[p * 3 + 3] = y2;
      out[p * 3 + 4] = cb;
      out[p * 3 + 5] = cr;
    }
  }
  return out;
}

/** 8-bit samples -> 16-bit containers (zero-extended; signed data is sign-extended afterwards if coded so). */
function widen8(data: Buffer): Buffer {
  const out = Buffer.alloc(data.length * 2);
  for (let i = 0; i < data.length; i++) out[i * 2] = data[i]!;
  return out;
}

function readSample(data: Buffer, at: number, sampleBytes: number): number {
  return sampleBytes === 2 ? data.readUInt16LE(at) : data[at]!;
}

function writeSample(data: Buffer, at: number, sampleBytes: number, value: number): void {
  if (sampleBytes === 2) data.writeUInt16LE(value, at);
  else data[at] = value;
}

/**
 * Whether every sample is a value of Bits Stored bits: below 2^bits when unsigned, the sign extension of its
 * low bits when signed. Otherwise the bits above Bits Stored carry something (overshoot of a lossy codec
 * with a wider codestream, overlays, padding) and coding only Bits Stored bits would lose it.
 */
function fitsBitsStored(data: Buffer, sampleBytes: number, bits: number, signed: boolean): boolean {
  const width = sampleBytes * 8;
  if (bits >= width) return true;
  const high = ((1 << width) - 1) & ~((1 << bits) - 1);
  const sign = 1 << (bits - 1);
  for (let at = 0; at + sampleBytes <= data.length; at += sampleBytes) {
    const v = readSample(data, at, sampleBytes);
    const top = v & high;
    if (top !== (signed && v & sign ? high : 0)) return false;
  }
  return true;
}

/** Keeps the low `bits` bits of every sample (codecs that only take unsigned values). */
function maskSamples(data: Buffer, sampleBytes: number, bits: number): Buffer {
  if (bits >= sampleBytes * 8) return data;
  const out = Buffer.from(data);
  const mask = (1 << bits) - 1;
  for (let at = 0; at + sampleBytes <= out.length; at += sampleBytes) {
    writeSample(out, at, sampleBytes, readSample(out, at, sampleBytes) & mask);
  }
  return out;
}

/** Sign-extends every sample from its low `bits` bits (signed data coded as unsigned Bits Stored values). */
function signExtendSamples(data: Buffer, sampleBytes: number, bits: number): Buffer {
  const width = sampleBytes * 8;
  if (bits >= width) return data;
  const out = Buffer.from(data);
  const mask = (1 << bits) - 1;
  const high = ((1 << width) - 1) & ~mask;
  const sign = 1 << (bits - 1);
  for (let at = 0; at + sampleBytes <= out.length; at += sampleBytes) {
    const v = readSample(out, at, sampleBytes) & mask;
    writeSample(out, at, sampleBytes, v & sign ? v | high : v);
  }
  return out;
}

/** Sample precision P of a JPEG or JPEG-LS stream, from its SOF (or SOF55) marker. */
function jpegPrecision(data: Buffer): number | undefined {
  let at = 2; // after SOI
  while (at + 5 <= data.length) {
    if (data[at] !== 0xff) return undefined;
    const marker = data[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof || marker === 0xf7) return data[at + 4];
    if (marker === 0xda || marker === 0xd9) return undefined;
    at += 2 + data.readUInt16BE(at + 2);
  }
  return undefined;
}

const J2K_SOC_SIZ = Buffer.from([0xff, 0x4f, 0xff, 0x51]);

/** Precision and signedness of the first component of a JPEG 2000/HTJ2K codestream (SIZ marker, Ssiz). */
function j2kPrecision(data: Buffer): { precision: number; signed: boolean } | undefined {
  const at = data.indexOf(J2K_SOC_SIZ);
  if (at < 0 || at + 43 > data.length) return undefined;
  const ssiz = data[at + 42]!;
  return { precision: (ssiz & 0x7f) + 1, signed: (ssiz & 0x80) !== 0 };
}

function toBuffer(data: Uint8Array | undefined): Buffer {
  if (!data) throw new TranscodeError('codec returned no data');
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function codecContext(image: FrameImageInfo, overrides: Partial<FrameImageInfo> = {}): CodecContext {
  const i = { ...image, ...overrides };
  const photometric = KNOWN_PHOTOMETRICS.has(i.photometricInterpretation)
    ? i.photometricInterpretation
    : i.samplesPerPixel === 1
      ? 'MONOCHROME2'
      : 'RGB';
  return new Context({
    width: i.columns,
    height: i.rows,
    bitsAllocated: i.bitsAllocated,
    bitsStored: i.bitsStored,
    samplesPerPixel: i.samplesPerPixel,
    pixelRepresentation: i.pixelRepresentation,
    planarConfiguration: i.planarConfiguration,
    photometricInterpretation: photometric,
  });
}

/** Runs a codec call and turns what the WebAssembly side throws (anything) into a TranscodeError. */
function runCodec<T>(what: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (error instanceof TranscodeError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new TranscodeError(`${what} failed: ${detail}`, { cause: error });
  }
}

/** JPEG-LS: the first scan holds one component when the components are coded one after another (ILV 0). */
function jpegLsIsPlanar(data: Buffer, samplesPerPixel: number): boolean {
  if (samplesPerPixel === 1) return false;
  let at = 2; // after SOI
  while (at + 4 < data.length) {
    if (data[at] !== 0xff) return false;
    const marker = data[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === 0xda) return (data[at + 4] ?? samplesPerPixel) < samplesPerPixel;
    at += 2 + data.readUInt16BE(at + 2);
  }
  return false;
}

function checkImage(image: FrameImageInfo): void {
  const { rows, columns, samplesPerPixel, bitsAllocated, bitsStored } = image;
  if (!(rows > 0 && columns > 0)) throw new TranscodeError(`invalid image size ${columns}x${rows}`);
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) {
    throw new TranscodeError(`unsupported Samples per Pixel ${samplesPerPixel}`);
  }
  if (bitsAllocated !== 8 && bitsAllocated !== 16) {
    throw new TranscodeError(`the codecs handle 8 and 16 Bits Allocated, not ${bitsAllocated}`);
  }
  if (!(bitsStored >= 1 && bitsStored <= bitsAllocated)) {
    throw new TranscodeError(`invalid Bits Stored ${bitsStored} for Bits Allocated ${bitsAllocated}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Decoding one frame

/**
 * Decodes one frame (codecs already initialised). The result is little endian, in the image's planar
 * configuration; its photometric interpretation changes where the codec's output differs from the stored one:
 * lossy JPEG colour (YBR_FULL_422, YBR_FULL) becomes RGB, JPEG 2000/HTJ2K YBR_RCT/YBR_ICT become RGB (the
 * decoder inverts the component transform), JPEG XL XYB becomes RGB.
 */
function decodeFrameSync(frame: Buffer, image: FrameImageInfo, fromTransferSyntax: string): DecodedFrame {
  const family = DECODABLE.get(fromTransferSyntax);
  if (!family) throw new TranscodeError(`no decoder for ${syntaxName(fromTransferSyntax)}`);
  const { samplesPerPixel: spp, planarConfiguration } = image;
  const sampleBytes = bytesPerSample(image);

  if (family === 'native' || family === 'encapsulated-native') {
    const length = nativeFrameLength(image);
    if (frame.length < length) {
      throw new TranscodeError(`frame has ${frame.length} bytes, expected ${length}`);
    }
    const pixels = frame.subarray(0, length);
    return {
      pixels:
        fromTransferSyntax === UID.ExplicitBE && sampleBytes > 1 ? swapBytes(pixels, sampleBytes) : pixels,
      photometricInterpretation: image.photometricInterpretation,
      planarConfiguration,
    };
  }

  checkImage(image);
  let photometric = image.photometricInterpretation;
  let outputPlanar = false; // layout of the codec's output for colour images
  let decoded: Buffer;
  switch (family) {
    case 'rle':
      decoded = runCodec('RLE decoding', () =>
        toBuffer(NativeCodecs.decodeRle(withEncoded(codecContext(image), frame)).getDecodedBuffer()),
      );
      outputPlanar = planarConfiguration === 1;
      break;
    case 'jpeg': {
      const lossyColour = LOSSY_JPEG.has(fromTransferSyntax) && spp === 3;
      decoded = runCodec('JPEG decoding', () =>
        toBuffer(
          NativeCodecs.decodeJpeg(withEncoded(codecContext(image), frame), {
            convertColorspaceToRgb: lossyColour,
          }).getDecodedBuffer(),
        ),
      );
      if (lossyColour) photometric = 'RGB';
      break;
    }
    case 'jpeg-ls':
      decoded = runCodec('JPEG-LS decoding', () =>
        toBuffer(NativeCodecs.decodeJpegLs(withEncoded(codecContext(image), frame)).getDecodedBuffer()),
      );
      outputPlanar = jpegLsIsPlanar(frame, spp);
      break;
    case 'j2k':
      if (spp === 3 && sampleBytes > 1) {
        throw new TranscodeError('the JPEG 2000 decoder handles colour images of 8 bits only');
      }
      decoded = runCodec('JPEG 2000 decoding', () =>
        toBuffer(NativeCodecs.decodeJpeg2000(withEncoded(codecContext(image), frame)).getDecodedBuffer()),
      );
      if (photometric === 'YBR_RCT' || photometric === 'YBR_ICT') photometric = 'RGB';
      break;
    case 'htj2k':
      decoded = runCodec('HTJ2K decoding', () =>
        toBuffer(NativeCodecs.decodeHtJpeg2000(withEncoded(codecContext(image), frame)).getDecodedBuffer()),
      );
      if (photometric === 'YBR_RCT' || photometric === 'YBR_ICT') photometric = 'RGB';
      break;
    case 'jxl':
      decoded = runCodec('JPEG XL decoding', () =>
        toBuffer(NativeCodecs.decodeJpegXl(withEncoded(codecContext(image), frame)).getDecodedBuffer()),
      );
      if (photometric === 'XYB') photometric = 'RGB';
      break;
  }
  if (photometric.endsWith('_422') || photometric.endsWith('_420')) {
    // The codecs always return full-resolution samples (libjpeg upsamples chroma).
    photometric = photometric.startsWith('YBR_FULL') ? 'YBR_FULL' : photometric;
  }

  const expected = image.rows * image.columns * spp * sampleBytes;
  if (decoded.length === expected / 2 && sampleBytes === 2) {
    decoded = widen8(decoded);
  } else if (decoded.length > expected && decoded.length <= expected + 1) {
    decoded = decoded.subarray(0, expected);
  } else if (decoded.length !== expected) {
    throw new TranscodeError(
      `decoded frame has ${decoded.length} bytes, expected ${expected} for ${image.columns}x${image.rows}x${spp} ` +
        `at ${image.bitsAllocated} bits`,
    );
  }
  if (
    image.pixelRepresentation === 1 &&
    image.bitsStored < sampleBytes * 8 &&
    codedAsUnsigned(family, frame, image)
  ) {
    decoded = signExtendSamples(decoded, sampleBytes, image.bitsStored);
  }
  if (spp > 1 && outputPlanar !== (planarConfiguration === 1)) {
    decoded = changePlanar(decoded, spp, sampleBytes, planarConfiguration === 1);
  }
  return { pixels: decoded, photometricInterpretation: photometric, planarConfiguration };
}

/**
 * Whether a codec returned signed samples as unsigned values of at most Bits Stored bits, so that they need
 * sign-extending: JPEG and JPEG-LS streams of precision P <= Bits Stored, unsigned JPEG 2000/HTJ2K
 * codestreams of such precision. Signed codestreams decode to proper values, and wider codestreams (and RLE,
 * and JPEG XL as the codecs write it) carry the whole container, which is returned as coded.
 */
function codedAsUnsigned(family: Family, frame: Buffer, image: FrameImageInfo): boolean {
  switch (family) {
    case 'jpeg':
    case 'jpeg-ls': {
      const precision = jpegPrecision(frame);
      return precision !== undefined && precision <= image.bitsStored;
    }
    case 'j2k':
    case 'htj2k': {
      const siz = j2kPrecision(frame);
      return siz !== undefined && !siz.signed && siz.precision <= image.bitsStored;
    }
    default:
      return false;
  }
}

function withEncoded(context: CodecContext, data: Buffer): CodecContext {
  context.setEncodedBuffer(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return context;
}

/**
 * One frame's bytes as stored (native, or the frame's fragments concatenated) decoded to native little-endian
 * pixel data in the planar configuration of `image`. Photometric interpretation of the result: as stored,
 * except lossy JPEG colour (YBR_FULL_422 or YBR_FULL as stored) which is returned as RGB (colour-converted and
 * upsampled, pixel-interleaved when the dataset says Planar Configuration 0), and YBR_RCT/YBR_ICT (JPEG 2000,
 * HTJ2K) which are returned as RGB. Native YBR_FULL_422 frames are returned as stored (two samples per pixel).
 */
export async function decodeFrame(
  frame: Buffer,
  image: FrameImageInfo,
  fromTransferSyntax: string,
): Promise<DecodedFrame> {
  const family = DECODABLE.get(fromTransferSyntax);
  if (!family) throw new TranscodeError(`no decoder for ${syntaxName(fromTransferSyntax)}`);
  if (family !== 'native' && family !== 'encapsulated-native') await initCodecs();
  return decodeFrameSync(frame, image, fromTransferSyntax);
}

// ---------------------------------------------------------------------------------------------------------
// Encoding one frame

interface EncodedFrame {
  data: Buffer;
  photometricInterpretation: string;
  planarConfiguration: number;
}

/**
 * Encodes one native little-endian frame (codecs already initialised). Native YBR_FULL_422 input is expanded
 * to YBR_FULL first (chroma repeated, nothing lost). Limits of the codecs: 8 or 16 bits allocated; colour
 * JPEG 2000 and HTJ2K only at 8 bits; YBR_PARTIAL_* and other subsampled input are refused.
 */
function encodeFrameSync(pixels: Buffer, source: FrameImageInfo, toTransferSyntax: string): EncodedFrame {
  const family = ENCODABLE.get(toTransferSyntax);
  if (!family || family === 'native') {
    throw new TranscodeError(`no encoder for ${syntaxName(toTransferSyntax)}`);
  }
  let image = { ...source };
  let data = pixels;
  if (family === 'encapsulated-native') {
    return {
      data,
      photometricInterpretation: image.photometricInterpretation,
      planarConfiguration: image.planarConfiguration,
    };
  }
  checkImage(image);
  if (image.photometricInterpretation === 'YBR_FULL_422' && image.samplesPerPixel === 3) {
    data = expandYbr422(data, image);
    image = { ...image, photometricInterpretation: 'YBR_FULL', planarConfiguration: 0 };
  } else if (/^YBR_PARTIAL|_42[02]$/.test(image.photometricInterpretation)) {
    throw new TranscodeError(`${image.photometricInterpretation} pixel data cannot be re-encoded losslessly`);
  }
  const expected = image.rows * image.columns * image.samplesPerPixel * bytesPerSample(image);
  if (data.length < expected) {
    throw new TranscodeError(`frame has ${data.length} bytes, expected ${expected}`);
  }
  data = data.subarray(0, expected);
  const { samplesPerPixel: spp } = image;

  if (family === 'rle') {
    const out = runCodec('RLE encoding', () =>
      toBuffer(NativeCodecs.encodeRle(withDecoded(codecContext(image), data)).getEncodedBuffer()),
    );
    return {
      data: out,
      photometricInterpretation: image.photometricInterpretation,
      planarConfiguration: image.planarConfiguration,
    };
  }

  // The other encoders take pixel-interleaved samples.
  if (spp > 1 && image.planarConfiguration === 1) {
    data = changePlanar(data, spp, bytesPerSample(image), false);
  }
  image = { ...image, planarConfiguration: 0 };
  const sampleBytes = bytesPerSample(image);
  const wide = sampleBytes === 2;
  const signed = image.pixelRepresentation === 1;
  const rgb = spp === 3 && image.photometricInterpretation === 'RGB';
  // Codestream sample precision: Bits Stored when every sample fits it; otherwise the whole container, so
  // that the bytes come back exactly. At most 8 bits stored in 16-bit containers are coded at 16 bits, as
  // dcmtk and gdcm do (decoders then return 16-bit samples, matching Bits Allocated).
  const fits = fitsBitsStored(data, sampleBytes, image.bitsStored, signed);
  const precision = !fits || (wide && image.bitsStored <= 8) ? image.bitsAllocated : image.bitsStored;
  // Unsigned-only codecs (JPEG, JPEG-LS) code signed values as their low P bits; decoders sign-extend them.
  const masked = (): Buffer =>
    signed && precision < image.bitsAllocated ? maskSamples(data, sampleBytes, precision) : data;
  let photometric = image.photometricInterpretation;
  let out: Buffer;
  switch (family) {
    case 'jpeg':
      data = masked();
      out = runCodec('JPEG lossless encoding', () =>
        toBuffer(
          NativeCodecs.encodeJpeg(withDecoded(codecContext(image, { bitsStored: precision }), data), {
            lossy: false,
            predictor: 1,
            pointTransform: 0,
          }).getEncodedBuffer(),
        ),
      );
      if (spp === 3 && photometric.startsWith('YBR')) markJpegYCbCr(out);
      break;
    case 'jpeg-ls':
      data = masked();
      // The encoder takes the sample precision P from Bits Allocated.
      out = runCodec('JPEG-LS encoding', () =>
        toBuffer(
          NativeCodecs.encodeJpegLs(
            withDecoded(codecContext(image, { bitsAllocated: Math.max(2, precision) }), data),
            { lossy: false },
          ).getEncodedBuffer(),
        ),
      );
      break;
    case 'j2k': {
      if (spp === 3 && wide) {
        throw new TranscodeError('the JPEG 2000 encoder handles colour images of 8 bits only');
      }
      if (signed && !wide)
        throw new TranscodeError('the JPEG 2000 encoder handles signed images of 16 bits only');
      // Signed components take the (sign-extended) values as they are.
      // The reversible colour transform is used for RGB only, which is then labelled YBR_RCT (PS3.5 8.2.4).
      const parameters = { lossy: false, allowMct: rgb ? 1 : 0 };
      out = runCodec('JPEG 2000 encoding', () =>
        toBuffer(
          NativeCodecs.encodeJpeg2000(
            withDecoded(codecContext(image, { bitsStored: precision }), data),
            parameters,
          ).getEncodedBuffer(),
        ),
      );
      if (rgb) photometric = 'YBR_RCT';
      break;
    }
    case 'htj2k': {
      if (spp === 3 && wide)
        throw new TranscodeError('the HTJ2K encoder handles colour images of 8 bits only');
      if (signed && !wide)
        throw new TranscodeError('the HTJ2K encoder handles signed images of 16 bits only');
      // The encoder codes all Bits Allocated bits: the container comes back exactly.
      const progressionOrder =
        toTransferSyntax === UID.HtJ2kLosslessRpcl
          ? dcmjsCodecs.constants.Jpeg2000ProgressionOrder.Rpcl
          : dcmjsCodecs.constants.Jpeg2000ProgressionOrder.Lrcp;
      out = runCodec('HTJ2K encoding', () =>
        toBuffer(
          NativeCodecs.encodeHtJpeg2000(withDecoded(codecContext(image), data), {
            lossy: false,
            progressionOrder,
          }).getEncodedBuffer(),
        ),
      );
      // The encoder always applies the reversible colour transform to 3 components; RGB is then YBR_RCT.
      // YBR_FULL keeps its label: decoders invert the transform and get the YBR_FULL samples back.
      if (rgb) photometric = 'YBR_RCT';
      break;
    }
    case 'jxl':
      // The encoder codes all Bits Allocated bits (JXL_BIT_DEPTH_FROM_CODESTREAM): exact containers.
      out = runCodec('JPEG XL encoding', () =>
        toBuffer(
          NativeCodecs.encodeJpegXl(withDecoded(codecContext(image), data), {
            lossy: false,
          }).getEncodedBuffer(),
        ),
      );
      break;
  }
  return { data: out, photometricInterpretation: photometric, planarConfiguration: 0 };
}

function withDecoded(context: CodecContext, data: Buffer): CodecContext {
  context.setDecodedBuffer(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return context;
}

/**
 * The JPEG encoder labels every 3-component stream RGB (Adobe APP14 transform 0, components 'R' 'G' 'B').
 * For YBR_FULL input that makes JPEG decoders that trust the stream (dcmdjpeg by default) call YCbCr samples
 * RGB; transform 1 says YCbCr, as dcmtk's own lossless YBR_FULL streams do (JFIF), so they convert instead.
 */
function markJpegYCbCr(jpeg: Buffer): void {
  let at = 2; // after SOI
  while (at + 4 <= jpeg.length && jpeg[at] === 0xff) {
    const marker = jpeg[at + 1]!;
    const length = jpeg.readUInt16BE(at + 2);
    if (marker === 0xee && length >= 12 && jpeg.toString('latin1', at + 4, at + 9) === 'Adobe') {
      jpeg[at + 15] = 1;
      return;
    }
    if (marker === 0xda || marker === 0xd9) return;
    at += 2 + length;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Whole instances

interface Encoding {
  explicitVR: boolean;
  littleEndian: boolean;
}

/** A replacement for one element of one dataset: a value (little endian), fragments, or removal. */
type Patch =
  | { kind: 'value'; vr: VR; value: Buffer; swapUnit?: number }
  | { kind: 'fragments'; fragments: Buffer[] }
  | { kind: 'delete' };

type Patches = Map<DataSet, Map<number, Patch>>;

function setPatch(patches: Patches, dataset: DataSet, tag: number, patch: Patch): void {
  let map = patches.get(dataset);
  if (!map) patches.set(dataset, (map = new Map()));
  map.set(tag, patch);
}

function textValue(text: string, pad = ' '): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return bytes.length % 2 ? Buffer.concat([bytes, Buffer.from(pad, 'latin1')]) : bytes;
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

interface Source {
  /** Bytes the dataset's element offsets refer to (the file, or the inflated dataset). */
  bytes: Buffer;
  ts: TransferSyntax;
}

function valueOf(element: DicomElement, source: Source): Buffer {
  return element.value ?? source.bytes.subarray(element.offset, element.offset + element.length);
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
      value: textValue(outPhotometric),
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

/** Bytes per value to swap between little and big endian, by VR (0 = byte string). */
function swapUnitOf(vr: VR): number {
  switch (vr) {
    case 'US':
    case 'SS':
    case 'OW':
    case 'AT':
      return 2;
    case 'UL':
    case 'SL':
    case 'FL':
    case 'OF':
    case 'OL':
      return 4;
    case 'FD':
    case 'OD':
    case 'SV':
    case 'UV':
    case 'OV':
      return 8;
    default:
      return 0;
  }
}

/** Palette and LUT descriptors stay US even for signed images (their first and third values are unsigned). */
const LUT_DESCRIPTORS = new Set<number>([0x00281101, 0x00281102, 0x00281103, 0x00281104, 0x00283002]);

class DatasetWriter {
  private readonly chunks: Buffer[] = [];

  constructor(
    private readonly source: Source,
    private readonly target: Encoding,
    private readonly patches: Patches,
  ) {}

  result(): Buffer {
    return Buffer.concat(this.chunks);
  }

  writeDataset(dataset: DataSet, pixelRepresentation: number): void {
    const own = getNumber(dataset, Tag.PixelRepresentation) ?? pixelRepresentation;
    const patches = this.patches.get(dataset);
    const tags = new Set<number>(dataset.elements.keys());
    for (const [tag, patch] of patches ?? []) if (patch.kind !== 'delete') tags.add(tag);
    for (const tag of [...tags].sort((a, b) => a - b)) {
      // Group lengths (retired outside group 0002) would be wrong after re-encoding: dropped.
      if ((tag & 0xffff) === 0) continue;
      const patch = patches?.get(tag);
      if (patch?.kind === 'delete') continue;
      if (patch?.kind === 'value') {
        const unit = patch.swapUnit ?? swapUnitOf(patch.vr);
        const value = this.target.littleEndian || unit < 2 ? patch.value : swapBytes(patch.value, unit);
        this.writeElement(tag, patch.vr, value);
        continue;
      }
      if (patch?.kind === 'fragments') {
        this.writeFragments(tag, patch.fragments);
        continue;
      }
      const element = dataset.get(tag)!;
      this.copyElement(element, dataset.littleEndian, own);
    }
  }

  private copyElement(element: DicomElement, littleEndian: boolean, pixelRepresentation: number): void {
    if (element.items) {
      this.header(element.tag, 'SQ', UNDEFINED_LENGTH);
      for (const item of element.items) {
        this.tag(0xfffee000, UNDEFINED_LENGTH);
        this.writeDataset(item, pixelRepresentation);
        this.tag(0xfffee00d, 0);
      }
      this.tag(0xfffee0dd, 0);
      return;
    }
    if (element.fragments) {
      // Encapsulated data kept as it is (same encapsulated syntax; only reached for nested copies).
      const fragments = element.fragments.map((f) =>
        this.source.bytes.subarray(f.offset, f.offset + f.length),
      );
      this.writeFragments(element.tag, fragments, element.basicOffsetTable);
      return;
    }
    let vr = element.vr;
    if (!this.source.ts.explicitVR && lookupTag(element.tag)?.dictionaryVR === 'xs') {
      vr = pixelRepresentation === 1 && !LUT_DESCRIPTORS.has(element.tag) ? 'SS' : 'US';
    }
    let value = valueOf(element, this.source);
    const unit = swapUnitOf(vr);
    if (unit > 1 && littleEndian !== this.target.littleEndian) value = swapBytes(value, unit);
    this.writeElement(element.tag, vr, value);
  }

  private writeElement(tag: number, vr: VR, value: Buffer): void {
    let useVR = vr;
    if (this.target.explicitVR && !hasLongLength(vr) && value.length > 0xffff) useVR = 'UN';
    const padded = value.length % 2 ? Buffer.concat([value, Buffer.from([padByte(vr)])]) : value;
    this.header(tag, useVR, padded.length);
    this.chunks.push(padded);
  }

  private writeFragments(tag: number, fragments: Buffer[], offsetTable?: Buffer): void {
    this.header(tag, 'OB', UNDEFINED_LENGTH);
    const padded = fragments.map((f) => (f.length % 2 ? Buffer.concat([f, Buffer.alloc(1)]) : f));
    let table = offsetTable ?? Buffer.alloc(0);
    if (!offsetTable) {
      const total = padded.reduce((sum, f) => sum + f.length + 8, 0);
      if (total <= 0xffffffff) {
        table = Buffer.alloc(padded.length * 4);
        let at = 0;
        padded.forEach((f, i) => {
          table.writeUInt32LE(at, i * 4);
          at += f.length + 8;
        });
      }
    }
    this.tag(0xfffee000, table.length);
    this.chunks.push(table);
    for (const fragment of padded) {
      this.tag(0xfffee000, fragment.length);
      this.chunks.push(fragment);
    }
    this.tag(0xfffee0dd, 0);
  }

  private header(tag: number, vr: VR, length: number): void {
    const little = this.target.littleEndian;
    if (!this.target.explicitVR) {
      this.tag(tag, length);
      return;
    }
    const long = hasLongLength(vr);
    const b = Buffer.alloc(long ? 12 : 8);
    if (little) {
      b.writeUInt16LE(tag >>> 16, 0);
      b.writeUInt16LE(tag & 0xffff, 2);
    } else {
      b.writeUInt16BE(tag >>> 16, 0);
      b.writeUInt16BE(tag & 0xffff, 2);
    }
    b.write(vr, 4, 'latin1');
    if (long) {
      if (little) b.writeUInt32LE(length, 8);
      else b.writeUInt32BE(length, 8);
    } else if (little) {
      b.writeUInt16LE(length, 6);
    } else {
      b.writeUInt16BE(length, 6);
    }
    this.chunks.push(b);
  }

  /** A tag and a 32-bit length: items, delimiters, and implicit VR element headers. */
  private tag(tag: number, length: number): void {
    const b = Buffer.alloc(8);
    if (this.target.littleEndian) {
      b.writeUInt16LE(tag >>> 16, 0);
      b.writeUInt16LE(tag & 0xffff, 2);
      b.writeUInt32LE(length, 4);
    } else {
      b.writeUInt16BE(tag >>> 16, 0);
      b.writeUInt16BE(tag & 0xffff, 2);
      b.writeUInt32BE(length, 4);
    }
    this.chunks.push(b);
  }
}

function padByte(vr: VR): number {
  switch (vr) {
    case 'AE':
    case 'AS':
    case 'CS':
    case 'DA':
    case 'DS':
    case 'DT':
    case 'IS':
    case 'LO':
    case 'LT':
    case 'PN':
    case 'SH':
    case 'ST':
    case 'TM':
    case 'UC':
    case 'UR':
    case 'UT':
      return 0x20;
    default:
      return 0x00;
  }
}

/** File Meta Information (Explicit VR Little Endian) copied from the source, naming the new syntax. */
function fileMetaFor(meta: DataSet, file: Buffer, transferSyntaxUid: string): Buffer {
  const parts: Buffer[] = [];
  const replaced = new Map<number, Buffer>([
    [Tag.TransferSyntaxUID, textValue(transferSyntaxUid, '\0')],
    [Tag.ImplementationClassUID, textValue(IMPLEMENTATION_CLASS_UID, '\0')],
    [Tag.ImplementationVersionName, textValue(IMPLEMENTATION_VERSION_NAME)],
  ]);
  const vrs = new Map<number, VR>([
    [Tag.TransferSyntaxUID, 'UI'],
    [Tag.ImplementationClassUID, 'UI'],
    [Tag.ImplementationVersionName, 'SH'],
  ]);
  const tags = new Set<number>([...meta.elements.keys(), ...replaced.keys()]);
  for (const tag of [...tags].sort((a, b) => a - b)) {
    if (tag === Tag.FileMetaInformationGroupLength) continue;
    const element = meta.get(tag);
    const vr = element?.vr ?? vrs.get(tag)!;
    const value =
      replaced.get(tag) ??
      (element ? valueOf(element, { bytes: file, ts: EXPLICIT_LE_TS }) : Buffer.alloc(0));
    const long = hasLongLength(vr);
    const header = Buffer.alloc(long ? 12 : 8);
    header.writeUInt16LE(tag >>> 16, 0);
    header.writeUInt16LE(tag & 0xffff, 2);
    header.write(vr, 4, 'latin1');
    if (long) header.writeUInt32LE(value.length, 8);
    else header.writeUInt16LE(value.length, 6);
    parts.push(header, value);
  }
  const body = Buffer.concat(parts);
  const groupLength = Buffer.alloc(12);
  groupLength.writeUInt32LE(0x00000002, 0);
  groupLength.write('UL', 4, 'latin1');
  groupLength.writeUInt16LE(4, 6);
  groupLength.writeUInt32LE(body.length, 8);
  const prefix = Buffer.alloc(132);
  prefix.write('DICM', 128, 'latin1');
  return Buffer.concat([prefix, groupLength, body]);
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
