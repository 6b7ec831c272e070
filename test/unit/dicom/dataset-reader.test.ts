/**
 * The streaming DICOM reader, fed generated files and their dcmtk/gdcm conversions in chunks of many sizes,
 * hand-built byte streams for the corner cases (undefined-length UN, overruns, delimiters), and truncated,
 * corrupted and non-DICOM input, which must always end in a DicomParseError.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { constants as zlib, deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  DatasetReader,
  DEFAULT_READER_LIMITS,
  UnsupportedTransferSyntaxError,
  type ParsedDicom,
} from '../../../src/dicom/dataset-reader.js';
import { UNDEFINED_LENGTH, type DataSet, type DicomElement } from '../../../src/dicom/dataset.js';
import { DicomParseError } from '../../../src/dicom/errors.js';
import { buildFileMetaHeader, IMPLEMENTATION_CLASS_UID } from '../../../src/dicom/file-meta.js';
import { getNumbers, getString, getStrings, getText } from '../../../src/dicom/values.js';
import {
  buildInstance,
  encodeElements,
  generateFrame,
  SopClassUid,
  TransferSyntaxUid,
  type ExtraElement,
  type ImageSpec,
  type InstanceSpec,
} from '../../helpers/dicom-generator.js';
import {
  ALL_TARGETS,
  dcmdump,
  execFile,
  requireTools,
  TARGETS,
  toolsFor,
  type TransferSyntaxTarget,
} from '../../helpers/dcmtk.js';
import {
  makeTempDir,
  makeTransferSyntaxSet,
  removeDir,
  type TransferSyntaxSet,
} from '../../helpers/fixtures.js';

// ---------------------------------------------------------------------------------------------------------
// Helpers

type ReaderOptions = ConstructorParameters<typeof DatasetReader>[0];

interface ParseResult {
  parsed: ParsedDicom;
  /** The inflated dataset, for a deflated input (element offsets count in it). */
  inflated: Buffer | undefined;
}

/**
 * Feeds `bytes` in chunks of `chunkSize` as the ingest code does: once `write` hands back the start of a
 * deflated dataset, that and all later input is inflated and the inflated bytes are fed instead (in chunks
 * of the same size). Truncated deflate streams are inflated as far as they go.
 */
function parse(bytes: Buffer, chunkSize = Math.max(1, bytes.length), options?: ReaderOptions): ParseResult {
  const reader = new DatasetReader(options);
  let deflated: Buffer[] | undefined;
  for (let at = 0; at < bytes.length; at += chunkSize) {
    const chunk = bytes.subarray(at, at + chunkSize);
    if (deflated) {
      deflated.push(chunk);
      continue;
    }
    const rest = reader.write(chunk);
    if (rest) deflated = [rest];
  }
  let inflated: Buffer | undefined;
  if (deflated) {
    inflated = inflateRawSync(Buffer.concat(deflated), { finishFlush: zlib.Z_SYNC_FLUSH });
    for (let at = 0; at < inflated.length; at += chunkSize)
      reader.write(inflated.subarray(at, at + chunkSize));
  }
  return { parsed: reader.end(), inflated };
}

/** Runs `fn` and returns the DicomParseError it throws; fails if it returns or throws anything else. */
function parseError(fn: () => unknown, message?: RegExp, context = ''): DicomParseError {
  try {
    fn();
  } catch (error) {
    assert.ok(
      error instanceof DicomParseError,
      `${context}: expected a DicomParseError, got ${String(error)}`,
    );
    if (message) assert.match(error.message, message, context);
    return error;
  }
  assert.fail(`${context}: expected a DicomParseError, parsing succeeded`);
}

