/**
 * The parsed form of a DICOM dataset. Small values are kept as bytes; large binary values (pixel data,
 * bulk data) are kept only as their position in the stored file, so a dataset of any size fits in memory.
 */
import type { VR } from './vr.js';

export const UNDEFINED_LENGTH = 0xffffffff;

/** Where a value lives: byte offset and length in the stored file (or in the inflated stream, if deflated). */
export interface ByteRange {
  offset: number;
  length: number;
}

/** One item of encapsulated pixel data; `head` is its first two bytes (big endian), to find frame starts. */
export interface Fragment extends ByteRange {
  head: number;
}

export interface DicomElement {
  tag: number;
  vr: VR;
  /** Value length as encoded; UNDEFINED_LENGTH for undefined-length sequences and encapsulated pixel data. */
  length: number;
  /** Offset of the value's first byte. */
  offset: number;
  /** The value bytes, when small enough to be kept. */
  value?: Buffer;
  /** Items of a sequence. */
  items?: DataSet[];
  /** Encapsulated pixel data: every item after the Basic Offset Table, in order. */
  fragments?: Fragment[];
  /** Encapsulated pixel data: the Basic Offset Table item's value, if any (often empty). */
  basicOffsetTable?: Buffer;
}

export class DataSet {
  readonly elements = new Map<number, DicomElement>();

  constructor(
    readonly littleEndian: boolean,
    readonly explicitVR: boolean,
  ) {}

  get(tag: number): DicomElement | undefined {
    return this.elements.get(tag);
  }

  has(tag: number): boolean {
    return this.elements.has(tag);
  }

  set(element: DicomElement): void {
    this.elements.set(element.tag, element);
  }

  /** Elements in ascending tag order (the order PS3.5 7.1 requires and JSON/XML output follows). */
  sorted(): DicomElement[] {
    return [...this.elements.values()].sort((a, b) => a.tag - b.tag);
  }
}
