/**
 * Proves the test-data generator with outside readers: dcmdump must parse every generated file without
 * errors or warnings and show the intended values, dcmtk's own re-encoding (dcmconv) must be byte-identical,
 * dcm2pnm must render the pixels we meant, and every transfer syntax conversion must produce the right
 * Transfer Syntax UID and stay readable (lossless ones decode to the same pixels).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  buildInstance,
  DEFAULT_IMAGE,
  encodeElements,
  frameLength,
  generateFrame,
  newUid,
  paletteLuts,
  resolveImage,
  textEncoderFor,
  uidFromName,
  valueRange,
  type ExtraElement,
  type ExtraItem,
  type ImageSpec,
  type InstanceSpec,
} from '../../helpers/dicom-generator.js';
import {
  convertTransferSyntax,
  dcmdump,
  execFile,
  readFileMeta,
  requireTools,
  TARGETS,
  toolsFor,
  unsupportedReason,
  type TransferSyntaxTarget,
} from '../../helpers/dcmtk.js';
import { makeFixtureDir, makeTempDir, makeTransferSyntaxSet, removeDir } from '../../helpers/fixtures.js';

let dir = '';
before(async () => {
  dir = await makeTempDir('dicom-generator-test-');
});
after(() => removeDir(dir));

async function writeSpec(name: string, spec: InstanceSpec): Promise<string> {
  const path = join(dir, `${name}.dcm`);
  await writeFile(path, buildInstance(spec).bytes);
  return path;
}

/** Top-level attributes of a dcmdump listing: keyword -> value (brackets removed, '' for empty). */
function parseDump(stdout: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^\([0-9a-f]{4},[0-9a-f]{4}\) \w\w (.*?)\s*#\s*(?:\d+|u\/l),\s*\d+ (\w+)$/.exec(line);
    if (!m || values.has(m[2] ?? '')) continue;
    const raw = m[1] ?? '';
    const value = raw.startsWith('[') ? raw.slice(1, raw.lastIndexOf(']')) : raw.startsWith('(') ? '' : raw;
    values.set(m[2] ?? '', value);
  }
  return values;
}

/** dcmdump must succeed silently; returns the parsed top-level values and the listing. */
async function dumpClean(path: string, ...options: string[]) {
  const { stdout, stderr } = await dcmdump(path, '-Un', ...options);
  assert.equal(stderr, '', `dcmdump warnings/errors for ${path}`);
  assert.doesNotMatch(stdout, /error|incomplete|invalid/i);
  return { values: parseDump(stdout), stdout };
}

/** The same spec with every sequence of `extra` (nested ones too) written with (un)defined length. */
function withSequenceLengths(spec: InstanceSpec, undefinedLength: boolean): InstanceSpec {
  const convert = (elements: ExtraElement[]): ExtraElement[] =>
    elements.map((el) =>
      el.vr === 'SQ' ? { ...el, undefinedLength, value: (el.value as ExtraItem[]).map(convert) } : el,
    );
  return { ...spec, extra: convert(spec.extra ?? []) };
}

/** The dataset bytes after the file meta group. */
function dataset(file: Buffer): Buffer {
  return file.subarray(144 + file.readUInt32LE(140));
}

interface Pnm {
  width: number;
  height: number;
  maxval: number;
  channels: number;
  samples: number[];
}

/** Renders one frame (1-based) with dcm2pnm as ASCII PGM/PPM; `bits` selects n-bit output, else 8-bit. */
async function render(path: string, frame = 1, bits?: number): Promise<Pnm> {
  const options = ['+F', String(frame), ...(bits ? ['+opn', String(bits)] : ['+opb'])];
  const { stdout, stderr } = await execFile('dcm2pnm', [...options, path], { maxBuffer: 64 * 1024 * 1024 });
  assert.equal(stderr, '', `dcm2pnm warnings/errors for ${path}`);
  const [magic, width, height, maxval, ...samples] = stdout.replace(/#.*$/gm, '').trim().split(/\s+/);
  assert.ok(magic === 'P2' || magic === 'P3', `unexpected PNM ${magic}`);
  return {
    width: Number(width),
    height: Number(height),
    maxval: Number(maxval),
    channels: magic === 'P3' ? 3 : 1,
    samples: samples.map(Number),
  };
}

/** Stored sample values of a generated grey-scale frame (sign-extended for signed images). */
function greyValues(image: ImageSpec, frame: number): number[] {
  const { bitsAllocated, pixelRepresentation } = resolveImage(image);
  const bytes = generateFrame(image, frame);
  const values: number[] = [];
  for (let i = 0; i < bytes.length; i += bitsAllocated / 8) {
    if (bitsAllocated === 8) values.push(pixelRepresentation ? bytes.readInt8(i) : bytes.readUInt8(i));
    else values.push(pixelRepresentation ? bytes.readInt16LE(i) : bytes.readUInt16LE(i));
  }
  return values;
}

function ybrToRgb(y: number, cb: number, cr: number): number[] {
  const clamp = (v: number): number => Math.min(255, Math.max(0, Math.round(v)));
  return [
    clamp(y + 1.402 * (cr - 128)),
    clamp(y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128)),
    clamp(y + 1.772 * (cb - 128)),
  ];
}

