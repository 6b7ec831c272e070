/**
 * Frame layout: where each frame lives in the file. Native frames are checked byte for byte against the
 * generator's frames; encapsulated frames (dcmtk/gdcm encodings, and files re-encapsulated here with split
 * fragments, offset tables or none) by their codec's start and end markers and by reassembling them.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatasetReader, type ParsedDicom } from '../../../src/dicom/dataset-reader.js';
import type { ByteRange } from '../../../src/dicom/dataset.js';
import { DicomParseError } from '../../../src/dicom/errors.js';
import { computeFrameLayout, frameCount, type FrameLayout } from '../../../src/dicom/frame-layout.js';
import { findTransferSyntax } from '../../../src/dicom/transfer-syntax.js';
import {
  buildInstance,
  encodeElements,
  frameLength,
  generateFrame,
  SopClassUid,
  TransferSyntaxUid,
  type ExtraElement,
  type ImageSpec,
} from '../../helpers/dicom-generator.js';
import { execFile, requireTools, type TransferSyntaxTarget } from '../../helpers/dcmtk.js';
import { makeTempDir, makeTransferSyntaxSet, removeDir, writeInstance } from '../../helpers/fixtures.js';

// ---------------------------------------------------------------------------------------------------------
// Helpers

function parseBytes(bytes: Buffer): ParsedDicom {
  const reader = new DatasetReader();
  assert.equal(reader.write(bytes), undefined, 'not deflated');
  return reader.end();
}

function layoutOf(bytes: Buffer): { parsed: ParsedDicom; layout: FrameLayout } {
  const parsed = parseBytes(bytes);
  return { parsed, layout: computeFrameLayout(parsed.dataset, parsed.transferSyntax) };
}

function native(layout: FrameLayout): Extract<FrameLayout, { kind: 'native' }> {
  assert.equal(layout.kind, 'native');
  return layout as Extract<FrameLayout, { kind: 'native' }>;
}

function encapsulated(layout: FrameLayout): ByteRange[][] {
  assert.equal(layout.kind, 'encapsulated');
  return (layout as Extract<FrameLayout, { kind: 'encapsulated' }>).frames;
}

/** The bytes of one encapsulated frame: its fragments' values, concatenated. */
function frameBytes(file: Buffer, frame: ByteRange[]): Buffer {
  return Buffer.concat(frame.map((f) => file.subarray(f.offset, f.offset + f.length)));
}

function numberOfFrames(parsed: ParsedDicom): number {
  const element = parsed.dataset.get(0x00280008);
  return element?.value ? Number(element.value.toString('latin1').trim()) : 1;
}

/** Checks native frame i at offset + i * frameLength against the generator's frame i. */
function checkNativeFrames(bytes: Buffer, image: ImageSpec, swap16 = false): void {
  const { parsed, layout } = layoutOf(bytes);
  const n = native(layout);
  const frames = image.frames ?? 1;
  assert.equal(n.count, frames);
  assert.equal(frameCount(layout), frames);
  assert.equal(n.frameLength, frameLength(image));
  assert.equal(n.bitPacked, false);
  assert.equal(n.offset, parsed.dataset.get(0x7fe00010)!.offset);
  for (let i = 0; i < frames; i++) {
    const stored = Buffer.from(
      bytes.subarray(n.offset + i * n.frameLength, n.offset + (i + 1) * n.frameLength),
    );
    if (swap16) stored.swap16();
    assert.deepEqual(stored, generateFrame(image, i), `frame ${i}`);
  }
}

const ITEM = 0xfffee000;
const SEQUENCE_DELIMITER = 0xfffee0dd;

function itemBytes(tag: number, value: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(tag >>> 16, 0);
  head.writeUInt16LE(tag & 0xffff, 2);
  head.writeUInt32LE(value.length, 4);
  return Buffer.concat([head, value]);
}

interface EncapsulateOptions {
  transferSyntaxUid: string;
  /** Number of Frames to write; default frames.length. Omitted from the file when null. */
  numberOfFrames?: number | null;
  basicOffsetTable?: 'none' | 'right' | Buffer;
  extendedOffsetTable?: boolean;
  rows?: number;
  columns?: number;
}

