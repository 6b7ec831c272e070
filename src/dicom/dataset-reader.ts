/**
 * A push parser for DICOM Part 10 files and bare datasets (PS3.5 7, PS3.10 7.1). It is fed the bytes as
 * they arrive, keeps small values, and records only the position of large binary values, so an instance
 * of any size is parsed in bounded memory while it is being written to disk.
 */
import { ByteQueue } from './byte-queue.js';
import { DataSet, UNDEFINED_LENGTH, type DicomElement, type Fragment } from './dataset.js';
import { implicitVR, tagToHex } from './dictionary.js';
import { DicomParseError } from './errors.js';
import { Tag } from './tags.js';
import { findTransferSyntax, type TransferSyntax } from './transfer-syntax.js';
import { hasLongLength, isBinaryVR, isVR, type VR } from './vr.js';

export interface ReaderLimits {
  /** Binary values (OB, OW, UN, ...) longer than this are left in the file as bulk data. */
  bulkThreshold: number;
  /** Other values longer than this are also left in the file. */
  maxKeptValue: number;
  /** Sequence nesting depth. */
  maxDepth: number;
  /** Total bytes of kept values, a guard against hostile inputs. */
  maxKeptBytes: number;
  /** Number of elements, another guard. */
  maxElements: number;
}

export const DEFAULT_READER_LIMITS: ReaderLimits = {
  bulkThreshold: 1024,
  maxKeptValue: 1024 * 1024,
  maxDepth: 32,
  maxKeptBytes: 64 * 1024 * 1024,
  maxElements: 2_000_000,
};

export interface ParsedDicom {
  /** File Meta Information (group 0002); empty for a bare dataset. */
  meta: DataSet;
  dataset: DataSet;
  transferSyntax: TransferSyntax;
  /** Offset in the input of the dataset's first byte (after the File Meta Information). */
  datasetOffset: number;
  /** Offsets of dataset elements count from the start of the inflated dataset, not from the file. */
  deflated: boolean;
  /** Bytes read in all (of the inflated stream when deflated, plus datasetOffset). */
  endOffset: number;
}

interface Encoding {
  explicitVR: boolean;
  littleEndian: boolean;
}

type Frame =
  | { kind: 'dataset'; dataset: DataSet; end: number | undefined; encoding: Encoding; meta: boolean }
  | { kind: 'sequence'; element: DicomElement; end: number | undefined; encoding: Encoding }
  | { kind: 'fragments'; element: DicomElement; encoding: Encoding; sawOffsetTable: boolean };

interface PendingValue {
  element: DicomElement | undefined;
  remaining: number;
  target: Buffer | undefined;
  filled: number;
  /** A skipped fragment whose first two bytes are wanted. */
  fragment?: Fragment;
  /** Set for the Basic Offset Table item, whose bytes go to the pixel data element. */
  offsetTableOf?: DicomElement;
}

const EXPLICIT_LE: Encoding = { explicitVR: true, littleEndian: true };
const IMPLICIT_LE: Encoding = { explicitVR: false, littleEndian: true };
const PIXEL_DATA_TAGS = new Set<number>([Tag.PixelData, Tag.FloatPixelData, Tag.DoubleFloatPixelData]);
const OFFSET_TABLE_TAGS = new Set<number>([Tag.ExtendedOffsetTable, Tag.ExtendedOffsetTableLengths]);

type State = 'preamble' | 'elements' | 'awaiting-inflate' | 'failed';

export class DatasetReader {
  private readonly queue: ByteQueue;
  private readonly limits: ReaderLimits;
  private state: State;
  private frames: Frame[] = [];
  private pending: PendingValue | undefined;
  private keptBytes = 0;
  private elementCount = 0;

  readonly meta = new DataSet(true, true);
  private dataset: DataSet | undefined;
  private transferSyntax: TransferSyntax | undefined;
  private datasetOffset = 0;
  private deflated = false;

