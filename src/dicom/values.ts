/** Reading typed values out of parsed elements (PS3.5 6.2 value encodings). */
import { createTextDecoder, type DicomTextDecoder } from './charset.js';
import type { DataSet, DicomElement } from './dataset.js';
import { Tag } from './tags.js';
import { numericValueSize, usesSpecificCharacterSet, type VR } from './vr.js';

/** Leading spaces are significant in these VRs (PS3.5 Table 6.2-1), trailing ones never are. */
const KEEP_LEADING_SPACE = new Set<VR>(['LT', 'ST', 'UT', 'UR']);

/** The character set decoder of a dataset; items inherit their parent's unless they declare their own. */
export function textDecoderFor(dataset: DataSet, inherited?: DicomTextDecoder): DicomTextDecoder {
  const element = dataset.get(Tag.SpecificCharacterSet);
  if (!element) return inherited ?? createTextDecoder(undefined);
  return createTextDecoder(readAsciiStrings(element));
}

/** The whole value as text: charset-decoded for the VRs that use it, ASCII/Latin-1 for the others. */
export function decodeElementText(element: DicomElement, decoder: DicomTextDecoder): string | undefined {
  if (!element.value) return undefined;
  const raw = usesSpecificCharacterSet(element.vr)
    ? decoder.decode(element.value, element.vr)
    : element.value.toString('latin1');
  return trimValue(raw, element.vr);
}

function trimValue(text: string, vr: VR): string {
  let end = text.length;
  while (end > 0 && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0)) end--;
  let start = 0;
  if (!KEEP_LEADING_SPACE.has(vr)) {
    while (start < end && text.charCodeAt(start) === 0x20) start++;
  }
  return text.slice(start, end);
}

/** Values of a multi-valued text element, each trimmed; empty values are kept as ''. */
export function decodeElementStrings(element: DicomElement, decoder: DicomTextDecoder): string[] {
  if (!element.value || element.value.length === 0) return [];
  const raw = usesSpecificCharacterSet(element.vr)
    ? decoder.decode(element.value, element.vr)
    : element.value.toString('latin1');
  if (element.vr === 'LT' || element.vr === 'ST' || element.vr === 'UT' || element.vr === 'UR') {
    return [trimValue(raw, element.vr)];
  }
  return raw.split('\\').map((part) => trimValue(part, element.vr));
}

function readAsciiStrings(element: DicomElement): string[] {
  if (!element.value) return [];
  return element.value
    .toString('latin1')
    .split('\\')
    .map((part) => part.replace(/^[ \0]+|[ \0]+$/g, ''));
}

/** First value of a text attribute, decoded; undefined when absent or empty. */
export function getString(dataset: DataSet, tag: number, decoder?: DicomTextDecoder): string | undefined {
  const element = dataset.get(tag);
  if (!element) return undefined;
  const values = decodeElementStrings(element, decoder ?? textDecoderFor(dataset));
  const first = values[0];
  return first === undefined || first === '' ? undefined : first;
}

/** All values of a text attribute, decoded. */
export function getStrings(dataset: DataSet, tag: number, decoder?: DicomTextDecoder): string[] {
  const element = dataset.get(tag);
  if (!element) return [];
  return decodeElementStrings(element, decoder ?? textDecoderFor(dataset));
}

/** The whole value as one string (backslashes kept), as QIDO matching and the index store it. */
export function getText(dataset: DataSet, tag: number, decoder?: DicomTextDecoder): string | undefined {
  const element = dataset.get(tag);
  if (!element) return undefined;
  const text = decodeElementText(element, decoder ?? textDecoderFor(dataset));
  return text === '' ? undefined : text;
}

/** Numeric values of a binary numeric VR (US, SS, UL, SL, FL, FD, SV, UV) or of IS/DS text. */
export function elementNumbers(element: DicomElement, littleEndian: boolean): number[] {
  const value = element.value;
  if (!value) return [];
  if (element.vr === 'IS' || element.vr === 'DS') {
    return value
      .toString('latin1')
      .split('\\')
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .map(Number);
  }
  const size = numericValueSize(element.vr);
  if (!size || element.vr === 'AT') return [];
  const out: number[] = [];
  for (let at = 0; at + size <= value.length; at += size) {
    out.push(readNumberAt(value, at, element.vr, littleEndian));
  }
  return out;
}

function readNumberAt(buffer: Buffer, at: number, vr: VR, little: boolean): number {
  switch (vr) {
    case 'US':
      return little ? buffer.readUInt16LE(at) : buffer.readUInt16BE(at);
    case 'SS':
      return little ? buffer.readInt16LE(at) : buffer.readInt16BE(at);
    case 'UL':
      return little ? buffer.readUInt32LE(at) : buffer.readUInt32BE(at);
    case 'SL':
      return little ? buffer.readInt32LE(at) : buffer.readInt32BE(at);
    case 'FL':
      return little ? buffer.readFloatLE(at) : buffer.readFloatBE(at);
    case 'FD':
      return little ? buffer.readDoubleLE(at) : buffer.readDoubleBE(at);
    case 'SV':
      return Number(little ? buffer.readBigInt64LE(at) : buffer.readBigInt64BE(at));
    case 'UV':
      return Number(little ? buffer.readBigUInt64LE(at) : buffer.readBigUInt64BE(at));
    default:
      return NaN;
  }
}

export function getNumber(dataset: DataSet, tag: number): number | undefined {
  const element = dataset.get(tag);
  if (!element) return undefined;
  const first = elementNumbers(element, dataset.littleEndian)[0];
  return first === undefined || Number.isNaN(first) ? undefined : first;
}

export function getNumbers(dataset: DataSet, tag: number): number[] {
  const element = dataset.get(tag);
  return element ? elementNumbers(element, dataset.littleEndian) : [];
}