function meanAbsDifference(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  return a.reduce((sum, v, i) => sum + Math.abs(v - (b[i] ?? NaN)), 0) / a.length;
}

function maxAbsDifference(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  return a.reduce((max, v, i) => Math.max(max, Math.abs(v - (b[i] ?? NaN))), 0);
}

describe('generator output (no tools)', () => {
  it('writes preamble, DICM and a meta group with the right group length', async () => {
    const built = buildInstance();
    const { bytes } = built;
    assert.ok(bytes.subarray(0, 128).every((b) => b === 0));
    assert.equal(bytes.toString('latin1', 128, 132), 'DICM');
    assert.equal(bytes.toString('latin1', 132, 140), '\x02\x00\x00\x00UL\x04\x00');
    const path = await writeSpec('meta', { sopInstanceUID: built.sopInstanceUID });
    const meta = await readFileMeta(path);
    assert.equal(meta['00020010'], '1.2.840.10008.1.2.1');
    assert.equal(meta['00020003'], built.sopInstanceUID);
    const file = await readFile(path);
    assert.equal(
      file.readUInt16LE(144 + file.readUInt32LE(140)),
      0x0008,
      'dataset starts right after group 2',
    );
  });

  it('makes UIDs', () => {
    const uids = new Set(Array.from({ length: 100 }, newUid));
    assert.equal(uids.size, 100);
    for (const uid of uids) assert.match(uid, /^2\.25\.[1-9]\d{0,38}$/);
    assert.equal(uidFromName('a'), uidFromName('a'));
    assert.notEqual(uidFromName('a'), uidFromName('b'));
  });

  it('pads text with spaces, UI and OB with NUL, and writes defined-length sequences', () => {
    const bytes = encodeElements([
      { tag: 0x7fe00010, vr: 'OB', value: Buffer.of(1, 2, 3) },
      { tag: 0x00100010, vr: 'PN', value: 'Doe' },
      { tag: 0x00080016, vr: 'UI', value: '1.2.3' },
      { tag: 0x00081115, vr: 'SQ', value: [[{ tag: 0x00081150, vr: 'UI', value: '1.2' }]] },
    ]);
    const expected = [
      '08001600 5549 0600 312e322e3300', // (0008,0016) UI "1.2.3\0"  (sorted first)
      '08001511 5351 0000 14000000', // (0008,1115) SQ, length 20
      'feff00e0 0c000000', // item, length 12
      '08005011 5549 0400 312e3200', // (0008,1150) UI "1.2\0"
      '10001000 504e 0400 446f6520', // (0010,0010) PN "Doe "
      'e07f1000 4f42 0000 04000000 01020300', // (7FE0,0010) OB, padded with NUL
    ];
    assert.equal(bytes.toString('hex'), expected.join('').replace(/ /g, ''));
  });

  it('encodes ISO 2022 IR 87 like the PS3.5 H.3.1 example', () => {
    const name = 'Yamada^Tarou=山田^太郎=やまだ^たろう';
    const bytes = textEncoderFor('\\ISO 2022 IR 87')(name);
    const standard = [
      '59616d6164615e5461726f753d', // Yamada^Tarou=
      '1b2442 3b334544 1b2842 5e', // ESC $ B, 山田, ESC ( B, ^
      '1b2442 42404f3a 1b2842 3d', // 太郎 =
      '1b2442 2464245e2440 1b2842 5e', // やまだ ^
      '1b2442 243f246d2426 1b2842', // たろう
    ];
    assert.equal(bytes.toString('hex'), standard.join('').replace(/ /g, ''));
    assert.equal(new TextDecoder('iso-2022-jp').decode(bytes), name, 'ICU decodes it back');
    assert.throws(() => textEncoderFor(undefined)('Müller'), /Specific Character Set/);
    assert.equal(textEncoderFor('ISO_IR 13')('ABC').toString('latin1'), 'ABC');
    assert.throws(() => textEncoderFor('ISO_IR 13')('ｱｲｳ'), /rawText/);
  });

  it('makes deterministic frames that differ from frame to frame', () => {
    for (const pattern of ['gradient', 'checker', 'noise'] as const) {
      const image: ImageSpec = { rows: 8, columns: 6, frames: 5, pattern, photometric: 'RGB' };
      const frames = Array.from({ length: 5 }, (_, f) => generateFrame(image, f).toString('hex'));
      assert.equal(new Set(frames).size, 5, pattern);
      assert.equal(generateFrame(image, 3).toString('hex'), frames[3]);
      assert.equal(frames[0]?.length, frameLength(image) * 2);
    }
    assert.equal(frameLength({ rows: 4, columns: 6, photometric: 'YBR_FULL_422' }), 48);
    assert.throws(
      () => buildInstance({ image: { rows: 4, columns: 5, photometric: 'YBR_FULL_422' } }),
      /even/,
    );
  });
});