/**
 * A Part 10 file whose pixel data holds `frames`, each given as its list of fragments (even lengths), with
 * a Basic Offset Table, an Extended Offset Table (and lengths), or neither.
 */
function encapsulate(frames: Buffer[][], options: EncapsulateOptions): Buffer {
  const itemStarts: number[] = [];
  let at = 0;
  for (const fragments of frames) {
    itemStarts.push(at);
    for (const f of fragments) {
      assert.equal(f.length % 2, 0, 'fragments have even lengths');
      at += 8 + f.length;
    }
  }
  let bot: Buffer = Buffer.alloc(0);
  if (options.basicOffsetTable === 'right') {
    bot = Buffer.alloc(4 * frames.length);
    itemStarts.forEach((s, i) => bot.writeUInt32LE(s, 4 * i));
  } else if (Buffer.isBuffer(options.basicOffsetTable)) {
    bot = options.basicOffsetTable;
  }
  const extra: ExtraElement[] = [
    { tag: 0x00020010, vr: 'UI', value: options.transferSyntaxUid },
    { tag: 0x00280002, vr: 'US', value: 1 },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: options.rows ?? 16 },
    { tag: 0x00280011, vr: 'US', value: options.columns ?? 16 },
    { tag: 0x00280100, vr: 'US', value: 8 },
    { tag: 0x00280101, vr: 'US', value: 8 },
    { tag: 0x00280102, vr: 'US', value: 7 },
    { tag: 0x00280103, vr: 'US', value: 0 },
  ];
  if (options.numberOfFrames !== null) {
    extra.push({ tag: 0x00280008, vr: 'IS', value: options.numberOfFrames ?? frames.length });
  }
  if (options.extendedOffsetTable) {
    const offsets = Buffer.alloc(8 * frames.length);
    const lengths = Buffer.alloc(8 * frames.length);
    frames.forEach((fragments, i) => {
      offsets.writeBigUInt64LE(BigInt(itemStarts[i]!), 8 * i);
      lengths.writeBigUInt64LE(BigInt(fragments.reduce((n, f) => n + f.length, 0)), 8 * i);
    });
    extra.push({ tag: 0x7fe00001, vr: 'OV', value: offsets }, { tag: 0x7fe00002, vr: 'OV', value: lengths });
  }
  const { bytes } = buildInstance({ image: false, sopClassUID: SopClassUid.SecondaryCapture, extra });
  const pixelHeader = Buffer.from('e07f10004f420000ffffffff', 'hex');
  return Buffer.concat([
    bytes,
    pixelHeader,
    itemBytes(ITEM, bot),
    ...frames.flat().map((f) => itemBytes(ITEM, f)),
    itemBytes(SEQUENCE_DELIMITER, Buffer.alloc(0)),
  ]);
}

/** Splits a codestream into `parts` fragments of even length (the last one takes the rest). */
function split(codestream: Buffer, parts: number): Buffer[] {
  const size = Math.max(2, Math.floor(codestream.length / parts / 2) * 2);
  const out: Buffer[] = [];
  for (let i = 0; i < parts - 1 && (i + 1) * size < codestream.length; i++) {
    out.push(codestream.subarray(i * size, (i + 1) * size));
  }
  out.push(codestream.subarray(out.length * size));
  return out;
}

/** Codestreams of each frame of a file with one fragment per frame (as dcmtk and gdcm write them). */
function codestreams(bytes: Buffer): Buffer[] {
  const { layout } = layoutOf(bytes);
  return encapsulated(layout).map((frame) => {
    assert.equal(frame.length, 1);
    return frameBytes(bytes, frame);
  });
}

type Codec = 'jpeg' | 'jpeg-ls' | 'j2k' | 'rle';

function codecOf(transferSyntaxUid: string): Codec {
  const ts = findTransferSyntax(transferSyntaxUid)!;
  if (ts.frameMediaType === 'image/jpeg') return 'jpeg';
  if (ts.frameMediaType === 'image/jls') return 'jpeg-ls';
  if (ts.frameMediaType === 'image/jp2') return 'j2k';
  assert.equal(ts.frameMediaType, 'image/dicom-rle');
  return 'rle';
}