  /**
   * @param transferSyntaxUid given for a bare dataset (no preamble or File Meta Information); omitted for
   *   a Part 10 stream, whose File Meta Information names it.
   * @param startOffset the position of the first byte this reader will see, when something precedes it.
   */
  constructor(
    options: { transferSyntaxUid?: string; startOffset?: number; limits?: Partial<ReaderLimits> } = {},
  ) {
    this.limits = { ...DEFAULT_READER_LIMITS, ...options.limits };
    this.queue = new ByteQueue(options.startOffset ?? 0);
    if (options.transferSyntaxUid === undefined) {
      this.state = 'preamble';
    } else {
      this.state = 'elements';
      this.beginDataset(options.transferSyntaxUid, this.queue.position);
    }
  }

  /** The dataset as read so far (its complete elements), once the File Meta Information has been read. */
  get partialDataset(): DataSet | undefined {
    return this.dataset;
  }

  /** Where the dataset starts in the input, once the File Meta Information has been read. */
  get datasetStart(): number | undefined {
    return this.dataset ? this.datasetOffset : undefined;
  }

  /**
   * Feeds bytes. Returns the bytes that follow the File Meta Information when the dataset is deflated:
   * the caller inflates them (and all later input) and feeds the result back through `write`.
   */
  write(chunk: Buffer): Buffer | undefined {
    if (this.state === 'failed') throw new DicomParseError('reader already failed');
    if (this.state === 'awaiting-inflate') {
      // First inflated bytes: offsets now count from the start of the inflated dataset.
      this.state = 'elements';
      this.queue.position = 0;
    }
    this.queue.push(chunk);
    try {
      this.pump();
    } catch (error) {
      this.state = 'failed';
      throw error;
    }
    // pump() may have moved the state on; TypeScript's narrowing from the check above does not know that.
    if ((this.state as State) === 'awaiting-inflate') return Buffer.concat(this.queue.drain());
    return undefined;
  }

  /** Declares the end of input and returns the parsed result, or throws if the input was incomplete. */
  end(): ParsedDicom {
    if (this.state === 'failed') throw new DicomParseError('reader already failed');
    if (this.state === 'preamble') {
      throw new DicomParseError('not a DICOM Part 10 stream: too short for the preamble and DICM prefix');
    }
    if (this.state === 'elements' && this.frames.length > 0 && this.frames[0]!.kind === 'dataset') {
      if (this.frames[0]!.meta) {
        // Input that stops inside group 0002 is truncated, even if its Transfer Syntax UID came through.
        const groupLength = this.meta.get(Tag.FileMetaInformationGroupLength);
        if (
          groupLength?.value?.length === 4 &&
          this.queue.position < groupLength.offset + 4 + groupLength.value.readUInt32LE(0)
        ) {
          throw new DicomParseError(
            'truncated: File Meta Information shorter than its group length',
            this.queue.position,
          );
        }
        this.finishMeta();
      }
    }
    if (this.state === 'awaiting-inflate') {
      // A deflated dataset with no bytes after the meta information: an empty dataset.
      this.state = 'elements';
      this.queue.position = 0;
    }
    if (this.pending) {
      throw new DicomParseError(
        `truncated: value of ${describe(this.pending.element)} is missing ${this.pending.remaining} bytes`,
        this.queue.position,
      );
    }
    if (this.queue.available > 0) {
      throw new DicomParseError(
        `truncated: ${this.queue.available} trailing bytes do not form an element header`,
        this.queue.position,
      );
    }
    // Close defined-length frames that end exactly here; anything still open is truncated.
    while (this.frames.length > 1) {
      const frame = this.frames[this.frames.length - 1]!;
      if (frame.kind !== 'fragments' && frame.end === this.queue.position) {
        this.frames.pop();
        continue;
      }
      throw new DicomParseError(
        'truncated: a sequence, item or pixel data element is not closed',
        this.queue.position,
      );
    }
    if (!this.dataset || !this.transferSyntax) {
      throw new DicomParseError('no dataset after the File Meta Information');
    }
    return {
      meta: this.meta,
      dataset: this.dataset,
      transferSyntax: this.transferSyntax,
      datasetOffset: this.datasetOffset,
      deflated: this.deflated,
      endOffset: this.deflated ? this.datasetOffset + this.queue.position : this.queue.position,
    };
  }