const CT = '1.2.840.10008.5.1.4.1.1.2';
const SC = '1.2.840.10008.5.1.4.1.1.7';

interface Case {
  name: string;
  spec: InstanceSpec;
  /** Expected top-level dcmdump values by keyword ('' = empty or a sequence, '*' = any value, null = absent). */
  expect: Record<string, string | null>;
  /** dcmdump options, e.g. +U8 to see converted text. */
  dumpOptions?: string[];
}

const sequenceExtras: InstanceSpec['extra'] = [
  {
    tag: 0x00081115, // ReferencedSeriesSequence
    vr: 'SQ',
    value: [
      [
        { tag: 0x0020000e, vr: 'UI', value: '1.2.3.4' },
        { tag: 0x0008114a, vr: 'SQ', value: [[{ tag: 0x00081155, vr: 'UI', value: '1.2.3.4.5' }]] },
      ],
      [],
    ],
  },
  { tag: 0x00081140, vr: 'SQ', undefinedLength: true, value: [[{ tag: 0x00081150, vr: 'UI', value: SC }]] },
  { tag: 0x00181050, vr: 'DS', value: [0.5, 0.25] },
  { tag: 0x00189306, vr: 'FD', value: 3.5 },
  { tag: 0x00209165, vr: 'AT', value: [0x00100010] },
  { tag: 0x00091010, vr: 'LO', value: 'PRIVATE CREATOR' },
  { tag: 0x00091001, vr: 'SL', value: [-5, 7] },
  { tag: 0x00081030, vr: 'LO', value: 'Replaced by extra' },
];

