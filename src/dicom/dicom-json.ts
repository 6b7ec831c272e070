/**
 * DICOM JSON Model encoder (PS3.18 Annex F). Strings are decoded to UTF-8 from the dataset's character
 * set; values left in the file become BulkDataURIs relative to the instance, small binary values are
 * inlined. The caller prefixes the relative URIs with its public base when it serves them.
 */
import type { DicomTextDecoder } from './charset.js';
import { type ByteRange, type DataSet, type DicomElement } from './dataset.js';
import { lookupTag, tagToHex } from './dictionary.js';
import { Tag } from './tags.js';
import { decodeElementStrings, elementNumbers, getNumber, textDecoderFor } from './values.js';
import { isBinaryVR, type VR } from './vr.js';

export interface PersonNameJson {
  Alphabetic?: string;
  Ideographic?: string;
  Phonetic?: string;
}

export type JsonValue = string | number | null | PersonNameJson | DicomJsonDataset;

export interface DicomJsonAttribute {
  vr: VR;
  Value?: JsonValue[];
  InlineBinary?: string;
  BulkDataURI?: string;
}

export type DicomJsonDataset = Record<string, DicomJsonAttribute>;

/** A value left in the file, addressed by its tag path, e.g. "7FE00010" or "00540016/0/00181074". */
export interface BulkDataRef extends ByteRange {
  path: string;
  vr: VR;
  /** Encapsulated pixel data: its fragments. */
  fragments?: ByteRange[];
}

/** Binary values up to this size are inlined (base64); larger ones become BulkDataURIs. */
export const INLINE_BINARY_MAX = 1024;

export interface EncodeOptions {
  /** Prefix of BulkDataURIs, e.g. "studies/1.2/series/1.3/instances/1.4/bulkdata/". */
  bulkDataUriPrefix: string;
}

export interface EncodedDataset {
  json: DicomJsonDataset;
  bulk: BulkDataRef[];
}

/** Encodes a top-level dataset (group 0002 excluded) and lists its bulk data. */
export function encodeDicomJson(dataset: DataSet, options: EncodeOptions): EncodedDataset {
  const bulk: BulkDataRef[] = [];
  const json = encodeDataset(dataset, textDecoderFor(dataset), '', bulk, options, dataset);
  // Every string is now UTF-8, whatever the stored character set was; say so even where it was absent.
  return { json: { '00080005': { vr: 'CS', Value: ['ISO_IR 192'] }, ...json }, bulk };
}

function encodeDataset(
  dataset: DataSet,
  decoder: DicomTextDecoder,
  pathPrefix: string,
  bulk: BulkDataRef[],
  options: EncodeOptions,
  root: DataSet,
): DicomJsonDataset {
  const out: DicomJsonDataset = {};
  for (const element of dataset.sorted()) {
    const group = element.tag >>> 16;
    // Group lengths are retired and meaningless once re-encoded; group 0002 belongs to the file, not the dataset.
    if ((element.tag & 0xffff) === 0 || group === 0x0002) continue;
    const key = tagToHex(element.tag);
    if (element.tag === Tag.SpecificCharacterSet) {
      out[key] = { vr: 'CS', Value: ['ISO_IR 192'] };
      continue;
    }
    out[key] = encodeElement(element, dataset, decoder, pathPrefix + key, bulk, options, root);
  }
  return out;
}

function encodeElement(
  element: DicomElement,
  dataset: DataSet,
  decoder: DicomTextDecoder,
  path: string,
  bulk: BulkDataRef[],
  options: EncodeOptions,
  root: DataSet,
): DicomJsonAttribute {
  const vr = resolveVR(element, dataset, root);
  if (element.items) {
    const value = element.items.map((item, index) =>
      encodeDataset(item, textDecoderFor(item, decoder), `${path}/${index}/`, bulk, options, root),
    );
    return value.length ? { vr: 'SQ', Value: value } : { vr: 'SQ' };
  }
  // Binary values over the inline limit are bulk data even when the reader kept them (offset tables).
  const bulky = isBinaryVR(vr) && element.length > INLINE_BINARY_MAX;
  if (element.fragments || bulky || (element.value === undefined && element.length > 0)) {
    const ref: BulkDataRef = { path, vr, offset: element.offset, length: element.length };
    if (element.fragments) ref.fragments = element.fragments;
    bulk.push(ref);
    return { vr, BulkDataURI: options.bulkDataUriPrefix + path };
  }
  if (!element.value || element.value.length === 0) return { vr };

  if (isBinaryVR(vr)) {
    return {
      vr,
      InlineBinary: littleEndianBytes(element.value, vr, dataset.littleEndian).toString('base64'),
    };
  }
  const values = encodeValues(element, vr, dataset, decoder);
  return values.length ? { vr, Value: values } : { vr };
}