  private pump(): void {
    for (;;) {
      if (this.pending) {
        if (!this.readPendingValue()) return;
        continue;
      }
      if (this.state === 'preamble') {
        if (!this.readPreamble()) return;
        continue;
      }
      if (this.state === 'awaiting-inflate') return;
      const frame = this.frames[this.frames.length - 1];
      if (!frame) throw new DicomParseError('internal: no frame');
      if (frame.kind !== 'fragments' && frame.end !== undefined && this.queue.position >= frame.end) {
        if (this.queue.position > frame.end) {
          throw new DicomParseError('element overruns the end of its item or sequence', this.queue.position);
        }
        this.frames.pop();
        continue;
      }
      const progressed =
        frame.kind === 'dataset' ? this.readElementHeader(frame) : this.readItemHeader(frame);
      if (!progressed) return;
    }
  }

  private readPreamble(): boolean {
    if (this.queue.available < 132) return false;
    const head = this.queue.peek(132);
    if (head.toString('latin1', 128, 132) !== 'DICM') {
      throw new DicomParseError('not a DICOM Part 10 stream: no DICM prefix after the 128-byte preamble');
    }
    this.queue.skip(132);
    this.frames.push({
      kind: 'dataset',
      dataset: this.meta,
      end: undefined,
      encoding: EXPLICIT_LE,
      meta: true,
    });
    this.state = 'elements';
    return true;
  }

  private finishMeta(): void {
    const tsElement = this.meta.get(Tag.TransferSyntaxUID);
    if (!tsElement?.value) {
      throw new DicomParseError('File Meta Information has no Transfer Syntax UID (0002,0010)');
    }
    const uid = tsElement.value.toString('latin1').replace(/[\0 ]+$/, '');
    this.frames.pop();
    this.beginDataset(uid, this.queue.position);
    if (this.transferSyntax!.deflated) {
      this.deflated = true;
      this.state = 'awaiting-inflate';
    }
  }

  private beginDataset(transferSyntaxUid: string, offset: number): void {
    const ts = findTransferSyntax(transferSyntaxUid);
    if (!ts) throw new UnsupportedTransferSyntaxError(transferSyntaxUid);
    this.transferSyntax = ts;
    this.datasetOffset = offset;
    const encoding = { explicitVR: ts.explicitVR, littleEndian: ts.littleEndian };
    this.dataset = new DataSet(encoding.littleEndian, encoding.explicitVR);
    this.frames.push({ kind: 'dataset', dataset: this.dataset, end: undefined, encoding, meta: false });
  }