const CASES: Case[] = [
  {
    name: 'MONOCHROME2 8-bit',
    spec: { image: { rows: 12, columns: 10, bitsAllocated: 8 } },
    expect: { PhotometricInterpretation: 'MONOCHROME2', Rows: '12', Columns: '10', BitsAllocated: '8' },
  },
  {
    name: 'MONOCHROME2 16-bit unsigned',
    spec: { image: { rows: 16, columns: 16, pattern: 'noise', windowCenter: 32768, windowWidth: 65536 } },
    expect: {
      BitsStored: '16',
      HighBit: '15',
      PixelRepresentation: '0',
      WindowCenter: '32768',
      SOPClassUID: CT,
    },
  },
  {
    name: 'MONOCHROME2 16-bit signed with VOI LUT',
    spec: {
      image: { rows: 8, columns: 8, pixelRepresentation: 1, voiLutSequence: true, windowCenter: [0, 40] },
    },
    expect: { PixelRepresentation: '1', WindowCenter: '0\\40', RescaleSlope: '1', VOILUTSequence: '' },
  },
  {
    name: 'MONOCHROME2 12 bits stored in 16, signed, rescaled',
    spec: {
      image: {
        rows: 9,
        columns: 7,
        bitsStored: 12,
        pixelRepresentation: 1,
        rescaleIntercept: -1024,
        rescaleSlope: 0.5,
      },
    },
    expect: { BitsStored: '12', HighBit: '11', RescaleIntercept: '-1024', RescaleSlope: '0.5' },
  },
  {
    name: 'MONOCHROME1 8-bit signed',
    spec: {
      image: { rows: 8, columns: 8, photometric: 'MONOCHROME1', bitsAllocated: 8, pixelRepresentation: 1 },
    },
    expect: { PhotometricInterpretation: 'MONOCHROME1', PixelRepresentation: '1' },
  },
  {
    name: 'MONOCHROME1 12 bits stored',
    spec: { image: { rows: 8, columns: 8, photometric: 'MONOCHROME1', bitsStored: 12, pattern: 'checker' } },
    expect: { PhotometricInterpretation: 'MONOCHROME1', BitsStored: '12' },
  },
  {
    name: 'RGB planar 0',
    spec: { image: { rows: 8, columns: 10, photometric: 'RGB', pattern: 'checker' } },
    expect: { SamplesPerPixel: '3', PlanarConfiguration: '0', SOPClassUID: SC, Modality: 'OT' },
  },
  {
    name: 'RGB planar 1',
    spec: { image: { rows: 8, columns: 10, photometric: 'RGB', planarConfiguration: 1 } },
    expect: { SamplesPerPixel: '3', PlanarConfiguration: '1' },
  },
  {
    name: 'YBR_FULL',
    spec: { image: { rows: 8, columns: 8, photometric: 'YBR_FULL' } },
    expect: { PhotometricInterpretation: 'YBR_FULL', SamplesPerPixel: '3' },
  },
  {
    name: 'YBR_FULL_422',
    spec: { image: { rows: 8, columns: 8, photometric: 'YBR_FULL_422' } },
    expect: { PhotometricInterpretation: 'YBR_FULL_422', PlanarConfiguration: '0' },
  },
  {
    name: 'PALETTE COLOR 8-bit, 16-bit LUT',
    spec: { image: { rows: 8, columns: 8, photometric: 'PALETTE COLOR' } },
    expect: { RedPaletteColorLookupTableDescriptor: '256\\0\\16', BluePaletteColorLookupTableData: '*' },
  },
  {
    name: 'PALETTE COLOR 16-bit, 8-bit LUT',
    spec: {
      image: {
        rows: 8,
        columns: 8,
        photometric: 'PALETTE COLOR',
        bitsAllocated: 16,
        bitsStored: 12,
        paletteLutBits: 8,
      },
    },
    expect: { GreenPaletteColorLookupTableDescriptor: '4096\\0\\8', BitsStored: '12' },
  },
  {
    name: 'multi-frame, 5 frames',
    spec: { image: { rows: 8, columns: 8, frames: 5, bitsAllocated: 8, pattern: 'noise' } },
    expect: { NumberOfFrames: '5' },
  },
  {
    name: 'ISO_IR 192 with Chinese/Japanese names',
    spec: {
      specificCharacterSet: 'ISO_IR 192',
      patientName: '王^小东=山田^太郎',
      studyDescription: '胸部 CT 検査',
    },
    expect: { PatientName: '王^小东=山田^太郎', StudyDescription: '胸部 CT 検査' },
    dumpOptions: ['+U8'],
  },
  {
    name: 'ISO_IR 100 Müller^Jürgen',
    spec: {
      specificCharacterSet: 'ISO_IR 100',
      patientName: 'Müller^Jürgen',
      referringPhysicianName: 'Gödel^Kurt',
    },
    expect: { PatientName: 'Müller^Jürgen', ReferringPhysicianName: 'Gödel^Kurt' },
    dumpOptions: ['+U8'],
  },
  {
    name: 'GB18030 Chinese name',
    spec: { specificCharacterSet: 'GB18030', patientName: 'Wang^XiaoDong=王^小东=' },
    expect: { PatientName: 'Wang^XiaoDong=王^小东=' },
    dumpOptions: ['+U8'],
  },
  {
    name: 'ISO 2022 IR 87 Japanese name',
    spec: { specificCharacterSet: '\\ISO 2022 IR 87', patientName: 'Yamada^Tarou=山田^太郎=やまだ^たろう' },
    expect: { SpecificCharacterSet: '\\ISO 2022 IR 87' },
  },
  {
    name: 'rawText override (latin1 bytes)',
    spec: { specificCharacterSet: 'ISO_IR 100', rawText: { PatientName: Buffer.from('Ærø^Åse', 'latin1') } },
    expect: { PatientName: 'Ærø^Åse' },
    dumpOptions: ['+U8'],
  },
  {
    name: 'Basic Text SR without pixel data',
    spec: { image: false },
    expect: { Modality: 'SR', ValueType: 'CONTAINER', ContentSequence: '', PixelData: null, Rows: null },
  },
  {
    name: 'sequences, private and binary extras',
    spec: { image: false, sopClassUID: SC, extra: sequenceExtras },
    expect: {
      ReferencedSeriesSequence: '',
      ReferencedImageSequence: '',
      SpatialResolution: '0.5\\0.25',
      StudyDescription: 'Replaced by extra',
      ValueType: null,
    },
  },
];