/** A structural copy of a dataset for deep comparison: every element, value, item and fragment. */
function snapshot(dataset: DataSet, offsetShift = 0): unknown {
  return {
    littleEndian: dataset.littleEndian,
    explicitVR: dataset.explicitVR,
    elements: dataset.sorted().map((e) => ({
      tag: e.tag,
      vr: e.vr,
      length: e.length,
      offset: e.offset + offsetShift,
      value: e.value?.toString('hex'),
      items: e.items?.map((item) => snapshot(item, offsetShift)),
      fragments: e.fragments?.map((f) => ({ ...f, offset: f.offset + offsetShift })),
      basicOffsetTable: e.basicOffsetTable?.toString('hex'),
    })),
  };
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** Offsets at which a top-level element starts, plus the end: the only places a cut leaves a valid dataset. */
function topLevelBoundaries(parsed: ParsedDicom, end: number): Set<number> {
  const explicit = parsed.transferSyntax.explicitVR;
  const starts = [...parsed.dataset.elements.values()].map(
    (e) => e.offset - (explicit && LONG_VRS.has(e.vr) ? 12 : 8),
  );
  return new Set([...starts, end]);
}

function element(dataset: DataSet, tag: number): DicomElement {
  const found = dataset.get(tag);
  assert.ok(found, `element ${tag.toString(16).padStart(8, '0')} missing`);
  return found;
}

function items(dataset: DataSet, tag: number): DataSet[] {
  const found = element(dataset, tag);
  assert.equal(found.vr, 'SQ');
  assert.ok(found.items, `element ${tag.toString(16)} has no items array`);
  return found.items;
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
function pseudoRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

function randomBytes(length: number, seed: number): Buffer {
  const next = pseudoRandom(seed);
  return Buffer.from(Array.from({ length }, () => next() & 0xff));
}

// Hand-built byte streams: element, item and delimiter encoders for any byte order and VR mode.

function tagBytes(tag: number, little: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (little) {
    b.writeUInt16LE(tag >>> 16, 0);
    b.writeUInt16LE(tag & 0xffff, 2);
  } else {
    b.writeUInt16BE(tag >>> 16, 0);
    b.writeUInt16BE(tag & 0xffff, 2);
  }
  return b;
}

function u32(n: number, little: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (little) b.writeUInt32LE(n >>> 0, 0);
  else b.writeUInt32BE(n >>> 0, 0);
  return b;
}

interface Encoding {
  explicit: boolean;
  little: boolean;
}
const ELE: Encoding = { explicit: true, little: true };
const EBE: Encoding = { explicit: true, little: false };
const ILE: Encoding = { explicit: false, little: true };

/** An element header with the given value length (UNDEFINED_LENGTH allowed for long VRs). */
function header(tag: number, vr: string, length: number, enc: Encoding): Buffer {
  if (!enc.explicit) return Buffer.concat([tagBytes(tag, enc.little), u32(length, enc.little)]);
  const vrBytes = Buffer.from(vr, 'latin1');
  if (LONG_VRS.has(vr)) {
    return Buffer.concat([tagBytes(tag, enc.little), vrBytes, Buffer.alloc(2), u32(length, enc.little)]);
  }
  const len = Buffer.alloc(2);
  if (enc.little) len.writeUInt16LE(length, 0);
  else len.writeUInt16BE(length, 0);
  return Buffer.concat([tagBytes(tag, enc.little), vrBytes, len]);
}

function el(tag: number, vr: string, value: Buffer | string, enc: Encoding = ELE): Buffer {
  let bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  if (bytes.length % 2) bytes = Buffer.concat([bytes, Buffer.from(vr === 'UI' ? '\0' : ' ', 'latin1')]);
  return Buffer.concat([header(tag, vr, bytes.length, enc), bytes]);
}

/** An item: undefined length with a delimiter, or the defined length of its body. */
function item(body: Buffer, undefinedLength: boolean, little = true): Buffer {
  return undefinedLength
    ? Buffer.concat([
        tagBytes(0xfffee000, little),
        u32(UNDEFINED_LENGTH, little),
        body,
        itemDelimiter(little),
      ])
    : Buffer.concat([tagBytes(0xfffee000, little), u32(body.length, little), body]);
}
const itemDelimiter = (little = true): Buffer =>
  Buffer.concat([tagBytes(0xfffee00d, little), u32(0, little)]);
const seqDelimiter = (little = true): Buffer => Buffer.concat([tagBytes(0xfffee0dd, little), u32(0, little)]);

/** A sequence: undefined length with a delimiter, or the defined length of its items. */
function sq(
  tag: number,
  itemBytes: Buffer[],
  undefinedLength: boolean,
  enc: Encoding = ELE,
  vr = 'SQ',
): Buffer {
  const body = Buffer.concat(itemBytes);
  return undefinedLength
    ? Buffer.concat([header(tag, vr, UNDEFINED_LENGTH, enc), body, seqDelimiter(enc.little)])
    : Buffer.concat([header(tag, vr, body.length, enc), body]);
}

/** A Part 10 file: the generator's meta information (with this transfer syntax) followed by `dataset`. */
function part10(
  dataset: Buffer,
  transferSyntaxUid: string = TransferSyntaxUid.ExplicitVRLittleEndian,
): Buffer {
  const { bytes } = buildInstance({
    image: false,
    sopClassUID: SopClassUid.SecondaryCapture,
    extra: [{ tag: 0x00020010, vr: 'UI', value: transferSyntaxUid }],
  });
  const metaEnd = 144 + bytes.readUInt32LE(140);
  return Buffer.concat([bytes.subarray(0, metaEnd), dataset]);
}

function concatFrames(image: ImageSpec): Buffer {
  return Buffer.concat(Array.from({ length: image.frames ?? 1 }, (_, f) => generateFrame(image, f)));
}

// ---------------------------------------------------------------------------------------------------------
// Every transfer syntax

const IMAGE: ImageSpec = { rows: 16, columns: 16, bitsAllocated: 8, frames: 2, pattern: 'noise', seed: 7 };
const ENCAPSULATED_DOCUMENT = randomBytes(3001, 99);
const SMALL_OB = Buffer.from([1, 2, 3, 4, 5, 6]);
const NUMERIC_EXTRAS: ExtraElement[] = [
  { tag: 0x00181310, vr: 'US', value: [1, 256, 65535, 0] }, // Acquisition Matrix
  { tag: 0x0072007e, vr: 'SS', value: [-1, 2, -32768, 32767] }, // Selector SS Value
  { tag: 0x00720078, vr: 'UL', value: [0, 1, 4294967295] }, // Selector UL Value
  { tag: 0x0072007c, vr: 'SL', value: [-2147483648, 7, 2147483647] }, // Selector SL Value
  { tag: 0x00720076, vr: 'FL', value: [1.5, -0.25, 1024] }, // Selector FL Value
  { tag: 0x00720074, vr: 'FD', value: [Math.PI, -1e-300, 12345.678] }, // Selector FD Value
  { tag: 0x00720082, vr: 'SV', value: [-5, 9007199254740991] }, // Selector SV Value
  { tag: 0x00720083, vr: 'UV', value: [5, 2 ** 53] }, // Selector UV Value
  { tag: 0x00200032, vr: 'DS', value: [-12.5, 0, 3.25] }, // Image Position (Patient)
  { tag: 0x00181149, vr: 'IS', value: [320, 240] }, // Field of View Dimensions
];
const RICH_SPEC: InstanceSpec = {
  image: IMAGE,
  patientName: 'Doe^Jane^M',
  extra: [
    ...NUMERIC_EXTRAS,
    { tag: 0x00104000, vr: 'LT', value: '  two leading spaces' }, // Patient Comments
    {
      tag: 0x00081140, // Referenced Image Sequence, nested Purpose of Reference Code Sequence
      vr: 'SQ',
      undefinedLength: true,
      value: [
        [
          { tag: 0x00081150, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
          { tag: 0x00081155, vr: 'UI', value: '1.2.3.4.5' },
          {
            tag: 0x0040a170,
            vr: 'SQ',
            value: [
              [
                { tag: 0x00080100, vr: 'SH', value: '121311' },
                { tag: 0x00080102, vr: 'SH', value: 'DCM' },
                { tag: 0x00080104, vr: 'LO', value: 'Localizer' },
              ],
            ],
          },
        ],
        [{ tag: 0x00081155, vr: 'UI', value: '1.2.3.4.6' }],
      ],
    },
    { tag: 0x00101002, vr: 'SQ', undefinedLength: true, value: [] }, // Other Patient IDs Sequence, empty
    { tag: 0x00420011, vr: 'OB', value: ENCAPSULATED_DOCUMENT }, // large: left in the file
    { tag: 0x00720065, vr: 'OB', value: SMALL_OB }, // Selector OB Value, small: kept
  ],
};

/** Checks the values of RICH_SPEC, whatever the transfer syntax. */
function checkRichValues(ds: DataSet): void {
  for (const extra of NUMERIC_EXTRAS) {
    const expected = (extra.value as number[]).map((v) => (extra.vr === 'FL' ? Math.fround(v) : v));
    assert.deepEqual(getNumbers(ds, extra.tag), expected, `values of ${extra.tag.toString(16)} ${extra.vr}`);
  }
  assert.equal(getString(ds, 0x00100010), 'Doe^Jane^M');
  assert.equal(getText(ds, 0x00104000), '  two leading spaces');
  // Lossy encoders change ORIGINAL to DERIVED.
  assert.equal(getStrings(ds, 0x00080008)[1], 'PRIMARY');

  const references = items(ds, 0x00081140);
  assert.equal(references.length, 2);
  assert.equal(getString(references[0]!, 0x00081155), '1.2.3.4.5');
  assert.equal(getString(references[1]!, 0x00081155), '1.2.3.4.6');
  assert.equal(references[1]!.elements.size, 1);
  const purpose = items(references[0]!, 0x0040a170);
  assert.equal(purpose.length, 1);
  assert.equal(getString(purpose[0]!, 0x00080104), 'Localizer');
  assert.equal(getString(purpose[0]!, 0x00080102), 'DCM');
  assert.deepEqual(items(ds, 0x00101002), []);

  const document = element(ds, 0x00420011);
  assert.equal(document.value, undefined, 'a 3 kB OB is left in the file');
  assert.equal(document.length, ENCAPSULATED_DOCUMENT.length + 1);
  assert.deepEqual(element(ds, 0x00720065).value, SMALL_OB);
}

describe('every transfer syntax', () => {
  let dir = '';
  let set: TransferSyntaxSet = { files: [], skipped: [] };
  before(async () => {
    dir = await makeTempDir('dataset-reader-ts-');
    set = await makeTransferSyntaxSet(dir, RICH_SPEC);
  });
  after(() => removeDir(dir));

  it('has a file for each of the 13 targets', (t) => {
    if (!requireTools(t, ...ALL_TARGETS.flatMap(toolsFor))) return;
    assert.deepEqual(set.skipped, []);
    assert.deepEqual(set.files.map((f) => f.target).sort(), [...ALL_TARGETS].sort());
  });

  it('parses each one the same in chunks of 1, 7, 4096 bytes and whole', async () => {
    for (const file of set.files) {
      const bytes = await readFile(file.path);
      const results = [1, 7, 4096, bytes.length].map((size) => parse(bytes, size));
      const reference = results[results.length - 1]!;
      for (const [i, result] of results.entries()) {
        assert.deepEqual(
          snapshot(result.parsed.dataset),
          snapshot(reference.parsed.dataset),
          `${file.target}: chunking #${i} differs`,
        );
        assert.deepEqual(snapshot(result.parsed.meta), snapshot(reference.parsed.meta));
        assert.equal(result.parsed.datasetOffset, reference.parsed.datasetOffset);
        assert.equal(result.parsed.endOffset, reference.parsed.endOffset);
      }
    }
  });

  it('reports transfer syntax, UIDs, image size, dataset offset and deflation', async () => {
    for (const file of set.files) {
      const bytes = await readFile(file.path);
      const { parsed, inflated } = parse(bytes, 4096);
      const { meta, dataset: ds } = parsed;
      const what = file.target;
      assert.equal(parsed.transferSyntax.uid, TARGETS[file.target].transferSyntaxUID, what);
      assert.equal(getString(meta, 0x00020010), file.transferSyntaxUID, what);
      assert.equal(getString(meta, 0x00020003), file.sopInstanceUID, what);
      // gdcm turns multi-frame CT into Enhanced CT; the meta and the dataset must agree all the same.
      const sopClass = file.target.startsWith('jpeg2000') ? getString(ds, 0x00080016) : file.sopClassUID;
      assert.equal(getString(meta, 0x00020002), sopClass, what);
      assert.equal(getString(ds, 0x00080018), file.sopInstanceUID, what);
      assert.equal(getString(ds, 0x00080016), sopClass, what);
      assert.equal(getString(ds, 0x0020000d), file.studyInstanceUID, what);
      assert.equal(getString(ds, 0x0020000e), file.seriesInstanceUID, what);
      assert.deepEqual(getNumbers(ds, 0x00280010), [16], what);
      assert.deepEqual(getNumbers(ds, 0x00280011), [16], what);
      assert.deepEqual(getNumbers(ds, 0x00280008), [2], what);
      // The meta group is explicit VR little endian with a group length: 132 + 12 + its value.
      assert.equal(bytes.readUInt32LE(132), 0x00000002, `${what}: file starts with (0002,0000)`);
      assert.equal(parsed.datasetOffset, 144 + bytes.readUInt32LE(140), what);
      const deflated = file.target === 'deflated';
      assert.equal(parsed.deflated, deflated, what);
      assert.equal(parsed.transferSyntax.deflated, deflated, what);
      assert.equal(inflated !== undefined, deflated, what);
      assert.equal(
        parsed.endOffset,
        deflated ? parsed.datasetOffset + inflated!.length : bytes.length,
        `${what}: endOffset`,
      );
      assert.equal(ds.littleEndian, file.target !== 'explicit-be', what);
      assert.equal(ds.explicitVR, file.target !== 'implicit-le', what);
    }
  });

  it('decodes numbers, text, sequences and binary values right (incl. big endian and deflated)', async () => {
    for (const file of set.files) {
      const { parsed } = parse(await readFile(file.path), 7);
      try {
        checkRichValues(parsed.dataset);
      } catch (error) {
        throw new Error(`${file.target}: ${(error as Error).message}`, { cause: error });
      }
    }
  });

  it('leaves pixel data and large values in the file at the offset it reports', async () => {
    const frames = concatFrames(IMAGE);
    for (const file of set.files) {
      const bytes = await readFile(file.path);
      const { parsed, inflated } = parse(bytes, 4096);
      const source = inflated ?? bytes;
      const at = (e: { offset: number; length: number }) => source.subarray(e.offset, e.offset + e.length);
      const what = file.target;

      const document = element(parsed.dataset, 0x00420011);
      assert.deepEqual(at(document).subarray(0, ENCAPSULATED_DOCUMENT.length), ENCAPSULATED_DOCUMENT, what);

      const pixels = element(parsed.dataset, 0x7fe00010);
      assert.equal(pixels.value, undefined, what);
      if (!parsed.transferSyntax.encapsulated) {
        assert.equal(pixels.fragments, undefined, what);
        assert.equal(pixels.length, frames.length, what);
        assert.deepEqual(at(pixels), frames, `${what}: native pixel data bytes`);
        continue;
      }
      assert.equal(pixels.length, UNDEFINED_LENGTH, what);
      assert.equal(pixels.vr, 'OB', what);
      const fragments = pixels.fragments!;
      assert.ok(fragments.length >= 2, `${what}: at least one fragment per frame`);
      const bot = pixels.basicOffsetTable ?? Buffer.alloc(0);
      assert.equal(bot.length % 4, 0, what);
      // The Basic Offset Table item sits right before the first fragment's item.
      const firstItem = fragments[0]!.offset - 8;
      assert.equal(bytes.readUInt32LE(firstItem - bot.length - 8 + 0), 0xe000fffe, `${what}: BOT item tag`);
      assert.equal(bytes.readUInt32LE(firstItem - bot.length - 4), bot.length, `${what}: BOT item length`);
      assert.deepEqual(bytes.subarray(firstItem - bot.length, firstItem), bot, what);
      for (const [i, fragment] of fragments.entries()) {
        assert.equal(bytes.readUInt32LE(fragment.offset - 8), 0xe000fffe, `${what}: item tag ${i}`);
        assert.equal(bytes.readUInt32LE(fragment.offset - 4), fragment.length, `${what}: item length ${i}`);
        assert.equal(fragment.head, bytes.readUInt16BE(fragment.offset), `${what}: head of fragment ${i}`);
        const next = fragments[i + 1]?.offset ?? bytes.length + 8;
        assert.ok(next - 8 >= fragment.offset + fragment.length, what);
      }
      const last = fragments[fragments.length - 1]!;
      assert.equal(
        bytes.readUInt32LE(last.offset + last.length),
        0xe0ddfffe,
        `${what}: sequence delimiter after the last fragment`,
      );
      if (parsed.transferSyntax.frameMediaType === 'image/jpeg') {
        assert.equal(fragments[0]!.head, 0xffd8, `${what}: JPEG SOI`);
      }
    }
  });

  it('keeps 16-bit native pixel data in the file in the file byte order', async (t) => {
    if (!requireTools(t, 'dcmconv')) return;
    const image: ImageSpec = { rows: 8, columns: 12, frames: 3, pattern: 'noise', seed: 3 };
    const frames = concatFrames(image);
    const targets: TransferSyntaxTarget[] = ['explicit-le', 'implicit-le', 'explicit-be', 'deflated'];
    const local = await makeTransferSyntaxSet(dir, { image }, targets);
    assert.equal(local.files.length, 4);
    for (const file of local.files) {
      const bytes = await readFile(file.path);
      const { parsed, inflated } = parse(bytes, 7);
      const pixels = element(parsed.dataset, 0x7fe00010);
      assert.equal(pixels.vr, 'OW', file.target);
      assert.equal(pixels.length, frames.length, file.target);
      const stored = Buffer.from((inflated ?? bytes).subarray(pixels.offset, pixels.offset + pixels.length));
      if (file.target === 'explicit-be') stored.swap16();
      assert.deepEqual(stored, frames, file.target);
    }
  });

  it('reads undefined-length sequences and items written by dcmconv in every native syntax', async (t) => {
    if (!requireTools(t, 'dcmconv', 'dcmdump')) return;
    const source = join(dir, 'undefined-source.dcm');
    await writeFile(source, buildInstance(RICH_SPEC).bytes);
    for (const option of ['+te', '+ti', '+tb', '+td']) {
      const out = join(dir, `undefined${option}.dcm`);
      await execFile('dcmconv', [option, '-e', source, out]);
      const { stdout } = await dcmdump(out);
      assert.match(stdout, /Sequence with undefined length/, `${option}: dcmconv -e writes u/l sequences`);
      assert.match(stdout, /Item with undefined length/, option);
      for (const size of [1, 4096]) {
        const { parsed } = parse(await readFile(out), size);
        checkRichValues(parsed.dataset);
        assert.equal(element(parsed.dataset, 0x00081140).length, UNDEFINED_LENGTH, option);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Sequences

describe('sequences and items', () => {
  const nestedSpec = (undefinedLength: boolean): InstanceSpec => ({
    image: false,
    sopClassUID: SopClassUid.SecondaryCapture,
    extra: [
      {
        tag: 0x00081199, // Referenced SOP Sequence
        vr: 'SQ',
        undefinedLength,
        value: [
          [
            { tag: 0x00081150, vr: 'UI', value: '1.2.3' },
            {
              tag: 0x00082112, // Source Image Sequence inside
              vr: 'SQ',
              undefinedLength: !undefinedLength, // the other kind of length, to mix both
              value: [
                [
                  { tag: 0x00081155, vr: 'UI', value: '9.8.7' },
                  {
                    tag: 0x00089215, // and Derivation Code Sequence inside that
                    vr: 'SQ',
                    undefinedLength,
                    value: [[{ tag: 0x00080100, vr: 'SH', value: 'CODE1' }], []],
                  },
                ],
              ],
            },
          ],
          [],
          [{ tag: 0x00081150, vr: 'UI', value: '4.5.6' }],
        ],
      },
      { tag: 0x00101002, vr: 'SQ', undefinedLength, value: [] },
      { tag: 0x00104000, vr: 'LT', value: 'after the sequences' },
    ],
  });

  for (const undefinedLength of [true, false]) {
    it(`reads nested ${undefinedLength ? 'undefined' : 'defined'}-length sequences, empty items and sequences`, () => {
      const { bytes } = buildInstance(nestedSpec(undefinedLength));
      for (const size of [1, 7, 4096]) {
        const ds = parse(bytes, size).parsed.dataset;
        const outer = element(ds, 0x00081199);
        assert.equal(outer.length === UNDEFINED_LENGTH, undefinedLength);
        const [first, second, third] = items(ds, 0x00081199);
        assert.equal(items(ds, 0x00081199).length, 3);
        assert.equal(getString(first!, 0x00081150), '1.2.3');
        assert.equal(second!.elements.size, 0, 'empty item');
        assert.equal(getString(third!, 0x00081150), '4.5.6');
        const source = items(first!, 0x00082112);
        assert.equal(element(first!, 0x00082112).length === UNDEFINED_LENGTH, !undefinedLength);
        assert.equal(source.length, 1);
        assert.equal(getString(source[0]!, 0x00081155), '9.8.7');
        const codes = items(source[0]!, 0x00089215);
        assert.equal(codes.length, 2);
        assert.equal(getString(codes[0]!, 0x00080100), 'CODE1');
        assert.equal(codes[1]!.elements.size, 0);
        assert.deepEqual(items(ds, 0x00101002), []);
        assert.equal(getText(ds, 0x00104000), 'after the sequences');
        // Offsets of values inside items point at their bytes in the file.
        const uid = element(source[0]!, 0x00081155);
        assert.equal(bytes.toString('latin1', uid.offset, uid.offset + uid.length), '9.8.7\0');
      }
    });
  }

  it('reads an undefined-length UN as an implicit VR little endian sequence (PS3.5 6.2.2)', () => {
    for (const outer of [ELE, EBE]) {
      const inner = Buffer.concat([
        el(0x00080100, 'SH', 'ABC', ILE),
        sq(0x0040a043, [item(el(0x00080104, 'LO', 'Meaning', ILE), false)], true, ILE),
        el(0x00280103, 'US', Buffer.from([1, 0]), ILE),
      ]);
      const dataset = Buffer.concat([
        el(0x00080060, 'CS', 'OT', outer),
        el(0x00090010, 'LO', 'ACME', outer),
        // Only the header follows the outer encoding: items and delimiters inside are little endian.
        header(0x00091010, 'UN', UNDEFINED_LENGTH, outer),
        item(inner, true),
        item(Buffer.alloc(0), false),
        seqDelimiter(),
        el(0x00100010, 'PN', 'Doe^J', outer),
        el(0x00280010, 'US', outer.little ? Buffer.from([0, 2]) : Buffer.from([2, 0]), outer),
      ]);
      const ts = outer.little
        ? TransferSyntaxUid.ExplicitVRLittleEndian
        : TransferSyntaxUid.ExplicitVRBigEndian;
      for (const size of [1, 3, dataset.length]) {
        const { parsed } = parse(dataset, size, { transferSyntaxUid: ts });
        const ds = parsed.dataset;
        const un = element(ds, 0x00091010);
        assert.equal(un.vr, 'SQ', 'an undefined-length UN becomes a sequence');
        assert.equal(un.length, UNDEFINED_LENGTH);
        const [first, second] = items(ds, 0x00091010);
        assert.equal(first!.explicitVR, false);
        assert.equal(first!.littleEndian, true);
        assert.equal(getString(first!, 0x00080100), 'ABC');
        assert.deepEqual(getNumbers(first!, 0x00280103), [1]);
        assert.equal(getString(items(first!, 0x0040a043)[0]!, 0x00080104), 'Meaning');
        assert.equal(second!.elements.size, 0);
        // The outer encoding resumes after the sequence delimiter.
        assert.equal(getString(ds, 0x00100010), 'Doe^J');
        assert.deepEqual(getNumbers(ds, 0x00280010), [512]);
      }
    }
  });

  it('reads an unknown private element of undefined length in implicit VR as a sequence', () => {
    const dataset = Buffer.concat([
      el(0x00080060, 'CS', 'OT', ILE),
      sq(0x00191001, [item(el(0x00100020, 'LO', 'PID7', ILE), true)], true, ILE),
      el(0x00100010, 'PN', 'Doe^J', ILE),
    ]);
    const ds = parse(dataset, 5, { transferSyntaxUid: TransferSyntaxUid.ImplicitVRLittleEndian }).parsed
      .dataset;
    assert.equal(getString(items(ds, 0x00191001)[0]!, 0x00100020), 'PID7');
    assert.equal(getString(ds, 0x00100010), 'Doe^J');
  });

  it('rejects an element whose length overruns its item or sequence', () => {
    const cases: [string, Buffer][] = [
      [
        'value longer than its item',
        sq(
          0x00081199,
          [Buffer.concat([tagBytes(0xfffee000, true), u32(12, true), el(0x00081150, 'UI', '1.2.3.4.5.6.7')])],
          true,
        ),
      ],
      [
        'item longer than its sequence',
        Buffer.concat([
          header(0x00081199, 'SQ', 10, ELE),
          item(el(0x00081150, 'UI', '1.2.3'), false),
          el(0x00100010, 'PN', 'Doe'),
        ]),
      ],
      [
        'element header crossing the end of its item',
        sq(
          0x00081199,
          [Buffer.concat([tagBytes(0xfffee000, true), u32(4, true), el(0x00081150, 'UI', '')])],
          false,
        ),
      ],
      [
        'nested sequence longer than its item',
        sq(
          0x00081199,
          [
            Buffer.concat([
              tagBytes(0xfffee000, true),
              u32(20, true),
              header(0x00082112, 'SQ', 40, ELE),
              item(el(0x00081150, 'UI', '1.2.3'), false),
            ]),
          ],
          true,
        ),
      ],
    ];
    for (const [what, dataset] of cases) {
      for (const size of [1, dataset.length]) {
        parseError(
          () => parse(dataset, size, { transferSyntaxUid: TransferSyntaxUid.ExplicitVRLittleEndian }),
          /overruns/,
          what,
        );
      }
    }
  });

  it('rejects misplaced delimiters and items', () => {
    const ts = { transferSyntaxUid: TransferSyntaxUid.ExplicitVRLittleEndian };
    parseError(
      () => parse(Buffer.concat([el(0x00080060, 'CS', 'OT'), itemDelimiter()]), 4, ts),
      /item delimitation/,
    );
    parseError(
      () =>
        parse(
          sq(0x00081199, [item(Buffer.concat([el(0x00081150, 'UI', '1.2'), itemDelimiter()]), false)], true),
          4,
          ts,
        ),
      /item delimitation/,
    );
    parseError(
      () => parse(Buffer.concat([tagBytes(0xfffee000, true), u32(0, true)]), 4, ts),
      /unexpected delimiter/,
    );
    parseError(
      () =>
        parse(
          Buffer.concat([header(0x00081199, 'SQ', UNDEFINED_LENGTH, ELE), el(0x00081150, 'UI', '1.2')]),
          4,
          ts,
        ),
      /expected an item/,
    );
    parseError(() => parse(header(0x00104000, 'UT', UNDEFINED_LENGTH, ELE), 4, ts), /undefined length on UT/);
    parseError(() => parse(Buffer.from('0800600058580200', 'hex'), 4, ts), /invalid VR/);
    const pixels = Buffer.concat([
      header(0x7fe00010, 'OB', UNDEFINED_LENGTH, ELE),
      item(Buffer.alloc(0), false),
      item(Buffer.from([0xff, 0xd8]), true),
    ]);
    parseError(() => parse(pixels, 4, ts), /undefined-length item in encapsulated pixel data/);
  });

  it('skips a stray sequence delimiter at the top level', () => {
    const dataset = Buffer.concat([el(0x00080060, 'CS', 'OT'), seqDelimiter(), el(0x00100010, 'PN', 'Doe')]);
    const ds = parse(dataset, 1, { transferSyntaxUid: TransferSyntaxUid.ExplicitVRLittleEndian }).parsed
      .dataset;
    assert.equal(getString(ds, 0x00080060), 'OT');
    assert.equal(getString(ds, 0x00100010), 'Doe');
  });

  it('reads encapsulated pixel data: Basic Offset Table, fragments, their first two bytes', () => {
    const fragments = [
      Buffer.from('ffd8ffe0aaaa', 'hex'),
      Buffer.from('0102', 'hex'),
      Buffer.from('ff4f', 'hex'),
    ];
    const bot = Buffer.alloc(8);
    bot.writeUInt32LE(0, 0);
    bot.writeUInt32LE(14 + 10, 4);
    const dataset = Buffer.concat([
      el(0x00280008, 'IS', '2'),
      header(0x7fe00010, 'OB', UNDEFINED_LENGTH, ELE),
      item(bot, false),
      ...fragments.map((f) => item(f, false)),
      seqDelimiter(),
    ]);
    for (const size of [1, 2, 3, 9, dataset.length]) {
      const { parsed } = parse(dataset, size, {
        transferSyntaxUid: TransferSyntaxUid.JPEGBaseline,
        startOffset: 1000,
      });
      const pixels = element(parsed.dataset, 0x7fe00010);
      assert.deepEqual(pixels.basicOffsetTable, bot);
      const base = 1000 + 10 + 12 + 8 + 8;
      assert.deepEqual(pixels.fragments, [
        { offset: base + 8, length: 6, head: 0xffd8 },
        { offset: base + 8 + 6 + 8, length: 2, head: 0x0102 },
        { offset: base + 8 + 6 + 8 + 2 + 8, length: 2, head: 0xff4f },
      ]);
      assert.equal(parsed.endOffset, 1000 + dataset.length);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Bad input

describe('truncated, corrupted and non-DICOM input', () => {
  let dir = '';
  let set: TransferSyntaxSet = { files: [], skipped: [] };
  before(async () => {
    dir = await makeTempDir('dataset-reader-cut-');
    const spec: InstanceSpec = {
      image: { rows: 4, columns: 4, bitsAllocated: 8, frames: 2 },
      extra: RICH_SPEC.extra!.filter((e) => e.tag !== 0x00420011),
    };
    set = await makeTransferSyntaxSet(dir, spec, [
      'implicit-le',
      'explicit-be',
      'jpeg-lossless',
      'rle',
      'deflated',
    ]);
  });
  after(() => removeDir(dir));

  /**
   * Cuts the input at every byte: only a cut at a top-level element boundary of the dataset may parse, and
   * then holds the elements before it; any other cut throws a DicomParseError. For a deflated file the
   * inflated dataset is cut (a cut in the deflate stream itself is the inflater's to report).
   */
  function checkCuts(bytes: Buffer, what: string): number {
    const full = parse(bytes);
    const inflated = full.inflated;
    const length = inflated?.length ?? bytes.length;
    const boundaries = topLevelBoundaries(full.parsed, length);
    const first = inflated ? 0 : full.parsed.datasetOffset;
    let successes = 0;
    for (let cut = 0; cut < length; cut++) {
      const run = (): ParsedDicom => {
        if (!inflated) return parse(bytes.subarray(0, cut)).parsed;
        const reader = new DatasetReader();
        assert.ok(reader.write(bytes), 'the deflated part is handed back');
        reader.write(inflated.subarray(0, cut));
        return reader.end();
      };
      if (cut >= first && boundaries.has(cut)) {
        const parsed = run();
        successes++;
        const expected = [...boundaries].filter((start) => start < cut).length;
        assert.equal(parsed.dataset.elements.size, expected, `${what} cut at ${cut}`);
      } else {
        parseError(run, undefined, `${what} cut at ${cut}`);
      }
    }
    return successes;
  }

  it('rejects a generated file cut at any point but an element boundary', () => {
    const { bytes } = buildInstance({ ...RICH_SPEC, image: { rows: 4, columns: 4, frames: 2 } });
    const successes = checkCuts(bytes, 'generated');
    assert.ok(successes > 20, 'cuts between top-level elements parse');
  });

  it('rejects converted files cut at any point but an element boundary', async () => {
    for (const file of set.files) checkCuts(await readFile(file.path), file.target);
  });

  it('rejects a cut inside the File Meta Information even after the Transfer Syntax UID', () => {
    const { bytes } = buildInstance();
    const metaEnd = 144 + bytes.readUInt32LE(140);
    const full = parse(bytes).parsed;
    const implementationClass = element(full.meta, 0x00020012);
    // Cut right after (0002,0010), and right after (0002,0012): both leave a complete element before.
    for (const cut of [
      implementationClass.offset - 8,
      implementationClass.offset + implementationClass.length,
    ]) {
      assert.ok(cut < metaEnd);
      for (const size of [1, cut]) parseError(() => parse(bytes.subarray(0, cut), size), /truncated/);
    }
    // The File Meta Information alone is an empty dataset, not an error.
    assert.equal(parse(bytes.subarray(0, metaEnd)).parsed.dataset.elements.size, 0);
  });

  it('never crashes on corrupted files, and always fails with a DicomParseError', async () => {
    const sources = [
      buildInstance(RICH_SPEC).bytes,
      ...(await Promise.all(set.files.map((f) => readFile(f.path)))),
    ];
    let failures = 0;
    let runs = 0;
    for (const [s, source] of sources.entries()) {
      const next = pseudoRandom(1234 + s);
      for (let run = 0; run < 150; run++) {
        const bytes = Buffer.from(source);
        const flips = 1 + (next() % 4);
        for (let i = 0; i < flips; i++) {
          const at = 132 + (next() % (bytes.length - 132));
          bytes[at] = run % 3 === 0 ? 0xff : next() & 0xff;
        }
        runs++;
        try {
          parse(bytes, 1 + (next() % 64));
        } catch (error) {
          // A corrupted deflate stream is the inflater's error (zlib's Z_DATA_ERROR), not the reader's.
          const zlibError = (error as { code?: string }).code?.startsWith('Z_');
          assert.ok(
            error instanceof DicomParseError || zlibError,
            `source ${s} run ${run}: ${String(error)}`,
          );
          failures++;
        }
      }
    }
    assert.ok(failures > runs / 10, `corruption is noticed often (${failures} of ${runs})`);
  });

  it('rejects bytes that are not DICOM', () => {
    parseError(() => parse(Buffer.alloc(0)), /too short/);
    parseError(() => parse(Buffer.from('hello, world')), /too short/);
    parseError(() => parse(Buffer.alloc(131)), /too short/);
    parseError(() => parse(Buffer.alloc(400), 7), /no DICM prefix/);
    parseError(
      () => parse(Buffer.from('89504e470d0a1a0a0000000d49484452'.repeat(20), 'hex')),
      /no DICM prefix/,
    );
    parseError(() => parse(Buffer.from('%PDF-1.7\n'.repeat(40))), /no DICM prefix/);
    for (let seed = 1; seed <= 20; seed++) {
      const noise = randomBytes(2000, seed);
      parseError(() => parse(noise, 64));
      const afterPrefix = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), noise]);
      parseError(() => parse(afterPrefix, 64));
      parseError(() => parse(noise, 64, { transferSyntaxUid: TransferSyntaxUid.ExplicitVRLittleEndian }));
      parseError(() => parse(noise, 64, { transferSyntaxUid: TransferSyntaxUid.ExplicitVRBigEndian }));
      parseError(() => parse(noise, 64, { transferSyntaxUid: TransferSyntaxUid.ImplicitVRLittleEndian }));
    }
    // Text after the prefix: no group 0002, so no transfer syntax.
    const text = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from('just some text here')]);
    parseError(() => parse(text), /no Transfer Syntax UID/);
    // A bare dataset given as a Part 10 stream.
    parseError(() => parse(encodeElements([{ tag: 0x00100010, vr: 'PN', value: 'Doe' }])), /too short|DICM/);
  });

  it('rejects a transfer syntax it does not know, naming it', () => {
    const bytes = part10(el(0x00080060, 'CS', 'OT'), '1.2.3.4.5.6');
    const error = parseError(() => parse(bytes, 16), /unsupported transfer syntax 1\.2\.3\.4\.5\.6/);
    assert.ok(error instanceof UnsupportedTransferSyntaxError);
    assert.equal(error.transferSyntaxUid, '1.2.3.4.5.6');
    assert.throws(() => new DatasetReader({ transferSyntaxUid: '1.2.3' }), UnsupportedTransferSyntaxError);
  });

  it('refuses further input after a failure', () => {
    const reader = new DatasetReader();
    assert.throws(() => reader.write(Buffer.alloc(200)), DicomParseError);
    assert.throws(() => reader.write(Buffer.alloc(10)), /already failed/);
    assert.throws(() => reader.end(), /already failed/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Limits

describe('limits', () => {
  const nested = (depth: number): ExtraElement => {
    let inner: ExtraElement = { tag: 0x00081150, vr: 'UI', value: '1.2.3' };
    for (let i = 0; i < depth; i++)
      inner = { tag: 0x00081199, vr: 'SQ', undefinedLength: i % 2 === 0, value: [[inner]] };
    return inner;
  };
  const nestedFile = (depth: number) =>
    buildInstance({ image: false, sopClassUID: SopClassUid.SecondaryCapture, extra: [nested(depth)] }).bytes;

  it('enforces maxDepth as the number of nested sequences', () => {
    for (const maxDepth of [1, 2, 5]) {
      const ok = parse(nestedFile(maxDepth), 7, { limits: { maxDepth } }).parsed;
      let ds = ok.dataset;
      for (let i = 0; i < maxDepth; i++) ds = items(ds, 0x00081199)[0]!;
      assert.equal(getString(ds, 0x00081150), '1.2.3');
      parseError(() => parse(nestedFile(maxDepth + 1), 7, { limits: { maxDepth } }), /nested deeper than/);
    }
    assert.equal(DEFAULT_READER_LIMITS.maxDepth, 32);
    parse(nestedFile(32));
    parseError(() => parse(nestedFile(33)), /nested deeper than 32/);
  });

  it('stops a deep nesting attack early', () => {
    // 100000 nested undefined-length sequences: fails at the limit, not after reading everything.
    const open = Buffer.concat([
      header(0x00081199, 'SQ', UNDEFINED_LENGTH, ELE),
      tagBytes(0xfffee000, true),
      u32(UNDEFINED_LENGTH, true),
    ]);
    const attack = Buffer.concat(Array.from({ length: 100_000 }, () => open));
    const error = parseError(
      () => parse(attack, 65536, { transferSyntaxUid: TransferSyntaxUid.ExplicitVRLittleEndian }),
      /nested deeper/,
    );
    assert.ok(error.offset !== undefined && error.offset < 40 * open.length);
  });

  it('enforces maxKeptBytes over all kept values', () => {
    const bytes = buildInstance(RICH_SPEC).bytes;
    const full = parse(bytes).parsed;
    let kept = 0;
    const count = (ds: DataSet): void => {
      for (const e of ds.elements.values()) {
        kept += e.value?.length ?? 0;
        e.items?.forEach(count);
      }
    };
    count(full.meta);
    count(full.dataset);
    assert.ok(kept > 500);
    assert.doesNotThrow(() => parse(bytes, 7, { limits: { maxKeptBytes: kept } }));
    parseError(
      () => parse(bytes, 7, { limits: { maxKeptBytes: kept - 1 } }),
      new RegExp(`more than ${kept - 1} bytes`),
    );
  });

  it('enforces maxElements', () => {
    const bytes = buildInstance(RICH_SPEC).bytes;
    const full = parse(bytes).parsed;
    let total = full.meta.elements.size;
    const count = (ds: DataSet): void => {
      total += ds.elements.size;
      for (const e of ds.elements.values()) e.items?.forEach(count);
    };
    count(full.dataset);
    assert.doesNotThrow(() => parse(bytes, 7, { limits: { maxElements: total } }));
    parseError(() => parse(bytes, 7, { limits: { maxElements: total - 1 } }), /more than/);
  });

  it('keeps the File Meta Information text whatever maxKeptValue says', () => {
    const { bytes, sopInstanceUID } = buildInstance();
    const tiny = parse(bytes, 7, { limits: { maxKeptValue: 4 } }).parsed;
    assert.equal(getString(tiny.meta, 0x00020010), TransferSyntaxUid.ExplicitVRLittleEndian);
    assert.equal(getString(tiny.meta, 0x00020003), sopInstanceUID);
    assert.equal(element(tiny.dataset, 0x00080018).value, undefined, 'but not the dataset values');
  });

  it('leaves binary values over bulkThreshold and other values over maxKeptValue in the file', () => {
    const text = 'x'.repeat(2000);
    const ob = randomBytes(100, 5);
    const { bytes } = buildInstance({
      image: { rows: 2, columns: 2, bitsAllocated: 8 },
      extra: [
        { tag: 0x00104000, vr: 'LT', value: text },
        { tag: 0x00720065, vr: 'OB', value: ob },
        { tag: 0x00720069, vr: 'OW', value: [1, 2, 3] },
      ],
    });
    const defaults = parse(bytes).parsed.dataset;
    assert.equal(getText(defaults, 0x00104000), text);
    assert.deepEqual(element(defaults, 0x00720065).value, ob);
    const pixels = element(defaults, 0x7fe00010);
    assert.equal(pixels.value, undefined, 'pixel data is never kept, even 4 bytes of it');
    assert.deepEqual(
      bytes.subarray(pixels.offset, pixels.offset + pixels.length),
      generateFrame({ rows: 2, columns: 2, bitsAllocated: 8 }, 0),
    );

    const limited = parse(bytes, 7, { limits: { bulkThreshold: 64, maxKeptValue: 1000 } }).parsed.dataset;
    for (const [tag, expected] of [
      [0x00104000, Buffer.from(text)],
      [0x00720065, ob],
    ] as const) {
      const e = element(limited, tag);
      assert.equal(e.value, undefined);
      assert.deepEqual(bytes.subarray(e.offset, e.offset + e.length), expected);
    }
    assert.deepEqual(element(limited, 0x00720069).value, Buffer.from([1, 0, 2, 0, 3, 0]));
  });
});

// ---------------------------------------------------------------------------------------------------------
// Bare datasets and the gateway's own File Meta Information

describe('bare datasets', () => {
  let dir = '';
  before(async () => {
    dir = await makeTempDir('dataset-reader-bare-');
  });
  after(() => removeDir(dir));

  it('reads a dataset without preamble or meta information given its transfer syntax', async (t) => {
    if (!requireTools(t, 'dcmconv')) return;
    const { files } = await makeTransferSyntaxSet(dir, RICH_SPEC, [
      'explicit-le',
      'implicit-le',
      'explicit-be',
    ]);
    for (const file of files) {
      const bare = join(dir, `${file.target}.bare`);
      await execFile('dcmconv', ['-F', file.path, bare]);
      const bytes = await readFile(bare);
      const whole = parse(await readFile(file.path)).parsed;
      for (const size of [1, 7, bytes.length]) {
        const { parsed } = parse(bytes, size, { transferSyntaxUid: file.transferSyntaxUID });
        assert.equal(parsed.meta.elements.size, 0);
        assert.equal(parsed.datasetOffset, 0);
        assert.equal(parsed.endOffset, bytes.length);
        assert.equal(parsed.deflated, false);
        assert.equal(parsed.transferSyntax.uid, file.transferSyntaxUID);
        assert.deepEqual(snapshot(parsed.dataset, whole.datasetOffset), snapshot(whole.dataset), file.target);
      }
      // With a start offset, the positions count from there.
      const shifted = parse(bytes, 4096, {
        transferSyntaxUid: file.transferSyntaxUID,
        startOffset: 5000,
      }).parsed;
      assert.equal(shifted.datasetOffset, 5000);
      assert.equal(shifted.endOffset, 5000 + bytes.length);
      assert.deepEqual(snapshot(shifted.dataset, whole.datasetOffset - 5000), snapshot(whole.dataset));
      checkRichValues(shifted.dataset);
    }
  });

  it('reads buildFileMetaHeader output followed by a bare dataset as a Part 10 file', async (t) => {
    const { bytes: source, sopInstanceUID, sopClassUID } = buildInstance(RICH_SPEC);
    const dataset = source.subarray(144 + source.readUInt32LE(140));
    // 'ODD' is an odd-length AE title, and also makes the SOP Instance UID one digit longer: both paddings.
    for (const sourceAETitle of [undefined, 'MODALITY1', 'ODD']) {
      const head = buildFileMetaHeader({
        sopClassUid: sopClassUID,
        sopInstanceUid: sopInstanceUID + (sourceAETitle === 'ODD' ? '1' : ''),
        transferSyntaxUid: TransferSyntaxUid.ExplicitVRLittleEndian,
        sourceAETitle,
      });
      assert.equal(head.toString('latin1', 128, 132), 'DICM');
      assert.equal(head.length, 144 + head.readUInt32LE(140), 'group length covers the rest of group 0002');
      assert.equal(head.length % 2, 0);
      const file = Buffer.concat([head, dataset]);
      for (const size of [1, 4096]) {
        const { parsed } = parse(file, size);
        assert.equal(parsed.datasetOffset, head.length);
        assert.equal(getString(parsed.meta, 0x00020002), sopClassUID);
        assert.equal(
          getString(parsed.meta, 0x00020003),
          sopInstanceUID + (sourceAETitle === 'ODD' ? '1' : ''),
        );
        assert.equal(getString(parsed.meta, 0x00020010), TransferSyntaxUid.ExplicitVRLittleEndian);
        assert.equal(getString(parsed.meta, 0x00020012), IMPLEMENTATION_CLASS_UID);
        assert.equal(getString(parsed.meta, 0x00020016), sourceAETitle);
        assert.deepEqual(element(parsed.meta, 0x00020001).value, Buffer.from([0, 1]));
        checkRichValues(parsed.dataset);
      }
      if (requireTools(t, 'dcmdump')) {
        const path = join(dir, `meta-${sourceAETitle ?? 'none'}.dcm`);
        await writeFile(path, file);
        const { stdout, stderr } = await dcmdump(path, '-M');
        assert.equal(stderr, '');
        assert.match(
          stdout,
          new RegExp(`\\(0002,0012\\) UI =?\\[?${IMPLEMENTATION_CLASS_UID.replace(/\./g, '\\.')}`),
        );
        if (sourceAETitle) assert.match(stdout, new RegExp(`\\(0002,0016\\) AE \\[${sourceAETitle}\\s*\\]`));
      }
    }
  });

  it('reads a deflated dataset fed through the caller in 1-byte chunks and reports inflated offsets', () => {
    const { bytes } = buildInstance({ ...RICH_SPEC, image: { rows: 4, columns: 4, bitsAllocated: 8 } });
    const plain = bytes.subarray(144 + bytes.readUInt32LE(140));
    const file = part10(deflateRawSync(plain), TransferSyntaxUid.DeflatedExplicitVRLittleEndian);
    const metaEnd = 144 + file.readUInt32LE(140);
    const reference = parse(plain, 4096, {
      transferSyntaxUid: TransferSyntaxUid.ExplicitVRLittleEndian,
    }).parsed;
    for (const size of [1, 7, file.length]) {
      const { parsed, inflated } = parse(file, size);
      assert.equal(parsed.deflated, true);
      assert.equal(parsed.datasetOffset, metaEnd);
      assert.deepEqual(inflated, plain);
      assert.equal(parsed.endOffset, metaEnd + plain.length);
      assert.deepEqual(
        snapshot(parsed.dataset),
        snapshot(reference.dataset),
        'offsets count in the inflated bytes',
      );
      checkRichValues(parsed.dataset);
    }
  });

  it('takes an empty deflated dataset as an empty dataset', () => {
    const file = part10(deflateRawSync(Buffer.alloc(0)), TransferSyntaxUid.DeflatedExplicitVRLittleEndian);
    for (const size of [1, file.length]) {
      const { parsed } = parse(file, size);
      assert.equal(parsed.deflated, true);
      assert.equal(parsed.dataset.elements.size, 0);
    }
  });

  it('exposes where the dataset starts once the meta information is read', () => {
    const { bytes } = buildInstance();
    const metaEnd = 144 + bytes.readUInt32LE(140);
    const reader = new DatasetReader();
    reader.write(bytes.subarray(0, metaEnd));
    assert.equal(reader.datasetStart, undefined, 'not yet known: the meta group could go on');
    reader.write(bytes.subarray(metaEnd, metaEnd + 4));
    assert.equal(reader.datasetStart, metaEnd);
    reader.write(bytes.subarray(metaEnd + 4));
    assert.equal(reader.end().datasetOffset, metaEnd);
    assert.equal(
      new DatasetReader({ transferSyntaxUid: TransferSyntaxUid.ExplicitVRLittleEndian }).datasetStart,
      0,
    );
  });
});