  private readElementHeader(frame: Extract<Frame, { kind: 'dataset' }>): boolean {
    const queue = this.queue;
    const little = frame.encoding.littleEndian;
    if (frame.meta) {
      // Two bytes tell where group 0002 ends: a deflated dataset may be that short (empty, 03 00).
      if (queue.available < 2) return false;
      const group = queue.peek(2).readUInt16LE(0);
      if (group !== 0x0002) {
        this.finishMeta();
        return true;
      }
    }
    if (queue.available < 4) return false;
    const tagBytes = queue.peek(4);
    const group = little ? tagBytes.readUInt16LE(0) : tagBytes.readUInt16BE(0);
    const elementNumber = little ? tagBytes.readUInt16LE(2) : tagBytes.readUInt16BE(2);
    const tag = ((group << 16) | elementNumber) >>> 0;

    if (tag === Tag.ItemDelimitationItem) {
      if (queue.available < 8) return false;
      if (this.frames.length === 1 || frame.end !== undefined) {
        throw new DicomParseError('item delimitation item outside an undefined-length item', queue.position);
      }
      queue.skip(8);
      this.frames.pop();
      return true;
    }
    if (tag === Tag.SequenceDelimitationItem && this.frames.length === 1 && !frame.meta) {
      // Stray sequence delimiter at the top level (seen in files from some writers): skip it.
      if (queue.available < 8) return false;
      queue.skip(8);
      return true;
    }
    if (group === 0xfffe) {
      throw new DicomParseError(`unexpected delimiter ${tagToHex(tag)} in a dataset`, queue.position);
    }

    let vr: VR;
    let length: number;
    let headerLength: number;
    if (frame.encoding.explicitVR) {
      if (queue.available < 8) return false;
      const header = queue.peek(8);
      const vrText = header.toString('latin1', 4, 6);
      if (!isVR(vrText)) {
        throw new DicomParseError(
          `invalid VR "${printable(vrText)}" for element ${tagToHex(tag)}`,
          queue.position,
        );
      }
      vr = vrText;
      if (hasLongLength(vr)) {
        if (queue.available < 12) return false;
        const long = queue.peek(12);
        length = little ? long.readUInt32LE(8) : long.readUInt32BE(8);
        headerLength = 12;
      } else {
        length = little ? header.readUInt16LE(6) : header.readUInt16BE(6);
        headerLength = 8;
      }
    } else {
      if (queue.available < 8) return false;
      const header = queue.peek(8);
      length = little ? header.readUInt32LE(4) : header.readUInt32BE(4);
      vr = implicitVR(tag);
      headerLength = 8;
    }
    queue.skip(headerLength);

    if (++this.elementCount > this.limits.maxElements) {
      throw new DicomParseError(`more than ${this.limits.maxElements} elements`, queue.position);
    }
    const element: DicomElement = { tag, vr, length, offset: queue.position };
    frame.dataset.set(element);

    const isSequence =
      vr === 'SQ' || (length === UNDEFINED_LENGTH && vr === 'UN' && !PIXEL_DATA_TAGS.has(tag));
    if (isSequence) {
      // An undefined-length UN is a sequence encoded in Implicit VR Little Endian (PS3.5 6.2.2, note 4).
      element.vr = 'SQ';
      element.items = [];
      const encoding = vr === 'UN' ? IMPLICIT_LE : frame.encoding;
      this.pushFrame({
        kind: 'sequence',
        element,
        end: length === UNDEFINED_LENGTH ? undefined : this.boundedEnd(length),
        encoding,
      });
      return true;
    }
    if (length === UNDEFINED_LENGTH) {
      if (!isBinaryVR(vr)) {
        throw new DicomParseError(`undefined length on ${vr} element ${tagToHex(tag)}`, queue.position);
      }
      element.fragments = [];
      this.pushFrame({ kind: 'fragments', element, encoding: frame.encoding, sawOffsetTable: false });
      return true;
    }
    this.boundedEnd(length);
    // Text in group 0002 is always kept: the Transfer Syntax UID is needed to read on, whatever the limits.
    // The offset tables are binary but the frame layout needs them, however many frames there are.
    const keep =
      !PIXEL_DATA_TAGS.has(tag) &&
      (isBinaryVR(vr) && !OFFSET_TABLE_TAGS.has(tag)
        ? length <= this.limits.bulkThreshold
        : frame.meta || length <= this.limits.maxKeptValue);
    this.beginValue(element, length, keep);
    return true;
  }

