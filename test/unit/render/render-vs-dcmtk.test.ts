/**
 * The pixel pipeline (src/render) against an outside reference: every fixture kind is rendered here to PNG
 * (and JPEG) and by dcmtk (dcm2pnm; dcmj2pnm/dcml2pnm for JPEG/JPEG-LS input; JPEG 2000 decompressed with
 * gdcmconv --raw first) with the same VOI selection (+Wi 1 first window, +Wl 1 first VOI LUT, +Wm
 * min-max, +Ww c w explicit window with +Wfl/+Wfs), both decoded to raw pixels with sharp and compared by
 * mean absolute difference (0..255 scale).
 *
 * Thresholds (stated per comparison):
 * - PNG of monochrome, RGB and palette images, lossless or lossy sources: mean <= 0.25 and no pixel off by
 *   more than 1 (the arithmetic is the same as dcmtk's; a pixel may land on the other side of a truncation).
 *   Lossy sources are decoded here by the dcmjs-codecs decoders and there by dcmtk's/gdcm's, so the same
 *   limit also checks the decoders agree.
 * - PNG of YBR_FULL/YBR_FULL_422: mean <= 1.5, max <= 3. dcmtk converts with a chroma offset of 127.5
 *   (0.701 * 255 instead of 1.402 * 128) and truncates, this pipeline uses 128 and rounds as PS3.3 C.7.6.3.1.2
 *   and JFIF do; against the generator's original RGB this pipeline must be closer than dcmtk.
 * - JPEG output (quality 90), decoded: mean <= 3 against dcmtk's PNG.
 * - MONOCHROME1 through a VOI LUT: mean <= 0.75, max <= 1; dcmtk's inverted VOI LUT output spans 254 levels
 *   (its darkest value is 1), here exactly 255 minus the MONOCHROME2 output.
 * LINEAR_EXACT, which dcmtk 3.6.7 does not implement, is compared as the LINEAR window it equals:
 * LINEAR_EXACT(c, w) = LINEAR(c + 0.5, w + 1) (PS3.3 C.11.2.1.2.1 and C.11.2.1.3.2).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { renderFrame, type RenderRequest } from '../../../src/render/render.js';
import { execFile, requireTools, unsupportedReason, type TransferSyntaxTarget } from '../../helpers/dcmtk.js';
import {
  generateFrame,
  paletteLuts,
  type ExtraElement,
  type ImageSpec,
  type InstanceSpec,
} from '../../helpers/dicom-generator.js';
import { makeTempDir, makeTransferSyntaxSet, removeDir, writeInstance } from '../../helpers/fixtures.js';
import {
  dcmtkRender,
  decodeImage,
  loadInstance,
  maxAbsoluteDifference,
  meanAbsoluteDifference,
  type RawImage,
} from './render-fixtures.js';

const TOOLS = ['dcm2pnm', 'dcmj2pnm', 'dcml2pnm', 'gdcmconv', 'dcmcjpeg', 'dcmcjpls', 'dcmcrle'];

/** Mean and max absolute difference limits, see the file comment. */
const EXACT = { mean: 0.25, max: 1 };
const YBR = { mean: 1.5, max: 3 };
const JPEG_OUTPUT = { mean: 3, max: 255 };
/** MONOCHROME1 through a VOI LUT: dcmtk scales the inverted output by 254/256 (see the case). */
const MONOCHROME1_VOI_LUT = { mean: 0.75, max: 1 };

type Limits = { mean: number; max: number };

let dir: string;
before(async () => {
  dir = await makeTempDir('render-vs-dcmtk-');
});
after(async () => {
  await removeDir(dir);
});

/** dcmtk's rendering of a file, whatever its transfer syntax. */
async function reference(
  path: string,
  target: TransferSyntaxTarget | undefined,
  options: string[],
): Promise<RawImage> {
  if (target?.startsWith('jpeg2000')) {
    const raw = `${path}.raw.dcm`;
    await execFile('gdcmconv', ['--raw', path, raw]);
    return dcmtkRender('dcm2pnm', raw, options);
  }
  if (target?.startsWith('jpeg-ls')) return dcmtkRender('dcml2pnm', path, options);
  if (target?.startsWith('jpeg')) return dcmtkRender('dcmj2pnm', path, options);
  return dcmtkRender('dcm2pnm', path, options);
}