describe('dcmdump reads every generated file', () => {
  for (const c of CASES) {
    it(c.name, async (t) => {
      if (!requireTools(t, 'dcmdump')) return;
      const built = buildInstance(c.spec);
      const path = join(dir, `dump-${c.name.replace(/\W+/g, '_')}.dcm`);
      await writeFile(path, built.bytes);
      const { values } = await dumpClean(path, ...(c.dumpOptions ?? []));
      assert.equal(values.get('SOPInstanceUID'), built.sopInstanceUID);
      assert.equal(values.get('StudyInstanceUID'), built.studyInstanceUID);
      assert.equal(values.get('SeriesInstanceUID'), built.seriesInstanceUID);
      for (const [keyword, expected] of Object.entries(c.expect)) {
        const actual = values.get(keyword) ?? null;
        if (expected === '*') assert.ok(actual, keyword);
        else assert.equal(actual, expected, keyword);
      }
      if (c.spec.image) {
        const image = c.spec.image;
        const pixels = /\(7fe0,0010\) O[BW] .*#\s*(\d+), 1 PixelData/.exec((await dcmdump(path)).stdout);
        const length = frameLength(image) * (image.frames ?? 1);
        assert.equal(Number(pixels?.[1]), length + (length % 2), 'pixel data length');
      }
    });
  }

  it('shows nested sequence content', async (t) => {
    if (!requireTools(t, 'dcmdump')) return;
    const path = await writeSpec('nested', { image: false, sopClassUID: SC, extra: sequenceExtras });
    const { stdout } = await dumpClean(path);
    assert.match(stdout, /^ +\(0008,1155\) UI \[1\.2\.3\.4\.5\]/m);
    assert.match(stdout, /Sequence with undefined length #=1/);
    assert.match(stdout, /Item with explicit length #=0/);
    assert.match(stdout, /\(0018,9306\) FD 3\.5 /);
    assert.match(stdout, /\(0020,9165\) AT \(0010,0010\) /);
    assert.match(stdout, /\(0009,1001\) SL -5\\7 /);
  });

  it('writes ISO 2022 IR 87 text that iconv/ICU decode', async (t) => {
    if (!requireTools(t, 'dcmdump')) return;
    const name = 'Yamada^Tarou=山田^太郎=やまだ^たろう';
    const path = await writeSpec('jis', { specificCharacterSet: '\\ISO 2022 IR 87', patientName: name });
    const { stdout } = await execFile('dcmdump', ['+P', 'PatientName', path], { encoding: 'latin1' });
    const raw = /\[(.*)\]/.exec(stdout)?.[1] ?? '';
    assert.equal(new TextDecoder('iso-2022-jp').decode(Buffer.from(raw, 'latin1')), name);
  });

  it('encodes exactly as dcmtk re-encodes (dcmconv round trip is byte-identical)', async (t) => {
    if (!requireTools(t, 'dcmconv')) return;
    for (const c of CASES) {
      // dcmconv writes all sequences with defined length, or with -e all with undefined length.
      const undefinedLengths = c.spec.extra?.some((el) => el.undefinedLength) ?? false;
      const original = buildInstance(undefinedLengths ? withSequenceLengths(c.spec, true) : c.spec).bytes;
      const input = join(dir, 'roundtrip-in.dcm');
      const output = join(dir, 'roundtrip-out.dcm');
      await writeFile(input, original);
      await execFile('dcmconv', ['+te', ...(undefinedLengths ? ['-e'] : []), input, output]);
      assert.ok(dataset(await readFile(output)).equals(dataset(original)), c.name);
    }
  });
});

describe('dcm2pnm renders the intended pixels', () => {
  const grey: { name: string; image: ImageSpec }[] = [
    { name: 'MONOCHROME2 8-bit', image: { rows: 6, columns: 10, bitsAllocated: 8, pattern: 'noise' } },
    { name: 'MONOCHROME2 16-bit', image: { rows: 6, columns: 10, bitsAllocated: 16, pattern: 'noise' } },
    {
      name: 'MONOCHROME2 16-bit signed',
      image: { rows: 6, columns: 10, bitsAllocated: 16, pixelRepresentation: 1, pattern: 'noise' },
    },
    {
      name: 'MONOCHROME2 12-bit signed, rescaled',
      image: {
        rows: 6,
        columns: 10,
        bitsAllocated: 16,
        bitsStored: 12,
        pixelRepresentation: 1,
        rescaleIntercept: -1024,
      },
    },
    {
      name: 'MONOCHROME1 12-bit',
      image: { rows: 6, columns: 10, photometric: 'MONOCHROME1', bitsAllocated: 16, bitsStored: 12 },
    },
    {
      name: 'MONOCHROME1 8-bit signed',
      image: { rows: 6, columns: 10, photometric: 'MONOCHROME1', bitsAllocated: 8, pixelRepresentation: 1 },
    },
  ];
  for (const { name, image } of grey) {
    it(name, async (t) => {
      if (!requireTools(t, 'dcm2pnm')) return;
      const path = await writeSpec(`pnm-${name.replace(/\W+/g, '_')}`, { image });
      const bitsStored = image.bitsStored ?? image.bitsAllocated ?? 16;
      const pnm = await render(path, 1, bitsStored);
      assert.deepEqual([pnm.width, pnm.height, pnm.channels], [image.columns, image.rows, 1]);
      // Without VOI windowing, dcmtk maps the full stored range linearly onto the output range.
      const [min, max] = valueRange(image);
      const mono1 = image.photometric === 'MONOCHROME1';
      const expected = greyValues(image, 0).map((v) => (mono1 ? max - v : v - min));
      // dcmtk's MONOCHROME1 inversion rounds through floating point: allow 1.
      if (mono1) assert.ok(maxAbsDifference(pnm.samples, expected) <= 1);
      else assert.deepEqual(pnm.samples, expected);
    });
  }

  it('multi-frame: every frame as generated, all different', async (t) => {
    if (!requireTools(t, 'dcm2pnm')) return;
    const image: ImageSpec = { rows: 6, columns: 8, frames: 5, bitsAllocated: 8, pattern: 'checker' };
    const path = await writeSpec('pnm-frames', { image });
    const rendered: string[] = [];
    for (let frame = 1; frame <= 5; frame++) {
      const pnm = await render(path, frame, 8);
      assert.deepEqual(pnm.samples, greyValues(image, frame - 1), `frame ${frame}`);
      rendered.push(pnm.samples.join());
    }
    assert.equal(new Set(rendered).size, 5);
  });

  const rgbSource = (image: ImageSpec): number[] => [
    ...generateFrame({ ...image, photometric: 'RGB', planarConfiguration: 0 }, 0),
  ];

  for (const planarConfiguration of [0, 1] as const) {
    it(`RGB planar ${planarConfiguration}`, async (t) => {
      if (!requireTools(t, 'dcm2pnm')) return;
      const image: ImageSpec = {
        rows: 6,
        columns: 10,
        photometric: 'RGB',
        planarConfiguration,
        pattern: 'noise',
      };
      const pnm = await render(await writeSpec(`pnm-rgb${planarConfiguration}`, { image }));
      assert.equal(pnm.channels, 3);
      assert.deepEqual(pnm.samples, rgbSource(image));
    });
  }

  for (const photometric of ['YBR_FULL', 'YBR_FULL_422'] as const) {
    it(`${photometric} in the PS3.3 C.7.6.3.1.2 layout`, async (t) => {
      if (!requireTools(t, 'dcm2pnm')) return;
      // 4:2:2 averages the chroma of pixel pairs: 2x2 checker cells keep both pixels of a pair one colour.
      const pattern = photometric === 'YBR_FULL' ? 'noise' : 'checker';
      const image: ImageSpec = { rows: 8, columns: 16, photometric, pattern };
      const pnm = await render(await writeSpec(`pnm-${photometric}`, { image }));
      // Our YBR samples -> RGB with the standard's formulas (4:2:2: Y0 Y1 Cb Cr per pair of pixels).
      const ybr = generateFrame(image, 0);
      const expected: number[] = [];
      for (let i = 0; i < image.rows * image.columns; i++) {
        const pair = (i - (i % 2)) * 2; // offset of the pair's Y0 Y1 Cb Cr
        const [y, cb, cr] =
          photometric === 'YBR_FULL'
            ? [ybr[i * 3], ybr[i * 3 + 1], ybr[i * 3 + 2]]
            : [ybr[pair + (i % 2)], ybr[pair + 2], ybr[pair + 3]];
        expected.push(...ybrToRgb(y ?? NaN, cb ?? NaN, cr ?? NaN));
      }
      assert.ok(maxAbsDifference(pnm.samples, expected) <= 2, 'decoded like the standard');
      assert.ok(maxAbsDifference(pnm.samples, rgbSource(image)) <= 3, 'close to the RGB source');
    });
  }

  for (const [bitsAllocated, paletteLutBits] of [
    [8, 16],
    [16, 8],
  ] as const) {
    it(`PALETTE COLOR ${bitsAllocated}-bit indices, ${paletteLutBits}-bit LUT`, async (t) => {
      if (!requireTools(t, 'dcm2pnm')) return;
      const bitsStored = bitsAllocated === 8 ? 8 : 12;
      const image: ImageSpec = {
        rows: 6,
        columns: 10,
        photometric: 'PALETTE COLOR',
        pattern: 'noise',
        bitsAllocated,
        bitsStored,
        paletteLutBits,
      };
      const pnm = await render(await writeSpec(`pnm-palette-${bitsAllocated}`, { image }));
      const luts = paletteLuts(image);
      const scale = 255 / (2 ** paletteLutBits - 1);
      const expected = greyValues(image, 0).flatMap((i) =>
        [luts.red, luts.green, luts.blue].map((lut) => Math.round((lut[i] ?? NaN) * scale)),
      );
      assert.ok(maxAbsDifference(pnm.samples, expected) <= 1);
    });
  }
});

/** A source image per target, so that together they cover bit depths, signedness, colour and frames. */
const CONVERSION_SOURCES: Record<TransferSyntaxTarget, InstanceSpec> = {
  'implicit-le': {
    specificCharacterSet: 'ISO_IR 100',
    patientName: 'Müller^Jürgen',
    image: { rows: 8, columns: 8 },
  },
  'explicit-le': { image: { rows: 8, columns: 8, photometric: 'RGB', planarConfiguration: 1 } },
  'explicit-be': { image: { rows: 8, columns: 8, pixelRepresentation: 1, frames: 2, pattern: 'noise' } },
  deflated: { image: false, extra: sequenceExtras },
  'jpeg-baseline': { image: { rows: 16, columns: 16, bitsAllocated: 8 } },
  'jpeg-extended': { image: { rows: 16, columns: 16, bitsStored: 12 } },
  'jpeg-lossless-sv1': { image: { rows: 16, columns: 16, pixelRepresentation: 1, pattern: 'noise' } },
  'jpeg-lossless': { image: { rows: 16, columns: 16, photometric: 'RGB', frames: 3, pattern: 'noise' } },
  'jpeg-ls-lossless': { image: { rows: 16, columns: 16, bitsStored: 12, pattern: 'noise' } },
  'jpeg-ls-near-lossless': { image: { rows: 16, columns: 16, photometric: 'RGB' } },
  rle: { image: { rows: 16, columns: 16, pixelRepresentation: 1, frames: 3, pattern: 'noise' } },
  'jpeg2000-lossless': {
    image: { rows: 16, columns: 16, bitsStored: 12, pixelRepresentation: 1, pattern: 'noise' },
  },
  jpeg2000: { image: { rows: 16, columns: 16, bitsAllocated: 8 } },
};

/** dcm2pnm reads native pixel data; compressed files are decoded first (dcmtk for JPEG, JPEG-LS, RLE). */
const DECODERS: Partial<Record<TransferSyntaxTarget, [string, ...string[]]>> = {
  'jpeg-baseline': ['dcmdjpeg'],
  'jpeg-extended': ['dcmdjpeg'],
  'jpeg-lossless-sv1': ['dcmdjpeg'],
  'jpeg-lossless': ['dcmdjpeg'],
  'jpeg-ls-lossless': ['dcmdjpls'],
  'jpeg-ls-near-lossless': ['dcmdjpls'],
  rle: ['dcmdrle'],
  'jpeg2000-lossless': ['gdcmconv', '--raw'], // dcmtk has no JPEG 2000 codec
  jpeg2000: ['gdcmconv', '--raw'],
};

/** The Pixel Data values as dcmdump lists them in full (hex words or bytes). */
async function pixelDataDump(path: string): Promise<string> {
  const { stdout } = await dcmdump(path, '+L', '+P', 'PixelData');
  return stdout.replace(/^\(7fe0,0010\) O[BW] /, '').replace(/\s*#.*$/s, '');
}

async function decode(path: string, target: TransferSyntaxTarget): Promise<string> {
  const decoder = DECODERS[target];
  if (!decoder) return path;
  const [tool, ...options] = decoder;
  const raw = `${path}.raw.dcm`;
  await execFile(tool, [...options, path, raw]);
  return raw;
}

describe('transfer syntax conversions', () => {
  for (const [target, spec] of Object.entries(CONVERSION_SOURCES) as [TransferSyntaxTarget, InstanceSpec][]) {
    it(`${target} (${TARGETS[target].transferSyntaxUID})`, async (t) => {
      const decoder = DECODERS[target]?.[0];
      const tools = ['dcmdump', 'dcmconv', 'dcm2pnm', ...toolsFor(target), ...(decoder ? [decoder] : [])];
      if (!requireTools(t, ...tools)) return;
      assert.equal(unsupportedReason(target, spec.image ?? DEFAULT_IMAGE), undefined);
      const built = buildInstance(spec);
      const input = join(dir, `ts-${target}-in.dcm`);
      const output = join(dir, `ts-${target}.dcm`);
      await writeFile(input, built.bytes);
      const result = await convertTransferSyntax(input, output, target);
      assert.deepEqual(result, {
        transferSyntaxUID: TARGETS[target].transferSyntaxUID,
        sopInstanceUID: built.sopInstanceUID,
      });
      const { values } = await dumpClean(output);
      assert.equal(values.get('SOPInstanceUID'), built.sopInstanceUID);
      assert.equal(values.get('TransferSyntaxUID'), TARGETS[target].transferSyntaxUID);

      if (!target.includes('jpeg') && target !== 'rle') {
        // Uncompressed syntaxes: converting back gives the same data set (with defined-length sequences).
        const back = join(dir, `ts-${target}-back.dcm`);
        await execFile('dcmconv', ['+te', output, back]);
        const { bytes: definedLengths } = buildInstance({ ...withSequenceLengths(spec, false), ...built });
        assert.ok(dataset(await readFile(back)).equals(dataset(definedLengths)));
      }
      if (!spec.image) return;
      const frames = spec.image.frames ?? 1;
      const bits =
        spec.image.photometric === 'RGB'
          ? undefined
          : (spec.image.bitsStored ?? spec.image.bitsAllocated ?? 16);
      const decoded = await decode(output, target);
      if (target === 'jpeg2000-lossless') {
        // gdcm codes 12-bit data with 16-bit J2K precision and its decoder then writes BitsStored 16, which
        // changes the rendering: compare the stored values instead.
        const original = await pixelDataDump(input);
        assert.ok(original.length > 1000);
        assert.equal(await pixelDataDump(decoded), original);
        return;
      }
      for (let frame = 1; frame <= frames; frame++) {
        const expected = await render(input, frame, bits);
        const actual = await render(decoded, frame, bits);
        assert.deepEqual(
          [actual.width, actual.height, actual.channels],
          [expected.width, expected.height, expected.channels],
        );
        if (TARGETS[target].lossy) {
          const error = meanAbsDifference(actual.samples, expected.samples) / actual.maxval;
          assert.ok(error < 0.05, `frame ${frame}: mean error ${error}`);
        } else {
          assert.deepEqual(actual.samples, expected.samples, `frame ${frame} pixels`);
        }
      }
    });
  }
});

describe('fixtures', () => {
  it('makeTransferSyntaxSet writes one readable file per supported target', async (t) => {
    const tools = Object.keys(TARGETS).flatMap((target) => toolsFor(target as TransferSyntaxTarget));
    if (!requireTools(t, ...tools)) return;
    const set16 = await makeTransferSyntaxSet(dir, { image: { rows: 8, columns: 8 } }, [
      'explicit-le',
      'jpeg-baseline',
    ]);
    assert.deepEqual(set16.skipped, [{ target: 'jpeg-baseline', reason: 'baseline JPEG is 8-bit only' }]);
    assert.equal(set16.files[0]?.transferSyntaxUID, '1.2.840.10008.1.2.1');
    const setDir = await makeTempDir('ts-set-');
    try {
      const set = await makeTransferSyntaxSet(setDir);
      assert.deepEqual(set.skipped, []);
      assert.equal(set.files.length, Object.keys(TARGETS).length);
      assert.equal(new Set(set.files.map((f) => f.sopInstanceUID)).size, set.files.length);
      assert.equal(new Set(set.files.map((f) => f.studyInstanceUID)).size, 1);
      for (const file of set.files) {
        assert.equal(file.transferSyntaxUID, TARGETS[file.target].transferSyntaxUID);
        assert.equal((await readFileMeta(file.path))['00020003'], file.sopInstanceUID);
      }
    } finally {
      await removeDir(setDir);
    }
  });

  it('makeFixtureDir writes all kinds into one study', async (t) => {
    const fixtures = await makeFixtureDir();
    try {
      const files = Object.values(fixtures.files);
      assert.equal(files.length, 13);
      assert.equal(new Set(files.map((f) => f.studyInstanceUID)).size, 1);
      if (!requireTools(t, 'dcmdump')) return;
      for (const file of files) await dumpClean(file.path);
    } finally {
      await fixtures.cleanup();
    }
  });

  it('rejects impossible specs', () => {
    assert.throws(() =>
      buildInstance({ image: { rows: 2, columns: 2, photometric: 'RGB', pixelRepresentation: 1 } }),
    );
    assert.throws(() => buildInstance({ image: { rows: 2, columns: 2, bitsAllocated: 8, bitsStored: 12 } }));
    assert.throws(() => buildInstance({ rawText: { NoSuchKeyword: Buffer.from('x') } }), /unknown keyword/);
  });
});
