/**
 * A dataset re-encoded element by element in another encoding (explicit or implicit VR, little or big
 * endian): text keeps its bytes, binary values are byte-swapped by VR when the endianness changes, implicit
 * VR US/SS ("xs") elements get their VR from Pixel Representation, and patches replace or remove elements.
 */
import { UNDEFINED_LENGTH, type DataSet, type DicomElement } from '../dicom/dataset.js';
import { lookupTag } from '../dicom/dictionary.js';
import { Tag } from '../dicom/tags.js';
import type { TransferSyntax } from '../dicom/transfer-syntax.js';
import { getNumber } from '../dicom/values.js';
import { hasLongLength, paddingByte, type VR } from '../dicom/vr.js';
import { swapBytes } from './pixel-samples.js';

/** The encoding a dataset is written in. */
export interface Encoding {
  explicitVR: boolean;
  littleEndian: boolean;
}

/** A replacement for one element of one dataset: a value (little endian), fragments, or removal. */
export type Patch =
  | { kind: 'value'; vr: VR; value: Buffer; swapUnit?: number }
  | { kind: 'fragments'; fragments: Buffer[] }
  | { kind: 'delete' };

export type Patches = Map<DataSet, Map<number, Patch>>;

/** The dataset being converted: the bytes its elements refer to, and their transfer syntax. */
export interface Source {
  /** Bytes the dataset's element offsets refer to (the file, or the inflated dataset). */
  bytes: Buffer;
  ts: TransferSyntax;
}

/** An element's value bytes as read (kept small value, or its range of the source bytes). */
export function valueOf(element: DicomElement, source: Source): Buffer {
  return element.value ?? source.bytes.subarray(element.offset, element.offset + element.length);
}

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

/** Writes datasets in the target encoding, applying the patches; result() is the bytes written. */
export class DatasetWriter {
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
    const padded = value.length % 2 ? Buffer.concat([value, Buffer.from([paddingByte(vr)])]) : value;
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