interface Comparison {
  /** 0-based frame. */
  frame?: number;
  /** dcm2pnm VOI options. */
  dcmtk: string[];
  window?: RenderRequest['window'];
  target?: TransferSyntaxTarget;
  limits?: Limits;
  mediaType?: 'image/png' | 'image/jpeg';
}

async function compare(
  t: TestContext,
  path: string,
  c: Comparison,
): Promise<{ mean: number; max: number; ours: RawImage; ref: RawImage }> {
  const frameOptions = c.frame !== undefined ? ['+F', String(c.frame + 1)] : [];
  const ref = await reference(path, c.target, [...c.dcmtk, ...frameOptions]);
  const instance = await loadInstance(path);
  const { bytes, width, height } = await renderFrame({
    ...instance.request(c.frame ?? 0),
    window: c.window,
    mediaType: c.mediaType ?? 'image/png',
  });
  const ours = await decodeImage(bytes);
  assert.equal(ours.width, width);
  assert.equal(ours.height, height);
  const mean = meanAbsoluteDifference(ours, ref);
  const max = maxAbsoluteDifference(ours, ref);
  const limits = c.limits ?? EXACT;
  t.diagnostic(`mean ${mean.toFixed(3)} (limit ${limits.mean}), max ${max} (limit ${limits.max})`);
  assert.ok(mean <= limits.mean, `mean absolute difference ${mean} > ${limits.mean}`);
  assert.ok(max <= limits.max, `max absolute difference ${max} > ${limits.max}`);
  return { mean, max, ours, ref };
}

const SIZE = { rows: 48, columns: 64 };

// ---------------------------------------------------------------------------------------------------------

