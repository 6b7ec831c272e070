/**
 * Encodes a DICOM JSON dataset (PS3.18 Annex F, as the gateway produces it) as a bare dataset in Implicit
 * or Explicit VR Little Endian, for DIMSE identifiers (C-FIND responses, C-MOVE/C-GET failure lists).
 * Text is written as UTF-8 and the dataset says so (ISO_IR 192).
 */
import type { DicomJsonAttribute, DicomJsonDataset, PersonNameJson } from './dicom-json.js';
import { hasLongLength, paddingByte, type VR } from './vr.js';

const SPECIFIC_CHARACTER_SET = '00080005';

export function encodeJsonDataset(dataset: DicomJsonDataset, explicitVR: boolean): Buffer {
  const chunks: Buffer[] = [];
  writeDataset(
    { ...dataset, [SPECIFIC_CHARACTER_SET]: { vr: 'CS', Value: ['ISO_IR 192'] } },
    explicitVR,
    chunks,
  );
  return Buffer.concat(chunks);
}

function writeDataset(dataset: DicomJsonDataset, explicitVR: boolean, chunks: Buffer[]): void {
  for (const key of Object.keys(dataset).sort()) {
    const tag = parseInt(key, 16) >>> 0;
    const attribute = dataset[key]!;
    if (attribute.vr === 'SQ') {
      writeSequence(tag, (attribute.Value ?? []) as DicomJsonDataset[], explicitVR, chunks);
    } else {
      writeElement(tag, attribute.vr, valueBytes(attribute), explicitVR, chunks);
    }
  }
}

function writeSequence(tag: number, items: DicomJsonDataset[], explicitVR: boolean, chunks: Buffer[]): void {
  chunks.push(header(tag, 'SQ', 0xffffffff, explicitVR));
  for (const item of items) {
    chunks.push(itemTag(0xfffee000, 0xffffffff));
    writeDataset(item ?? {}, explicitVR, chunks);
    chunks.push(itemTag(0xfffee00d, 0));
  }
  chunks.push(itemTag(0xfffee0dd, 0));
}

function writeElement(tag: number, vr: VR, value: Buffer, explicitVR: boolean, chunks: Buffer[]): void {
  const padded = value.length % 2 ? Buffer.concat([value, Buffer.from([paddingByte(vr)])]) : value;
  chunks.push(header(tag, vr, padded.length, explicitVR), padded);
}

function valueBytes(attribute: DicomJsonAttribute): Buffer {
  const { vr } = attribute;
  if (attribute.InlineBinary !== undefined) return Buffer.from(attribute.InlineBinary, 'base64');
  const values = attribute.Value ?? [];
  switch (vr) {
    case 'US':
    case 'SS':
    case 'UL':
    case 'SL':
    case 'FL':
    case 'FD':
      return binaryNumbers(vr, values as (number | null)[]);
    case 'AT':
      return Buffer.concat(
        (values as string[]).map((hex) => {
          const b = Buffer.alloc(4);
          const tag = parseInt(hex, 16);
          b.writeUInt16LE(tag >>> 16, 0);
          b.writeUInt16LE(tag & 0xffff, 2);
          return b;
        }),
      );
    case 'PN':
      return Buffer.from((values as (PersonNameJson | null)[]).map(personNameText).join('\\'), 'utf8');
    default:
      return Buffer.from(values.map((v) => (v === null ? '' : String(v))).join('\\'), 'utf8');
  }
}

function personNameText(name: PersonNameJson | null): string {
  if (!name) return '';
  const groups = [name.Alphabetic ?? '', name.Ideographic ?? '', name.Phonetic ?? ''];
  while (groups.length > 1 && groups[groups.length - 1] === '') groups.pop();
  return groups.join('=');
}

function binaryNumbers(vr: 'US' | 'SS' | 'UL' | 'SL' | 'FL' | 'FD', values: (number | null)[]): Buffer {
  const size = vr === 'US' || vr === 'SS' ? 2 : vr === 'FD' ? 8 : 4;
  const out = Buffer.alloc(size * values.length);
  values.forEach((value, i) => {
    const v = value ?? 0;
    const at = i * size;
    if (vr === 'US') out.writeUInt16LE(v, at);
    else if (vr === 'SS') out.writeInt16LE(v, at);
    else if (vr === 'UL') out.writeUInt32LE(v, at);
    else if (vr === 'SL') out.writeInt32LE(v, at);
    else if (vr === 'FL') out.writeFloatLE(v, at);
    else out.writeDoubleLE(v, at);
  });
  return out;
}

function header(tag: number, vr: VR, length: number, explicitVR: boolean): Buffer {
  if (!explicitVR) return itemTag(tag, length);
  const long = hasLongLength(vr);
  const b = Buffer.alloc(long ? 12 : 8);
  b.writeUInt16LE(tag >>> 16, 0);
  b.writeUInt16LE(tag & 0xffff, 2);
  b.write(vr, 4, 'latin1');
  if (long) b.writeUInt32LE(length, 8);
  else b.writeUInt16LE(length, 6);
  return b;
}

function itemTag(tag: number, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(tag >>> 16, 0);
  b.writeUInt16LE(tag & 0xffff, 2);
  b.writeUInt32LE(length, 4);
  return b;
}
