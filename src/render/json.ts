/**
 * Reading the attributes the pixel pipeline needs out of the stored DICOM JSON (PS3.18 Annex F): numbers,
 * strings, sequence items, and binary values that are inline (InlineBinary, little endian by F.2.7), listed
 * as numbers (US/SS) or left in the file (BulkDataURI, fetched by tag path).
 */
import type { DicomJsonAttribute, DicomJsonDataset } from '../dicom/dicom-json.js';

export type ReadBulk = (path: string) => Promise<Buffer>;

export function attribute(
  dataset: DicomJsonDataset | undefined,
  tag: string,
): DicomJsonAttribute | undefined {
  return dataset?.[tag];
}

/** Value `index` of a numeric attribute (US, SS, IS, DS, FL, FD ...); strings are parsed; else undefined. */
export function numberAt(dataset: DicomJsonDataset | undefined, tag: string, index = 0): number | undefined {
  const value = dataset?.[tag]?.Value?.[index];
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** All values of a numeric attribute (unparseable ones as NaN). */
export function numbers(dataset: DicomJsonDataset | undefined, tag: string): number[] {
  const values = dataset?.[tag]?.Value ?? [];
  return values.map((value) =>
    typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN,
  );
}

/** First value of a text attribute, trimmed and upper-cased; undefined when absent or empty. */
export function codeString(dataset: DicomJsonDataset | undefined, tag: string): string | undefined {
  const value = dataset?.[tag]?.Value?.[0];
  if (typeof value !== 'string') return undefined;
  const text = value.trim().toUpperCase();
  return text === '' ? undefined : text;
}

/** Item `index` of a sequence attribute. */
export function item(
  dataset: DicomJsonDataset | undefined,
  tag: string,
  index = 0,
): DicomJsonDataset | undefined {
  const value = dataset?.[tag]?.Value?.[index];
  return value !== null && typeof value === 'object' && !('Alphabetic' in value || 'Ideographic' in value)
    ? (value as DicomJsonDataset)
    : undefined;
}

export function has(dataset: DicomJsonDataset | undefined, tag: string): boolean {
  return dataset !== undefined && tag in dataset;
}

/**
 * The bytes of a binary attribute, little endian: InlineBinary decoded, Value numbers written as 16-bit
 * words (US/SS/OW) or bytes (OB), BulkDataURI read through `readBulk` with the tag path after "/bulkdata/"
 * (or `path`, the attribute's own tag path, when the URI has none). `bigEndian`: the stored file is Explicit
 * VR Big Endian, so bulk OW/US/SS words arrive byte-swapped and are swapped back.
 */
export async function binaryValue(
  attr: DicomJsonAttribute | undefined,
  path: string,
  readBulk: ReadBulk,
  bigEndian: boolean,
): Promise<Buffer | undefined> {
  if (!attr) return undefined;
  if (attr.InlineBinary !== undefined) return Buffer.from(attr.InlineBinary, 'base64');
  if (attr.BulkDataURI !== undefined) {
    const uri = attr.BulkDataURI;
    const at = uri.lastIndexOf('bulkdata/');
    const tagPath = at >= 0 ? uri.slice(at + 'bulkdata/'.length) : path;
    const bytes = await readBulk(tagPath);
    if (bigEndian && attr.vr !== 'OB' && attr.vr !== 'UN' && bytes.length % 2 === 0) {
      return Buffer.from(bytes).swap16();
    }
    return bytes;
  }
  if (attr.Value) {
    const values = attr.Value.map((v) => (typeof v === 'number' ? v : Number(v)));
    if (attr.vr === 'OB' || attr.vr === 'UN') return Buffer.from(values.map((v) => v & 0xff));
    const out = Buffer.alloc(values.length * 2);
    values.forEach((v, i) => out.writeUInt16LE(v & 0xffff, i * 2));
    return out;
  }
  return undefined;
}
