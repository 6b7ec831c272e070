/** Writing the Part 10 preamble and File Meta Information (PS3.10 7.1) in front of a received dataset. */
import { Tag } from './tags.js';
import { hasLongLength, paddingByte, type VR } from './vr.js';

/** This implementation's identity in File Meta Information and association negotiation (PS3.7 D.3.3.2). */
export const IMPLEMENTATION_CLASS_UID = '2.25.231984009240169099665963398135871339473';
export const IMPLEMENTATION_VERSION_NAME = 'DICOMWEB_GW_01';

export interface FileMetaFields {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  sourceAETitle?: string;
}

/** A group 0002 element to write: its value's bytes, already padded to even length. */
export interface MetaElement {
  tag: number;
  vr: VR;
  value: Buffer;
}

const FILE_META_VERSION = Buffer.from([0x00, 0x01]);

/** Preamble, "DICM" and group 0002, Explicit VR Little Endian, ready to be followed by the dataset bytes. */
export function buildFileMetaHeader(fields: FileMetaFields): Buffer {
  const elements: MetaElement[] = [
    { tag: Tag.FileMetaInformationVersion, vr: 'OB', value: FILE_META_VERSION },
    stringElement(Tag.MediaStorageSOPClassUID, 'UI', fields.sopClassUid),
    stringElement(Tag.MediaStorageSOPInstanceUID, 'UI', fields.sopInstanceUid),
    stringElement(Tag.TransferSyntaxUID, 'UI', fields.transferSyntaxUid),
    { tag: Tag.ImplementationClassUID, vr: 'UI', value: IMPLEMENTATION_CLASS_UID_BYTES },
    { tag: Tag.ImplementationVersionName, vr: 'SH', value: IMPLEMENTATION_VERSION_NAME_BYTES },
  ];
  if (fields.sourceAETitle) {
    elements.push(stringElement(Tag.SourceApplicationEntityTitle, 'AE', fields.sourceAETitle));
  }
  return part10Header(elements);
}

const PREAMBLE_AND_PREFIX = 132;
const GROUP_LENGTH_ELEMENT = 12;

/**
 * Preamble, "DICM", File Meta Information Group Length, then the other group 0002 elements as given,
 * written into one buffer (a C-STORE gets this in front of every dataset).
 */
export function part10Header(elements: MetaElement[]): Buffer {
  let groupLength = 0;
  for (const element of elements) groupLength += headerLength(element.vr) + element.value.length;
  // Zero-filled: the preamble is 128 zero bytes.
  const out = Buffer.alloc(PREAMBLE_AND_PREFIX + GROUP_LENGTH_ELEMENT + groupLength);
  out.write('DICM', 128, 'latin1');
  let at = writeHeader(out, PREAMBLE_AND_PREFIX, Tag.FileMetaInformationGroupLength, 'UL', 4);
  at = out.writeUInt32LE(groupLength, at);
  for (const { tag, vr, value } of elements) {
    at = writeHeader(out, at, tag, vr, value.length);
    at += value.copy(out, at);
  }
  return out;
}

function headerLength(vr: VR): number {
  return hasLongLength(vr) ? 12 : 8;
}

/** An element's tag, VR and length, Explicit VR Little Endian; returns where its value goes. */
function writeHeader(out: Buffer, at: number, tag: number, vr: VR, length: number): number {
  out.writeUInt16LE(tag >>> 16, at);
  out.writeUInt16LE(tag & 0xffff, at + 2);
  out[at + 4] = vr.charCodeAt(0);
  out[at + 5] = vr.charCodeAt(1);
  if (!hasLongLength(vr)) return out.writeUInt16LE(length, at + 6);
  // Two reserved zero bytes (the buffer is zero-filled), then a 32-bit length.
  return out.writeUInt32LE(length, at + 8);
}

/** An element with a string value of its VR. */
export function stringElement(tag: number, vr: VR, text: string): MetaElement {
  return { tag, vr, value: stringValue(text, vr) };
}

/** A string value (UI, CS, SH, AE ...) as latin1 bytes, padded to even length as its VR wants. */
export function stringValue(text: string, vr: VR): Buffer {
  const out = Buffer.allocUnsafe(text.length + (text.length % 2));
  out.write(text, 0, 'latin1');
  if (text.length % 2) out[text.length] = paddingByte(vr);
  return out;
}

const IMPLEMENTATION_CLASS_UID_BYTES = stringValue(IMPLEMENTATION_CLASS_UID, 'UI');
const IMPLEMENTATION_VERSION_NAME_BYTES = stringValue(IMPLEMENTATION_VERSION_NAME, 'SH');