describe('native images against dcm2pnm', () => {
  const cases: {
    name: string;
    image: ImageSpec;
    dcmtk: string[];
    frame?: number;
    extra?: ExtraElement[];
    limits?: Limits;
  }[] = [
    {
      name: 'MONOCHROME2 8-bit, min-max',
      image: { ...SIZE, bitsAllocated: 8, pattern: 'noise' },
      dcmtk: ['+Wm'],
    },
    {
      name: 'MONOCHROME2 8-bit signed with rescale, window',
      image: {
        ...SIZE,
        bitsAllocated: 8,
        pixelRepresentation: 1,
        rescaleSlope: 2,
        rescaleIntercept: 10,
        windowCenter: 0,
        windowWidth: 200,
        pattern: 'noise',
      },
      dcmtk: ['+Wi', '1'],
    },
    {
      name: 'MONOCHROME2 12 in 16 unsigned with rescale, window',
      image: {
        ...SIZE,
        bitsStored: 12,
        rescaleSlope: 1,
        rescaleIntercept: -1024,
        windowCenter: 300,
        windowWidth: 1500,
        pattern: 'noise',
      },
      dcmtk: ['+Wi', '1'],
    },
    {
      name: 'MONOCHROME2 12 in 16 signed with rescale, window',
      image: {
        ...SIZE,
        bitsStored: 12,
        pixelRepresentation: 1,
        rescaleIntercept: -1024,
        windowCenter: -600,
        windowWidth: 1500,
        pattern: 'noise',
      },
      dcmtk: ['+Wi', '1'],
    },
    {
      name: 'MONOCHROME2 16-bit unsigned, window',
      image: { ...SIZE, windowCenter: 30000, windowWidth: 40000, pattern: 'noise' },
      dcmtk: ['+Wi', '1'],
    },
    {
      name: 'MONOCHROME2 16-bit signed with rescale, window',
      image: {
        ...SIZE,
        pixelRepresentation: 1,
        rescaleSlope: 0.5,
        rescaleIntercept: 100,
        windowCenter: 0,
        windowWidth: 20000,
        pattern: 'noise',
      },
      dcmtk: ['+Wi', '1'],
    },
    {
      name: 'MONOCHROME2 16-bit signed, min-max',
      image: { ...SIZE, pixelRepresentation: 1, rescaleIntercept: -1024, pattern: 'gradient' },
      dcmtk: ['+Wm'],
    },
    {
      name: 'MONOCHROME1 12 in 16, window',
      image: {
        ...SIZE,
        photometric: 'MONOCHROME1',
        bitsStored: 12,
        windowCenter: 1500,
        windowWidth: 2000,
        pattern: 'noise',
      },
      dcmtk: ['+Wi', '1'],
    },
    {
      name: 'MONOCHROME1 12 in 16, min-max',
      image: { ...SIZE, photometric: 'MONOCHROME1', bitsStored: 12, pattern: 'gradient' },
      dcmtk: ['+Wm'],
    },
    {
      // dcmtk maps an inverted VOI LUT onto 254 steps (output range high - low + 1 = 0 - 255 + 1), so its
      // darkest value is 1 and it is about half a level brighter; here it is exactly 255 minus the
      // MONOCHROME2 rendering.
      name: 'MONOCHROME1 with a VOI LUT Sequence',
      image: { ...SIZE, photometric: 'MONOCHROME1', bitsStored: 12, voiLutSequence: true, pattern: 'noise' },
      dcmtk: ['+Wl', '1'],
      limits: MONOCHROME1_VOI_LUT,
    },
    {
      name: 'several window values (the first is used)',
      image: {
        ...SIZE,
        bitsStored: 12,
        windowCenter: [700, 2000, 3000],
        windowWidth: [900, 400, 100],
        pattern: 'noise',
      },
      dcmtk: ['+Wi', '1'],
    },
    {
      name: 'VOI LUT Sequence (12-bit unsigned, LUT as bulk data)',
      image: { ...SIZE, bitsStored: 12, voiLutSequence: true, pattern: 'noise' },
      dcmtk: ['+Wl', '1'],
    },
    {
      name: 'VOI LUT Sequence after rescale to negative values (signed first mapped value)',
      image: {
        ...SIZE,
        bitsStored: 12,
        pixelRepresentation: 1,
        rescaleIntercept: -1024,
        voiLutSequence: true,
        pattern: 'noise',
      },
      dcmtk: ['+Wl', '1'],
    },
    {
      name: 'no VOI at all (min-max of the rescaled values)',
      image: {
        ...SIZE,
        bitsStored: 12,
        pixelRepresentation: 1,
        rescaleSlope: 3,
        rescaleIntercept: -2000,
        pattern: 'noise',
      },
      dcmtk: ['+Wm'],
    },
    {
      name: 'VOI LUT Function SIGMOID from the dataset',
      image: { ...SIZE, bitsStored: 12, windowCenter: 2000, windowWidth: 1500, pattern: 'noise' },
      extra: [{ tag: 0x00281056, vr: 'CS', value: 'SIGMOID' }],
      dcmtk: ['+Wi', '1'],
    },
    {
      name: 'VOI LUT Function LINEAR_EXACT from the dataset (as LINEAR c+0.5, w+1)',
      image: { ...SIZE, bitsStored: 12, windowCenter: 2000, windowWidth: 1500, pattern: 'noise' },
      extra: [{ tag: 0x00281056, vr: 'CS', value: 'LINEAR_EXACT' }],
      dcmtk: ['+Ww', '2000.5', '1501'],
    },
    {
      name: 'multi-frame 8-bit, frame 4 of 5, min-max',
      image: { ...SIZE, bitsAllocated: 8, frames: 5, pattern: 'gradient' },
      dcmtk: ['+Wm'],
      frame: 3,
    },
    {
      name: 'multi-frame 16-bit, frame 2 of 3, window',
      image: { ...SIZE, bitsStored: 12, frames: 3, windowCenter: 2048, windowWidth: 3000, pattern: 'noise' },
      dcmtk: ['+Wi', '1'],
      frame: 1,
    },
    {
      name: 'RGB planar configuration 0',
      image: { ...SIZE, photometric: 'RGB', pattern: 'noise' },
      dcmtk: [],
    },
    {
      name: 'RGB planar configuration 1',
      image: { ...SIZE, photometric: 'RGB', planarConfiguration: 1, pattern: 'noise' },
      dcmtk: [],
    },
    {
      name: 'RGB 16-bit',
      image: { ...SIZE, photometric: 'RGB', bitsAllocated: 16, bitsStored: 12, pattern: 'noise' },
      dcmtk: [],
    },
    {
      name: 'YBR_FULL',
      image: { ...SIZE, photometric: 'YBR_FULL', pattern: 'noise' },
      dcmtk: [],
      limits: YBR,
    },
    {
      name: 'YBR_FULL planar configuration 1',
      image: { ...SIZE, photometric: 'YBR_FULL', planarConfiguration: 1, pattern: 'noise' },
      dcmtk: [],
      limits: YBR,
    },
    {
      name: 'YBR_FULL_422',
      image: { ...SIZE, photometric: 'YBR_FULL_422', pattern: 'noise' },
      dcmtk: [],
      limits: YBR,
    },
    {
      name: 'PALETTE COLOR, 16-bit LUT entries (12-bit indices, LUTs as bulk data)',
      image: { ...SIZE, photometric: 'PALETTE COLOR', bitsAllocated: 16, bitsStored: 12, pattern: 'noise' },
      dcmtk: [],
    },
    {
      name: 'PALETTE COLOR, 8-bit LUT entries (inline LUTs)',
      image: { ...SIZE, photometric: 'PALETTE COLOR', bitsAllocated: 8, paletteLutBits: 8, pattern: 'noise' },
      dcmtk: [],
    },
    {
      name: 'PALETTE COLOR, 8-bit LUT entries with 16-bit indices',
      image: {
        ...SIZE,
        photometric: 'PALETTE COLOR',
        bitsAllocated: 16,
        bitsStored: 8,
        paletteLutBits: 8,
        pattern: 'noise',
      },
      dcmtk: [],
    },
  ];

  for (const c of cases) {
    it(c.name, async (t) => {
      if (!requireTools(t, 'dcm2pnm')) return;
      const { path } = await writeInstance(dir, { image: c.image, extra: c.extra });
      await compare(t, path, { dcmtk: c.dcmtk, frame: c.frame, limits: c.limits });
    });
  }

  it('YBR_FULL and YBR_FULL_422 are closer to the original RGB than dcmtk', async (t) => {
    if (!requireTools(t, 'dcm2pnm')) return;
    for (const photometric of ['YBR_FULL', 'YBR_FULL_422'] as const) {
      const image: ImageSpec = { ...SIZE, photometric, pattern: 'gradient' };
      const { path } = await writeInstance(dir, { image });
      const { ours, ref } = await compare(t, path, { dcmtk: [], limits: YBR });
      const truth: RawImage = {
        data: generateFrame({ ...image, photometric: 'RGB' }, 0),
        width: 64,
        height: 48,
        channels: 3,
      };
      const oursError = meanAbsoluteDifference(ours, truth);
      const dcmtkError = meanAbsoluteDifference(ref, truth);
      t.diagnostic(
        `${photometric}: ours vs original RGB ${oursError.toFixed(3)}, dcmtk vs original RGB ${dcmtkError.toFixed(3)}`,
      );
      assert.ok(oursError < dcmtkError, `${oursError} >= ${dcmtkError}`);
      // YBR_FULL only loses the rounding of the generator's conversion; YBR_FULL_422 also the chroma of
      // every second pixel.
      assert.ok(oursError <= (photometric === 'YBR_FULL' ? 0.75 : 3), `round trip error ${oursError}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

/** 16-bit words of a list of values, little endian. */
function words(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16LE(v & 0xffff, i * 2));
  return b;
}

describe('LUT descriptors against dcm2pnm', () => {
  it('Modality LUT Sequence (4096 entries, 16 bits, as bulk data), then a window', async (t) => {
    if (!requireTools(t, 'dcm2pnm')) return;
    const lut = Array.from({ length: 4096 }, (_, i) => Math.round(40000 * (i / 4095) ** 2));
    const spec: InstanceSpec = {
      image: { ...SIZE, bitsStored: 12, windowCenter: 12000, windowWidth: 20000, pattern: 'noise' },
      extra: [
        {
          tag: 0x00283000,
          vr: 'SQ',
          value: [
            [
              { tag: 0x00283002, vr: 'US', value: [4096, 0, 16] },
              { tag: 0x00283004, vr: 'LO', value: 'HU' },
              { tag: 0x00283006, vr: 'OW', value: words(lut) },
            ],
          ],
        },
      ],
    };
    const { path } = await writeInstance(dir, { ...spec, sopClassUID: '1.2.840.10008.5.1.4.1.1.7' });
    await compare(t, path, { dcmtk: ['+Wi', '1'] });
  });

  it('Modality LUT Sequence with a first mapped value, then min-max', async (t) => {
    if (!requireTools(t, 'dcm2pnm')) return;
    const lut = Array.from({ length: 200 }, (_, i) => 1000 + ((i * 37) % 200) * 5);
    const { path } = await writeInstance(dir, {
      sopClassUID: '1.2.840.10008.5.1.4.1.1.7',
      image: { ...SIZE, bitsAllocated: 8, pattern: 'noise' },
      extra: [
        {
          tag: 0x00283000,
          vr: 'SQ',
          value: [
            [
              { tag: 0x00283002, vr: 'US', value: [200, 30, 16] },
              { tag: 0x00283006, vr: 'OW', value: words(lut) },
            ],
          ],
        },
      ],
    });
    await compare(t, path, { dcmtk: ['+Wm'] });
  });

  it('palette with a first mapped value and fewer entries than indices (clamped to the first/last entry)', async (t) => {
    if (!requireTools(t, 'dcm2pnm')) return;
    const entries = 200;
    const ramp = (f: (x: number) => number) =>
      Array.from({ length: entries }, (_, i) => Math.round(65535 * f(i / (entries - 1))));
    const luts = [ramp((x) => x), ramp((x) => 1 - x), ramp((x) => Math.abs(Math.sin(6 * x)))];
    const extra: ExtraElement[] = [];
    luts.forEach((lut, c) => {
      extra.push({ tag: 0x00281101 + c, vr: 'US', value: [entries, 30, 16] });
      extra.push({ tag: 0x00281201 + c, vr: 'OW', value: words(lut) });
    });
    const { path } = await writeInstance(dir, {
      image: { ...SIZE, photometric: 'PALETTE COLOR', bitsAllocated: 8, pattern: 'noise' },
      extra,
    });
    await compare(t, path, { dcmtk: [] });
  });

  it('palette of 65536 entries (number of entries 0) for 16-bit indices', async (t) => {
    if (!requireTools(t, 'dcm2pnm')) return;
    const ramp = (f: (x: number) => number) =>
      Array.from({ length: 65536 }, (_, i) => Math.round(65535 * f(i / 65535)));
    const luts = [ramp((x) => x), ramp((x) => (x * 7) % 1), ramp((x) => 1 - x)];
    const extra: ExtraElement[] = [];
    luts.forEach((lut, c) => {
      extra.push({ tag: 0x00281101 + c, vr: 'US', value: [0, 0, 16] });
      extra.push({ tag: 0x00281201 + c, vr: 'OW', value: words(lut) });
    });
    // The generator's 16-bit palette image has indices 0..4095; shift them up with a pixel data of our own.
    const image: ImageSpec = {
      ...SIZE,
      photometric: 'PALETTE COLOR',
      bitsAllocated: 16,
      bitsStored: 16,
      pattern: 'noise',
    };
    const pixels = generateFrame(image, 0);
    for (let i = 0; i < pixels.length; i += 2)
      pixels.writeUInt16LE((pixels.readUInt16LE(i) * 16 + i) & 0xffff, i);
    extra.push({ tag: 0x7fe00010, vr: 'OW', value: pixels });
    const { path } = await writeInstance(dir, { image, extra });
    await compare(t, path, { dcmtk: [] });
    // The generator's own LUTs are not used here; make sure the override took.
    assert.equal(paletteLuts(image).entries, 4096);
  });
});

describe('other encodings against dcm2pnm', () => {
  it('Explicit VR Big Endian with LUTs as bulk data (VOI LUT, 16-bit palette)', async (t) => {
    if (!requireTools(t, 'dcm2pnm', 'dcmconv')) return;
    for (const [image, dcmtk] of [
      [{ ...SIZE, bitsStored: 12, voiLutSequence: true, pattern: 'noise' }, ['+Wl', '1']],
      [{ ...SIZE, photometric: 'PALETTE COLOR', bitsAllocated: 16, bitsStored: 12, pattern: 'noise' }, []],
    ] as [ImageSpec, string[]][]) {
      const { path } = await writeInstance(dir, { image });
      const bigEndian = `${path}.be.dcm`;
      await execFile('dcmconv', ['+tb', path, bigEndian]);
      const instance = await loadInstance(bigEndian);
      assert.equal(instance.transferSyntaxUid, '1.2.840.10008.1.2.2');
      await compare(t, bigEndian, { dcmtk, target: 'explicit-be' });
    }
  });

  it('1-bit MONOCHROME2', async (t) => {
    if (!requireTools(t, 'dcm2pnm')) return;
    const packed = Buffer.alloc((SIZE.rows * SIZE.columns) / 8);
    for (let i = 0; i < packed.length; i++) packed[i] = (i * 73) & 0xff;
    const { path } = await writeInstance(dir, {
      image: { ...SIZE, bitsAllocated: 8 },
      extra: [
        { tag: 0x00280100, vr: 'US', value: 1 },
        { tag: 0x00280101, vr: 'US', value: 1 },
        { tag: 0x00280102, vr: 'US', value: 0 },
        { tag: 0x7fe00010, vr: 'OB', value: packed },
      ],
    });
    await compare(t, path, { dcmtk: ['+Wm'] });
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('window override against dcm2pnm +Ww', () => {
  const image: ImageSpec = {
    ...SIZE,
    bitsStored: 12,
    pixelRepresentation: 1,
    rescaleIntercept: -1024,
    windowCenter: 40,
    windowWidth: 400,
    pattern: 'noise',
  };
  const cases: { name: string; window: NonNullable<RenderRequest['window']>; dcmtk: string[] }[] = [
    {
      name: 'linear',
      window: { center: -300, width: 1200, fn: 'linear' },
      dcmtk: ['+Ww', '-300', '1200', '+Wfl'],
    },
    {
      name: 'linear, width 1 (a threshold)',
      window: { center: 100, width: 1, fn: 'linear' },
      dcmtk: ['+Ww', '100', '1', '+Wfl'],
    },
    {
      name: 'sigmoid',
      window: { center: -300, width: 1200, fn: 'sigmoid' },
      dcmtk: ['+Ww', '-300', '1200', '+Wfs'],
    },
    {
      name: 'linear-exact (as LINEAR c+0.5, w+1)',
      window: { center: -300, width: 1200, fn: 'linear-exact' },
      dcmtk: ['+Ww', '-299.5', '1201', '+Wfl'],
    },
  ];
  for (const c of cases) {
    it(c.name, async (t) => {
      if (!requireTools(t, 'dcm2pnm')) return;
      const { path } = await writeInstance(dir, { image });
      await compare(t, path, { dcmtk: c.dcmtk, window: c.window });
    });
  }

  it('overrides the dataset window of a MONOCHROME1 image', async (t) => {
    if (!requireTools(t, 'dcm2pnm')) return;
    const { path } = await writeInstance(dir, {
      image: {
        ...SIZE,
        photometric: 'MONOCHROME1',
        bitsStored: 12,
        windowCenter: 100,
        windowWidth: 100,
        pattern: 'noise',
      },
    });
    await compare(t, path, {
      dcmtk: ['+Ww', '2000', '3000'],
      window: { center: 2000, width: 3000, fn: 'linear' },
    });
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('JPEG output against dcm2pnm', () => {
  for (const [name, image, dcmtk] of [
    [
      'MONOCHROME2 12-bit, window',
      { ...SIZE, bitsStored: 12, windowCenter: 2048, windowWidth: 4096 },
      ['+Wi', '1'],
    ],
    ['RGB', { ...SIZE, photometric: 'RGB' }, []],
    ['PALETTE COLOR', { ...SIZE, photometric: 'PALETTE COLOR' }, []],
  ] as [string, ImageSpec, string[]][]) {
    it(`${name} (quality 90, decoded)`, async (t) => {
      if (!requireTools(t, 'dcm2pnm')) return;
      const { path } = await writeInstance(dir, { image });
      await compare(t, path, { dcmtk, mediaType: 'image/jpeg', limits: JPEG_OUTPUT });
    });
  }
});

// ---------------------------------------------------------------------------------------------------------

describe('every transfer syntax the helpers produce, against dcmtk', () => {
  const bases: { name: string; image: ImageSpec; dcmtk: string[]; limits?: Limits }[] = [
    {
      name: 'MONOCHROME2 8-bit min-max',
      image: { ...SIZE, bitsAllocated: 8, pattern: 'gradient' },
      dcmtk: ['+Wm'],
    },
    {
      name: 'MONOCHROME2 12-bit signed, rescale, window',
      image: {
        ...SIZE,
        bitsStored: 12,
        pixelRepresentation: 1,
        rescaleIntercept: -1024,
        windowCenter: -200,
        windowWidth: 1500,
        pattern: 'gradient',
      },
      dcmtk: ['+Wi', '1'],
    },
    {
      name: 'MONOCHROME2 12-bit unsigned, window',
      image: { ...SIZE, bitsStored: 12, windowCenter: 2000, windowWidth: 3000, pattern: 'gradient' },
      dcmtk: ['+Wi', '1'],
    },
    {
      name: 'MONOCHROME2 16-bit unsigned, window',
      image: { ...SIZE, windowCenter: 30000, windowWidth: 50000, pattern: 'gradient' },
      dcmtk: ['+Wi', '1'],
    },
    {
      name: 'MONOCHROME2 12-bit with a VOI LUT Sequence',
      image: { ...SIZE, bitsStored: 12, voiLutSequence: true, pattern: 'gradient' },
      dcmtk: ['+Wl', '1'],
    },
    {
      name: 'MONOCHROME1 12-bit min-max',
      image: { ...SIZE, photometric: 'MONOCHROME1', bitsStored: 12, pattern: 'gradient' },
      dcmtk: ['+Wm'],
    },
    { name: 'RGB', image: { ...SIZE, photometric: 'RGB', pattern: 'gradient' }, dcmtk: [] },
    {
      name: 'RGB planar 1',
      image: { ...SIZE, photometric: 'RGB', planarConfiguration: 1, pattern: 'gradient' },
      dcmtk: [],
    },
    {
      name: 'YBR_FULL',
      image: { ...SIZE, photometric: 'YBR_FULL', pattern: 'gradient' },
      dcmtk: [],
      limits: YBR,
    },
    {
      name: 'YBR_FULL_422',
      image: { ...SIZE, photometric: 'YBR_FULL_422', pattern: 'gradient' },
      dcmtk: [],
      limits: YBR,
    },
    {
      name: 'PALETTE COLOR 8-bit',
      image: { ...SIZE, photometric: 'PALETTE COLOR', bitsAllocated: 8, pattern: 'gradient' },
      dcmtk: [],
    },
  ];

  for (const base of bases) {
    it(base.name, async (t) => {
      if (!requireTools(t, ...TOOLS)) return;
      const sub = join(dir, base.name.replace(/\W+/g, '-'));
      await execFile('mkdir', ['-p', sub]);
      const set = await makeTransferSyntaxSet(sub, { image: base.image });
      for (const skipped of set.skipped) t.diagnostic(`${skipped.target}: skipped (${skipped.reason})`);
      assert.ok(set.files.length >= 4, 'at least the native syntaxes');
      for (const file of set.files) {
        await t.test(file.target, async (tt) => {
          assert.equal(unsupportedReason(file.target, base.image), undefined);
          await compare(tt, file.path, { dcmtk: base.dcmtk, target: file.target, limits: base.limits });
        });
      }
    });
  }
});
