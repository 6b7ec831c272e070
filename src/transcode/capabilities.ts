/**
 * Which transfer syntax conversions can be done for WADO-RS (PS3.18 8.7.3) and DIMSE retrieval, by codec
 * family, and the error for those that cannot.
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
 * then, which callers map to 406 like a false canTranscode (the codec limits are listed in frame-codec.ts).
 */
import { findTransferSyntax } from '../dicom/transfer-syntax.js';

/** A conversion that cannot be done (unsupported syntax pair, or an image the codecs cannot handle). */
export class TranscodeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TranscodeError';
  }
}

// ---------------------------------------------------------------------------------------------------------
// Transfer syntaxes and codec families

/** The transfer syntaxes the tables below name. */
export const UID = {
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

/** Codec family of a transfer syntax: what decodes or encodes its pixel data. */
export type Family = 'native' | 'encapsulated-native' | 'rle' | 'jpeg' | 'jpeg-ls' | 'j2k' | 'htj2k' | 'jxl';

/** Syntaxes whose pixel data can be decoded, by codec family. */
export const DECODABLE: ReadonlyMap<string, Family> = new Map<string, Family>([
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
export const ENCODABLE: ReadonlyMap<string, Family> = new Map<string, Family>([
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
export const LOSSY_JPEG = new Set<string>([UID.JpegBaseline, UID.JpegExtended]);

/**
 * Whether `from` -> `to` can be produced: the identity always; otherwise a decodable source and a native or
 * lossless target (see the module comment). Lossy targets only from the same syntax.
 */
export function canTranscode(fromTransferSyntax: string, toTransferSyntax: string): boolean {
  if (fromTransferSyntax === toTransferSyntax) return true;
  return DECODABLE.has(fromTransferSyntax) && ENCODABLE.has(toTransferSyntax);
}

/** The syntax's name and UID for messages, or the UID alone when it is unknown. */
export function syntaxName(uid: string): string {
  const ts = findTransferSyntax(uid);
  return ts ? `${ts.name} (${uid})` : uid;
}

/** The TranscodeError for a pair canTranscode refuses, saying why. */
export function refusal(from: string, to: string): TranscodeError {
  const target = findTransferSyntax(to);
  const reason = !DECODABLE.has(from)
    ? `no decoder for ${syntaxName(from)}`
    : target?.lossy && !target.frameMediaType.startsWith('video/')
      ? `${syntaxName(to)} is lossy and only served as stored`
      : `no encoder for ${syntaxName(to)}`;
  return new TranscodeError(`cannot transcode ${syntaxName(from)} to ${syntaxName(to)}: ${reason}`);
}