  private readItemHeader(frame: Extract<Frame, { kind: 'sequence' | 'fragments' }>): boolean {
    const queue = this.queue;
    if (queue.available < 8) return false;
    const header = queue.peek(8);
    const little = frame.encoding.littleEndian;
    const group = little ? header.readUInt16LE(0) : header.readUInt16BE(0);
    const elementNumber = little ? header.readUInt16LE(2) : header.readUInt16BE(2);
    const tag = ((group << 16) | elementNumber) >>> 0;
    const length = little ? header.readUInt32LE(4) : header.readUInt32BE(4);

    if (tag === Tag.SequenceDelimitationItem) {
      queue.skip(8);
      this.frames.pop();
      return true;
    }
    if (tag !== Tag.Item) {
      throw new DicomParseError(
        `expected an item in ${describe(frame.element)}, found ${tagToHex(tag)}`,
        queue.position,
      );
    }
    queue.skip(8);

    if (frame.kind === 'sequence') {
      const item = new DataSet(frame.encoding.littleEndian, frame.encoding.explicitVR);
      frame.element.items!.push(item);
      const end = length === UNDEFINED_LENGTH ? undefined : this.boundedEnd(length);
      this.pushFrame({ kind: 'dataset', dataset: item, end, encoding: frame.encoding, meta: false });
      return true;
    }

    if (length === UNDEFINED_LENGTH) {
      throw new DicomParseError('undefined-length item in encapsulated pixel data', queue.position);
    }
    if (!frame.sawOffsetTable) {
      frame.sawOffsetTable = true;
      const keep = length <= this.limits.maxKeptValue;
      this.beginValue(undefined, length, keep, keep ? frame.element : undefined);
      return true;
    }
    const fragment: Fragment = { offset: queue.position, length, head: -1 };
    frame.element.fragments!.push(fragment);
    this.beginValue(undefined, length, false);
    if (this.pending) this.pending.fragment = fragment;
    return true;
  }

  private pushFrame(frame: Frame): void {
    // Only sequences count: each one also pushes a frame per item, so counting frames halved the limit.
    const depth = this.frames.reduce((n, f) => (f.kind === 'sequence' ? n + 1 : n), 0);
    if (frame.kind === 'sequence' && depth >= this.limits.maxDepth) {
      throw new DicomParseError(`sequences nested deeper than ${this.limits.maxDepth}`, this.queue.position);
    }
    this.frames.push(frame);
  }

  /** The end offset of a value that starts now, checked against the nearest enclosing defined end. */
  private boundedEnd(length: number): number {
    const end = this.queue.position + length;
    const limit = this.enclosingEnd();
    if (limit !== undefined && end > limit) {
      throw new DicomParseError(
        `a value of ${length} bytes overruns its enclosing item`,
        this.queue.position,
      );
    }
    return end;
  }

  private enclosingEnd(): number | undefined {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind !== 'fragments' && f.end !== undefined) return f.end;
    }
    return undefined;
  }

  private beginValue(
    element: DicomElement | undefined,
    length: number,
    keep: boolean,
    offsetTableOf?: DicomElement,
  ): void {
    let target: Buffer | undefined;
    if (keep) {
      this.keptBytes += length;
      if (this.keptBytes > this.limits.maxKeptBytes) {
        throw new DicomParseError(
          `more than ${this.limits.maxKeptBytes} bytes of attribute values`,
          this.queue.position,
        );
      }
      target = Buffer.allocUnsafe(length);
    }
    this.pending = { element, remaining: length, target, filled: 0, offsetTableOf };
    if (length === 0) this.finishValue();
  }

  private readPendingValue(): boolean {
    const pending = this.pending!;
    if (this.queue.available === 0) return false;
    if (pending.target) {
      const copied = this.queue.takeInto(pending.target, pending.filled, pending.remaining);
      pending.filled += copied;
      pending.remaining -= copied;
    } else {
      if (pending.fragment && pending.fragment.head < 0 && pending.remaining >= 2) {
        if (this.queue.available < 2) return false;
        pending.fragment.head = this.queue.peek(2).readUInt16BE(0);
      }
      pending.remaining -= this.queue.skip(pending.remaining);
    }
    if (pending.remaining > 0) return false;
    this.finishValue();
    return true;
  }

  private finishValue(): void {
    const pending = this.pending!;
    this.pending = undefined;
    if (pending.offsetTableOf && pending.target) pending.offsetTableOf.basicOffsetTable = pending.target;
    else if (pending.element && pending.target) pending.element.value = pending.target;
  }
}

export class UnsupportedTransferSyntaxError extends DicomParseError {
  constructor(readonly transferSyntaxUid: string) {
    super(`unsupported transfer syntax ${printable(transferSyntaxUid)}`);
    this.name = 'UnsupportedTransferSyntaxError';
  }
}

function describe(element: DicomElement | undefined): string {
  return element ? `element ${tagToHex(element.tag)}` : 'an item';
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 80);
}
