/** Writing the Part 10 preamble and File Meta Information (PS3.10 7.1) in front of a received dataset. */
import { Tag } from './tags.js';
import { hasLongLength, type VR } from './vr.js';

/** This implementation's identity in File Meta Information and association negotiation (PS3.7 D.3.3.2). */
export const IMPLEMENTATION_CLASS_UID = '2.25.231984009240169099665963398135871339473';
export const IMPLEMENTATION_VERSION_NAME = 'DICOMWEB_GW_01';

export interface FileMetaFields {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  sourceAETitle?: string;
}

/** Preamble, "DICM" and group 0002, Explicit VR Little Endian, ready to be followed by the dataset bytes. */
export function buildFileMetaHeader(fields: FileMetaFields): Buffer {
  const elements: Buffer[] = [
    metaElement(Tag.FileMetaInformationVersion, 'OB', Buffer.from([0x00, 0x01])),
    metaElement(Tag.MediaStorageSOPClassUID, 'UI', uidBytes(fields.sopClassUid)),
    metaElement(Tag.MediaStorageSOPInstanceUID, 'UI', uidBytes(fields.sopInstanceUid)),
    metaElement(Tag.TransferSyntaxUID, 'UI', uidBytes(fields.transferSyntaxUid)),
    metaElement(Tag.ImplementationClassUID, 'UI', uidBytes(IMPLEMENTATION_CLASS_UID)),
    metaElement(Tag.ImplementationVersionName, 'SH', textBytes(IMPLEMENTATION_VERSION_NAME)),
  ];
  if (fields.sourceAETitle) {
    elements.push(metaElement(Tag.SourceApplicationEntityTitle, 'AE', textBytes(fields.sourceAETitle)));
  }
  return part10Header(elements);
}

/** Preamble, "DICM", File Meta Information Group Length, then the other group 0002 elements as given. */
export function part10Header(elements: Buffer[]): Buffer {
  const groupLength = elements.reduce((sum, b) => sum + b.length, 0);
  const lengthValue = Buffer.alloc(4);
  lengthValue.writeUInt32LE(groupLength, 0);
  const prefix = Buffer.alloc(132);
  prefix.write('DICM', 128, 'latin1');
  return Buffer.concat([
    prefix,
    metaElement(Tag.FileMetaInformationGroupLength, 'UL', lengthValue),
    ...elements,
  ]);
}

/** One File Meta Information element, Explicit VR Little Endian. */
export function metaElement(tag: number, vr: VR, value: Buffer): Buffer {
  const long = hasLongLength(vr);
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(value.length, 8);
  else header.writeUInt16LE(value.length, 6);
  return Buffer.concat([header, value]);
}

function uidBytes(uid: string): Buffer {
  const bytes = Buffer.from(uid, 'latin1');
  return bytes.length % 2 ? Buffer.concat([bytes, Buffer.from([0])]) : bytes;
}

function textBytes(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return bytes.length % 2 ? Buffer.concat([bytes, Buffer.from(' ')]) : bytes;
}