/** A whole frame must start and end as its codec says (PS3.5 A.4.1 to A.4.4, Annex G). */
function checkCodestream(frame: Buffer, codec: Codec, segments: number, what: string): void {
  // Fragments are padded to even length: a codestream may end with one extra 0x00.
  const end =
    frame[frame.length - 1] === 0 && frame.readUInt16BE(frame.length - 3) === 0xffd9
      ? frame.length - 1
      : frame.length;
  switch (codec) {
    case 'jpeg':
    case 'jpeg-ls':
      assert.equal(frame.readUInt16BE(0), 0xffd8, `${what}: SOI`);
      assert.equal(frame.readUInt16BE(end - 2), 0xffd9, `${what}: EOI`);
      if (codec === 'jpeg-ls') assert.ok(frame.includes(Buffer.from('fff7', 'hex')), `${what}: SOF55`);
      return;
    case 'j2k':
      assert.equal(frame.readUInt16BE(0), 0xff4f, `${what}: SOC`);
      assert.equal(frame.readUInt16BE(2), 0xff51, `${what}: SIZ`);
      assert.equal(frame.readUInt16BE(end - 2), 0xffd9, `${what}: EOC`);
      return;
    case 'rle': {
      // 64-byte header: number of segments, then 15 offsets, the first 64 and the unused ones 0.
      assert.equal(frame.readUInt32LE(0), segments, `${what}: RLE segments`);
      assert.equal(frame.readUInt32LE(4), 64, `${what}: first segment right after the header`);
      let previous = 64;
      for (let i = 1; i < 15; i++) {
        const offset = frame.readUInt32LE(4 + 4 * i);
        if (i < segments) {
          assert.ok(offset > previous && offset < frame.length, `${what}: segment ${i} offset ${offset}`);
          previous = offset;
        } else {
          assert.equal(offset, 0, `${what}: unused segment offset ${i}`);
        }
      }
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Native

describe('native pixel data', () => {
  let dir = '';
  before(async () => {
    dir = await makeTempDir('frame-layout-native-');
  });
  after(() => removeDir(dir));

  it('finds a single 16-bit frame', () => {
    const image: ImageSpec = { rows: 16, columns: 16 };
    const { bytes } = buildInstance({ image });
    assert.equal(native(layoutOf(bytes).layout).frameLength, 512);
    checkNativeFrames(bytes, image);
  });

  const multiFrame: [string, ImageSpec][] = [
    ['8-bit monochrome', { rows: 16, columns: 16, frames: 5, bitsAllocated: 8 }],
    ['16-bit monochrome, odd sizes', { rows: 7, columns: 9, frames: 4, pattern: 'noise' }],
    ['8-bit odd pixel count (padded pixel data)', { rows: 3, columns: 5, frames: 3, bitsAllocated: 8 }],
    ['RGB planar 0', { rows: 8, columns: 10, frames: 3, photometric: 'RGB' }],
    ['RGB planar 1', { rows: 8, columns: 10, frames: 2, photometric: 'RGB', planarConfiguration: 1 }],
    ['YBR_FULL', { rows: 8, columns: 8, frames: 2, photometric: 'YBR_FULL' }],
    ['YBR_FULL_422', { rows: 8, columns: 12, frames: 3, photometric: 'YBR_FULL_422' }],
    ['palette', { rows: 6, columns: 6, frames: 2, photometric: 'PALETTE COLOR' }],
  ];
  for (const [name, image] of multiFrame) {
    it(`finds every frame of ${name} multi-frame pixel data`, () =>
      checkNativeFrames(buildInstance({ image }).bytes, image));
  }

  it('sizes YBR_FULL_422 and YBR_PARTIAL_422 frames at two samples per pixel', () => {
    const image: ImageSpec = { rows: 8, columns: 12, frames: 3, photometric: 'YBR_FULL_422' };
    assert.equal(frameLength(image), 8 * 12 * 2);
    for (const photometric of ['YBR_FULL_422', 'YBR_PARTIAL_422']) {
      const { bytes } = buildInstance({ image, extra: [{ tag: 0x00280004, vr: 'CS', value: photometric }] });
      const n = native(layoutOf(bytes).layout);
      assert.equal(n.frameLength, 8 * 12 * 2, photometric);
      assert.equal(n.count, 3, photometric);
    }
  });

  it('finds the frames in implicit VR and big endian files too', async (t) => {
    if (!requireTools(t, 'dcmconv')) return;
    const image: ImageSpec = { rows: 6, columns: 10, frames: 3, pattern: 'noise', seed: 11 };
    const targets: TransferSyntaxTarget[] = ['implicit-le', 'explicit-be'];
    const { files } = await makeTransferSyntaxSet(dir, { image }, targets);
    assert.equal(files.length, 2);
    for (const file of files)
      checkNativeFrames(await readFile(file.path), image, file.target === 'explicit-be');
  });

  it('counts one frame without Number of Frames, and no more frames than the pixel data holds', () => {
    const image: ImageSpec = { rows: 4, columns: 4, frames: 3, bitsAllocated: 8 };
    const withoutCount = buildInstance({
      image: { ...image, frames: undefined },
      extra: [{ tag: 0x7fe00010, vr: 'OB', value: Buffer.alloc(48) }],
    });
    assert.equal(native(layoutOf(withoutCount.bytes).layout).count, 1);
    const claimsMore = buildInstance({ image, extra: [{ tag: 0x00280008, vr: 'IS', value: 10 }] });
    assert.equal(native(layoutOf(claimsMore.bytes).layout).count, 3);
    const zero = buildInstance({ image, extra: [{ tag: 0x00280008, vr: 'IS', value: 0 }] });
    assert.equal(native(layoutOf(zero.bytes).layout).count, 1, 'Number of Frames 0 read as 1');
  });

  it('rejects pixel data shorter than one frame, or without Rows, Columns or Bits Allocated', () => {
    const image: ImageSpec = { rows: 4, columns: 4, bitsAllocated: 8 };
    const short = buildInstance({ image, extra: [{ tag: 0x7fe00010, vr: 'OB', value: Buffer.alloc(10) }] });
    const parsed = parseBytes(short.bytes);
    assert.throws(
      () => computeFrameLayout(parsed.dataset, parsed.transferSyntax),
      (e) => e instanceof DicomParseError && /shorter than one 4x4 frame/.test(e.message),
    );
    for (const tag of [0x00280010, 0x00280011, 0x00280100]) {
      const bytes = buildInstance({ image });
      const p = parseBytes(bytes.bytes);
      p.dataset.elements.delete(tag);
      assert.throws(
        () => computeFrameLayout(p.dataset, p.transferSyntax),
        /without Rows, Columns and Bits Allocated/,
      );
    }
  });

  it('reports no frames without pixel data', () => {
    const { layout } = layoutOf(buildInstance({ image: false }).bytes);
    assert.deepEqual(layout, { kind: 'none' });
    assert.equal(frameCount(layout), 0);
  });

  it('measures 1-bit frames in bits', () => {
    // 5 x 7 pixels, 3 frames: 35 bits a frame, 105 bits packed into 14 bytes (PS3.5 8.1.1).
    const dataset = encodeElements([
      { tag: 0x00280002, vr: 'US', value: 1 },
      { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
      { tag: 0x00280008, vr: 'IS', value: 3 },
      { tag: 0x00280010, vr: 'US', value: 5 },
      { tag: 0x00280011, vr: 'US', value: 7 },
      { tag: 0x00280100, vr: 'US', value: 1 },
      { tag: 0x00280101, vr: 'US', value: 1 },
      { tag: 0x00280102, vr: 'US', value: 0 },
      { tag: 0x7fe00010, vr: 'OB', value: Buffer.alloc(14, 0xa5) },
    ]);
    const reader = new DatasetReader({ transferSyntaxUid: TransferSyntaxUid.ExplicitVRLittleEndian });
    reader.write(dataset);
    const parsed = reader.end();
    const layout = native(computeFrameLayout(parsed.dataset, parsed.transferSyntax));
    assert.deepEqual(layout, {
      kind: 'native',
      offset: parsed.dataset.get(0x7fe00010)!.offset,
      frameLength: 35,
      count: 3,
      bitPacked: true,
    });
  });

  it('sizes Float and Double Float Pixel Data frames at 32 and 64 bits a sample', () => {
    for (const [tag, vr, bytesPerSample] of [
      [0x7fe00008, 'OF', 4],
      [0x7fe00009, 'OD', 8],
    ] as const) {
      const dataset = encodeElements([
        { tag: 0x00280002, vr: 'US', value: 1 },
        { tag: 0x00280008, vr: 'IS', value: 2 },
        { tag: 0x00280010, vr: 'US', value: 2 },
        { tag: 0x00280011, vr: 'US', value: 3 },
        { tag, vr, value: Array.from({ length: 12 }, (_, i) => i / 4) },
      ]);
      const reader = new DatasetReader({ transferSyntaxUid: TransferSyntaxUid.ExplicitVRLittleEndian });
      reader.write(dataset);
      const parsed = reader.end();
      const layout = native(computeFrameLayout(parsed.dataset, parsed.transferSyntax));
      assert.equal(layout.frameLength, 6 * bytesPerSample, vr);
      assert.equal(layout.count, 2, vr);
      assert.equal(layout.offset, parsed.dataset.get(tag)!.offset, vr);
      const second = layout.offset + bytesPerSample;
      assert.equal(bytesPerSample === 4 ? dataset.readFloatLE(second) : dataset.readDoubleLE(second), 0.25);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Encapsulated, as dcmtk and gdcm write it

describe('encapsulated pixel data from dcmtk and gdcm', () => {
  let dir = '';
  before(async () => {
    dir = await makeTempDir('frame-layout-encapsulated-');
  });
  after(() => removeDir(dir));

  const cases: [string, ImageSpec, TransferSyntaxTarget[], number][] = [
    [
      '8-bit monochrome',
      { rows: 16, columns: 16, bitsAllocated: 8, frames: 4, pattern: 'noise', seed: 2 },
      [
        'rle',
        'jpeg-baseline',
        'jpeg-extended',
        'jpeg-lossless',
        'jpeg-lossless-sv1',
        'jpeg-ls-lossless',
        'jpeg-ls-near-lossless',
        'jpeg2000-lossless',
        'jpeg2000',
      ],
      1,
    ],
    [
      '16-bit monochrome',
      { rows: 12, columns: 10, frames: 3, bitsStored: 12 },
      ['rle', 'jpeg-lossless', 'jpeg-ls-lossless', 'jpeg2000-lossless'],
      2,
    ],
    [
      'RGB', // gdcm cannot write JPEG 2000 for 8x8 colour (nor 16x16 noise): a 16x16 gradient
      { rows: 16, columns: 16, frames: 3, photometric: 'RGB' },
      ['rle', 'jpeg-lossless', 'jpeg-ls-lossless', 'jpeg2000-lossless'],
      3,
    ],
  ];
  for (const [name, image, targets, rleSegments] of cases) {
    it(`splits ${name} multi-frame files into NumberOfFrames frames with the codec's markers`, async (t) => {
      const { files, skipped } = await makeTransferSyntaxSet(dir, { image }, targets);
      if (skipped.length > 0) {
        t.diagnostic(`skipped: ${JSON.stringify(skipped)}`);
        assert.ok(skipped.every((s) => s.reason.startsWith('missing tool')));
      }
      for (const file of files) {
        const bytes = await readFile(file.path);
        const { parsed, layout } = layoutOf(bytes);
        const frames = encapsulated(layout);
        const what = `${name} ${file.target}`;
        assert.equal(numberOfFrames(parsed), image.frames, what);
        assert.equal(frames.length, image.frames, what);
        assert.equal(frameCount(layout), image.frames, what);
        // Together the frames are every fragment, in order, each once.
        const fragments = parsed.dataset.get(0x7fe00010)!.fragments!;
        assert.deepEqual(
          frames.flat(),
          fragments.map(({ offset, length }) => ({ offset, length })),
          what,
        );
        const codec = codecOf(file.transferSyntaxUID);
        frames.forEach((frame, k) =>
          checkCodestream(frameBytes(bytes, frame), codec, rleSegments, `${what} frame ${k}`),
        );
      }
    });
  }

  it('follows the Basic Offset Table dcmtk writes', async (t) => {
    if (!requireTools(t, 'dcmcjpeg')) return;
    const { files } = await makeTransferSyntaxSet(
      dir,
      { image: { rows: 8, columns: 8, bitsAllocated: 8, frames: 3 } },
      ['jpeg-lossless'],
    );
    const bytes = await readFile(files[0]!.path);
    const { parsed, layout } = layoutOf(bytes);
    const pixels = parsed.dataset.get(0x7fe00010)!;
    const bot = pixels.basicOffsetTable!;
    assert.equal(bot.length, 12, 'dcmtk writes a Basic Offset Table by default');
    const firstItem = pixels.fragments![0]!.offset - 8;
    encapsulated(layout).forEach((frame, k) =>
      assert.equal(frame[0]!.offset - 8 - firstItem, bot.readUInt32LE(4 * k)),
    );
  });

  it('uses one fragment per frame when there is no offset table', async (t) => {
    if (!requireTools(t, 'dcmcjpeg', 'dcmcrle')) return;
    const source = await writeInstance(dir, { image: { rows: 8, columns: 8, bitsAllocated: 8, frames: 3 } });
    for (const [tool, option, codec] of [
      ['dcmcjpeg', '+el', 'jpeg'],
      ['dcmcrle', '+ff', 'rle'],
    ] as const) {
      const out = join(dir, `no-bot-${tool}.dcm`);
      await execFile(tool, [option, '-ot', source.path, out]);
      const bytes = await readFile(out);
      const { parsed, layout } = layoutOf(bytes);
      assert.equal(
        parsed.dataset.get(0x7fe00010)!.basicOffsetTable?.length ?? 0,
        0,
        `${tool} -ot: empty BOT`,
      );
      const frames = encapsulated(layout);
      assert.equal(frames.length, 3);
      assert.ok(frames.every((f) => f.length === 1));
      frames.forEach((frame, k) => checkCodestream(frameBytes(bytes, frame), codec, 1, `${tool} frame ${k}`));
    }
  });

  it('finds frames split over several fragments, by Basic Offset Table or by start markers', async (t) => {
    if (!requireTools(t, 'dcmcjpeg', 'dcmcjpls')) return;
    // 64x64 16-bit noise compresses to about 8 kB a frame: 1 kB fragments split each frame in ~8.
    const image: ImageSpec = { rows: 64, columns: 64, frames: 3, pattern: 'noise', seed: 5 };
    const source = await writeInstance(dir, { image });
    const results: Record<string, ByteRange[][]> = {};
    for (const [tool, option, bot, codec] of [
      ['dcmcjpeg', '+el', '+ot', 'jpeg'],
      ['dcmcjpeg', '+el', '-ot', 'jpeg'],
      ['dcmcjpls', '+el', '+ot', 'jpeg-ls'],
      ['dcmcjpls', '+el', '-ot', 'jpeg-ls'],
    ] as const) {
      const out = join(dir, `split-${tool}${bot}.dcm`);
      await execFile(tool, [option, '+fs', '1', bot, source.path, out]);
      const bytes = await readFile(out);
      const { parsed, layout } = layoutOf(bytes);
      const what = `${tool} ${bot}`;
      assert.equal((parsed.dataset.get(0x7fe00010)!.basicOffsetTable?.length ?? 0) > 0, bot === '+ot', what);
      const frames = encapsulated(layout);
      assert.equal(frames.length, 3, what);
      assert.ok(
        frames.every((f) => f.length > 3),
        `${what}: several fragments a frame`,
      );
      for (const [k, frame] of frames.entries()) {
        checkCodestream(frameBytes(bytes, frame), codec, 1, `${what} frame ${k}`);
        // Only a frame's first fragment starts with SOI.
        frame.slice(1).forEach((f) => assert.notEqual(bytes.readUInt16BE(f.offset), 0xffd8, what));
      }
      // Relative to the first fragment: the BOT shifts everything by its length.
      const base = frames[0]![0]!.offset;
      results[what] = frames.map((frame) => frame.map((f) => ({ ...f, offset: f.offset - base })));
    }
    assert.deepEqual(results['dcmcjpeg +ot'], results['dcmcjpeg -ot'], 'same split with and without a BOT');
    assert.deepEqual(results['dcmcjpls +ot'], results['dcmcjpls -ot']);
  });

  it('needs an offset table for RLE frames split over several fragments', async (t) => {
    if (!requireTools(t, 'dcmcrle')) return;
    const image: ImageSpec = { rows: 64, columns: 64, frames: 3, pattern: 'noise', seed: 6 };
    const source = await writeInstance(dir, { image });
    const withBot = join(dir, 'rle-split-bot.dcm');
    const withoutBot = join(dir, 'rle-split-nobot.dcm');
    await execFile('dcmcrle', ['+fs', '1', '+ot', source.path, withBot]);
    await execFile('dcmcrle', ['+fs', '1', '-ot', source.path, withoutBot]);
    const bytes = await readFile(withBot);
    const frames = encapsulated(layoutOf(bytes).layout);
    assert.equal(frames.length, 3);
    frames.forEach((frame, k) => {
      assert.ok(frame.length > 1);
      checkCodestream(frameBytes(bytes, frame), 'rle', 2, `frame ${k}`);
    });
    const parsed = parseBytes(await readFile(withoutBot));
    assert.equal(parsed.dataset.get(0x7fe00010)!.basicOffsetTable?.length ?? 0, 0);
    assert.throws(
      () => computeFrameLayout(parsed.dataset, parsed.transferSyntax),
      (e) =>
        e instanceof DicomParseError && /cannot tell the 3 frames apart among \d+ fragments/.test(e.message),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Encapsulated, built here

describe('encapsulated pixel data built by hand', () => {
  let dir = '';
  const streams: Partial<Record<Codec, Buffer[]>> = {};
  before(async () => {
    dir = await makeTempDir('frame-layout-hand-');
    const image: ImageSpec = {
      rows: 16,
      columns: 16,
      bitsAllocated: 8,
      frames: 4,
      pattern: 'noise',
      seed: 9,
    };
    const { files } = await makeTransferSyntaxSet(dir, { image }, [
      'rle',
      'jpeg-lossless',
      'jpeg2000-lossless',
    ]);
    for (const file of files)
      streams[codecOf(file.transferSyntaxUID)] = codestreams(await readFile(file.path));
  });
  after(() => removeDir(dir));

  /** Every frame's fragments reassemble to the original codestream. */
  function checkFrames(bytes: Buffer, expected: Buffer[], pieces: Buffer[][]): void {
    const frames = encapsulated(layoutOf(bytes).layout);
    assert.equal(frames.length, expected.length);
    frames.forEach((frame, k) => {
      assert.equal(frame.length, pieces[k]!.length, `fragments of frame ${k}`);
      assert.deepEqual(frameBytes(bytes, frame), expected[k], `frame ${k}`);
    });
  }

  const TS_BY_CODEC: Record<Codec, string> = {
    jpeg: TransferSyntaxUid.JPEGLossless,
    'jpeg-ls': TransferSyntaxUid.JPEGLSLossless,
    j2k: TransferSyntaxUid.JPEG2000Lossless,
    rle: TransferSyntaxUid.RLELossless,
  };

  it('uses the Extended Offset Table, even for RLE frames in several fragments', (t) => {
    const rle = streams.rle;
    if (!rle) return t.skip('no RLE encoder');
    const pieces = rle.map((s, k) => split(s, 2 + (k % 3)));
    const bytes = encapsulate(pieces, { transferSyntaxUid: TS_BY_CODEC.rle, extendedOffsetTable: true });
    const { parsed } = layoutOf(bytes);
    assert.equal(parsed.dataset.get(0x7fe00001)!.value!.length, 8 * rle.length, 'the EOT is kept');
    checkFrames(bytes, rle, pieces);
    // The EOT wins over a Basic Offset Table that says something else (it should be empty): here one
    // that starts a frame at each of the first four fragments.
    const wrongBot = Buffer.alloc(16);
    let start = 0;
    pieces
      .flat()
      .slice(0, 4)
      .forEach((f, i) => {
        wrongBot.writeUInt32LE(start, 4 * i);
        start += 8 + f.length;
      });
    const botOnly = encapsulate(pieces, { transferSyntaxUid: TS_BY_CODEC.rle, basicOffsetTable: wrongBot });
    const misled = encapsulated(layoutOf(botOnly).layout);
    assert.equal(misled.length, 4);
    assert.notDeepEqual(
      misled.map((f) => f.length),
      pieces.map((p) => p.length),
      'this BOT alone gives other frames',
    );
    const both = encapsulate(pieces, {
      transferSyntaxUid: TS_BY_CODEC.rle,
      extendedOffsetTable: true,
      basicOffsetTable: wrongBot,
    });
    checkFrames(both, rle, pieces);
  });

  it('uses a Basic Offset Table for frames in several fragments', (t) => {
    for (const codec of ['rle', 'jpeg', 'j2k'] as const) {
      const original = streams[codec];
      if (!original) {
        t.diagnostic(`no ${codec} encoder`);
        continue;
      }
      const pieces = original.map((s, k) => split(s, 1 + k));
      checkFrames(
        encapsulate(pieces, { transferSyntaxUid: TS_BY_CODEC[codec], basicOffsetTable: 'right' }),
        original,
        pieces,
      );
    }
  });

  it('finds JPEG and JPEG 2000 frames in several fragments by their start markers', (t) => {
    for (const codec of ['jpeg', 'j2k'] as const) {
      const original = streams[codec];
      if (!original) {
        t.diagnostic(`no ${codec} encoder`);
        continue;
      }
      const pieces = original.map((s, k) => split(s, 3 - (k % 2)));
      checkFrames(encapsulate(pieces, { transferSyntaxUid: TS_BY_CODEC[codec] }), original, pieces);
      // A Basic Offset Table with the wrong number of entries is ignored.
      const wrong = Buffer.alloc(8);
      checkFrames(
        encapsulate(pieces, { transferSyntaxUid: TS_BY_CODEC[codec], basicOffsetTable: wrong }),
        original,
        pieces,
      );
    }
  });

  it('puts every fragment of a single-frame image in its one frame', (t) => {
    const jpeg = streams.jpeg;
    if (!jpeg) return t.skip('no JPEG encoder');
    const pieces = [split(jpeg[0]!, 4)];
    for (const numberOfFrames of [1, null]) {
      const bytes = encapsulate(pieces, { transferSyntaxUid: TS_BY_CODEC.jpeg, numberOfFrames });
      checkFrames(bytes, [jpeg[0]!], pieces);
    }
  });

  it('rejects frames it cannot tell apart, and pixel data without fragments', (t) => {
    const rle = streams.rle;
    if (!rle) return t.skip('no RLE encoder');
    const pieces = rle.map((s) => split(s, 2));
    const noTable = encapsulate(pieces, { transferSyntaxUid: TS_BY_CODEC.rle });
    const parsed = parseBytes(noTable);
    assert.throws(
      () => computeFrameLayout(parsed.dataset, parsed.transferSyntax),
      /cannot tell the 4 frames apart among 8 fragments/,
    );
    // JPEG with more frames claimed than start markers found.
    const jpeg = streams.jpeg;
    if (jpeg) {
      const claims = encapsulate(
        jpeg.map((s) => split(s, 2)),
        { transferSyntaxUid: TS_BY_CODEC.jpeg, numberOfFrames: 5 },
      );
      const p = parseBytes(claims);
      assert.throws(() => computeFrameLayout(p.dataset, p.transferSyntax), DicomParseError);
    }
    const empty = parseBytes(encapsulate([], { transferSyntaxUid: TS_BY_CODEC.jpeg, numberOfFrames: 2 }));
    assert.throws(() => computeFrameLayout(empty.dataset, empty.transferSyntax), /without fragments/);
  });

  it('treats MPEG and HEVC pixel data as one video stream', () => {
    const fragments = [Buffer.from('000001b3aaaa', 'hex'), Buffer.from('0102030405060708', 'hex')];
    const bytes = encapsulate([fragments], {
      transferSyntaxUid: '1.2.840.10008.1.2.4.102',
      numberOfFrames: 30,
    });
    const { layout } = layoutOf(bytes);
    assert.equal(layout.kind, 'video');
    assert.equal(frameCount(layout), 30);
    const video = layout as Extract<FrameLayout, { kind: 'video' }>;
    assert.deepEqual(
      video.fragments.map((f) => bytes.subarray(f.offset, f.offset + f.length)),
      fragments,
    );
  });
});
