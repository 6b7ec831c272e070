/**
 * One frame decoded to native pixels, or encoded in a compressed transfer syntax, through the dcmjs-codecs
 * WebAssembly codecs (NativeCodecs, initialised lazily once).
 *
 * Limits of the codecs (dcmjs-codecs 0.0.8): 8 or 16 Bits Allocated and 1 or 3 samples; colour JPEG 2000 is
 * decoded and encoded at 8 bits only, colour HTJ2K encoded at 8 bits only; signed images are JPEG
 * 2000/HTJ2K-encoded at 16 bits only; YBR_PARTIAL_* and subsampled colour other than YBR_FULL_422 are not
 * re-encoded; 1-bit and float pixel data stay native.
 *
 * Samples are kept exactly: encoders code Bits Stored bits only when every sample fits them (otherwise the
 * whole container), and decoders sign-extend only what a codestream coded as unsigned Bits Stored values.
 */
import dcmjsCodecs from 'dcmjs-codecs';
import {
  DECODABLE,
  ENCODABLE,
  LOSSY_JPEG,
  syntaxName,
  TranscodeError,
  UID,
  type Family,
} from './capabilities.js';
import { j2kPrecision, jpegLsIsPlanar, jpegPrecision, markJpegYCbCr } from './codestream-markers.js';
import {
  bytesPerSample,
  changePlanar,
  expandYbr422,
  fitsBitsStored,
  maskSamples,
  nativeFrameLength,
  signExtendSamples,
  swapBytes,
  widen8,
  type FrameImageInfo,
} from './pixel-samples.js';

const { NativeCodecs, Context } = dcmjsCodecs;
type CodecContext = InstanceType<typeof Context>;

export interface DecodedFrame {
  /** Native little-endian pixels of one frame, laid out as the planar configuration below. */
  pixels: Buffer;
  photometricInterpretation: string;
  planarConfiguration: number;
}

// ---------------------------------------------------------------------------------------------------------
// Codec initialisation

let codecsReady: Promise<void> | undefined;

/** Initialises the WebAssembly codecs once; a failed attempt is retried on the next call. */
export function initCodecs(): Promise<void> {
  if (NativeCodecs.isInitialized()) return Promise.resolve();
  codecsReady ??= NativeCodecs.initializeAsync().catch((error: unknown) => {
    codecsReady = undefined;
    throw new TranscodeError(`cannot initialise the image codecs: ${String(error)}`, { cause: error });
  });
  return codecsReady;
}

// ---------------------------------------------------------------------------------------------------------
// Codec calls

const KNOWN_PHOTOMETRICS = new Set(Object.values(dcmjsCodecs.constants.PhotometricInterpretation));

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
export function decodeFrameSync(
  frame: Buffer,
  image: FrameImageInfo,
  fromTransferSyntax: string,
): DecodedFrame {
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

/** One encoded frame (one fragment) and the attributes it is to be labelled with. */
export interface EncodedFrame {
  data: Buffer;
  photometricInterpretation: string;
  planarConfiguration: number;
}

/**
 * Encodes one native little-endian frame (codecs already initialised). Native YBR_FULL_422 input is expanded
 * to YBR_FULL first (chroma repeated, nothing lost). Limits of the codecs: 8 or 16 bits allocated; colour
 * JPEG 2000 and HTJ2K only at 8 bits; YBR_PARTIAL_* and other subsampled input are refused.
 */
export function encodeFrameSync(
  pixels: Buffer,
  source: FrameImageInfo,
  toTransferSyntax: string,
): EncodedFrame {
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