function encodeValues(
  element: DicomElement,
  vr: VR,
  dataset: DataSet,
  decoder: DicomTextDecoder,
): JsonValue[] {
  switch (vr) {
    case 'PN':
    case 'IS':
    case 'DS': {
      // A value of nothing but padding has no values: no "Value" at all, not [null] (PS3.18 F.2.5).
      const strings = decodeElementStrings(element, decoder);
      if (strings.every((s) => s === '')) return [];
      if (vr === 'PN') return strings.map(personName);
      return strings.map((text) => {
        if (text === '') return null;
        const number = Number(text);
        return Number.isFinite(number) ? number : null;
      });
    }
    case 'AT':
      return attributeTags(element.value!, dataset.littleEndian);
    case 'US':
    case 'SS':
    case 'UL':
    case 'SL':
      return elementNumbers({ ...element, vr }, dataset.littleEndian);
    case 'FL':
    case 'FD':
      return elementNumbers(element, dataset.littleEndian).map((n) => (Number.isFinite(n) ? n : null));
    case 'SV':
    case 'UV':
      return bigIntegers(element.value!, vr, dataset.littleEndian);
    default: {
      const strings = decodeElementStrings(element, decoder);
      if (strings.every((s) => s === '')) return [];
      return strings.map((s) => (s === '' ? null : s));
    }
  }
}

/** A PN value's text (groups separated by "=") as a DICOM JSON person name object. */
export function personName(text: string): PersonNameJson | null {
  if (text === '') return null;
  const [alphabetic, ideographic, phonetic] = text.split('=');
  const name: PersonNameJson = {};
  if (alphabetic) name.Alphabetic = alphabetic.trimEnd();
  if (ideographic) name.Ideographic = ideographic.trimEnd();
  if (phonetic) name.Phonetic = phonetic.trimEnd();
  return name;
}

function attributeTags(value: Buffer, little: boolean): string[] {
  const out: string[] = [];
  for (let at = 0; at + 4 <= value.length; at += 4) {
    const group = little ? value.readUInt16LE(at) : value.readUInt16BE(at);
    const element = little ? value.readUInt16LE(at + 2) : value.readUInt16BE(at + 2);
    out.push(tagToHex(((group << 16) | element) >>> 0));
  }
  return out;
}

/** 64-bit integers as JSON numbers when exact, otherwise as strings (PS3.18 F.2.3.1). */
function bigIntegers(value: Buffer, vr: 'SV' | 'UV', little: boolean): (number | string)[] {
  const out: (number | string)[] = [];
  for (let at = 0; at + 8 <= value.length; at += 8) {
    const big =
      vr === 'SV'
        ? little
          ? value.readBigInt64LE(at)
          : value.readBigInt64BE(at)
        : little
          ? value.readBigUInt64LE(at)
          : value.readBigUInt64BE(at);
    const asNumber = Number(big);
    out.push(Number.isSafeInteger(asNumber) ? asNumber : big.toString());
  }
  return out;
}

/** InlineBinary is little endian (PS3.18 F.2.7); swap words of big-endian sources. */
function littleEndianBytes(value: Buffer, vr: VR, little: boolean): Buffer {
  if (little) return value;
  const size = vr === 'OW' ? 2 : vr === 'OF' || vr === 'OL' ? 4 : vr === 'OD' || vr === 'OV' ? 8 : 1;
  if (size === 1) return value;
  const copy = Buffer.from(value);
  // Whole words only: a value whose length is not a multiple of the word size (a malformed one) keeps
  // its last bytes as they are, where Buffer.swap* would throw.
  const words = copy.subarray(0, copy.length - (copy.length % size));
  if (size === 2) words.swap16();
  else if (size === 4) words.swap32();
  else words.swap64();
  return copy;
}

/**
 * Implicit VR datasets carry no VR, so ambiguous dictionary VRs are resolved here: US/SS by Pixel
 * Representation (PS3.5 A.1 c), OB/OW pixel data as OW.
 */
function resolveVR(element: DicomElement, dataset: DataSet, root: DataSet): VR {
  if (dataset.explicitVR) return element.vr;
  const entry = lookupTag(element.tag);
  if (entry?.dictionaryVR === 'xs') {
    return getNumber(root, Tag.PixelRepresentation) === 1 ? 'SS' : 'US';
  }
  return element.vr;
}
