/**
 * The render API (src/render/render.ts) beyond pixel values: viewport cropping, flipping and scaling (PS3.18
 * 8.3.5.1.3), JPEG quality, window overrides, output channels, animated GIF, enhanced multi-frame
 * functional groups, pixel padding, error handling (corrupt codestreams give a RenderError and the codecs
 * keep working), and isRenderable.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { DicomJsonDataset } from '../../../src/dicom/dicom-json.js';
import {
  isRenderable,
  renderAnimatedGif,
  renderFrame,
  RenderError,
  type RenderRequest,
} from '../../../src/render/render.js';
import { convertTransferSyntax, requireTools, type TransferSyntaxTarget } from '../../helpers/dcmtk.js';
import {
  buildInstance,
  generateFrame,
  type ImageSpec,
  type InstanceSpec,
} from '../../helpers/dicom-generator.js';
import { makeTempDir, removeDir, writeInstance } from '../../helpers/fixtures.js';
import {
  decodeImage,
  loadInstance,
  loadInstanceBytes,
  meanAbsoluteDifference,
  type RawImage,
} from './render-fixtures.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('render-api-');
});
after(async () => {
  await removeDir(dir);
});

function load(spec: InstanceSpec) {
  return loadInstanceBytes(buildInstance(spec).bytes);
}

/** A 64x48 16-bit image whose pixel (x, y) shows x and y: value x * 64 + y, window covering 0..4095. */
function coordinateImage(): ReturnType<typeof load> {
  const columns = 64;
  const rows = 48;
  const pixels = Buffer.alloc(rows * columns * 2);
  for (let y = 0; y < rows; y++)
    for (let x = 0; x < columns; x++) pixels.writeUInt16LE(x * 64 + y, (y * columns + x) * 2);
  return load({
    image: { rows, columns, bitsStored: 12, windowCenter: 2048, windowWidth: 4096 },
    extra: [{ tag: 0x7fe00010, vr: 'OW', value: pixels }],
  });
}

async function raw(
  request: RenderRequest,
): Promise<RawImage & { reported: { width: number; height: number } }> {
  const { bytes, width, height } = await renderFrame(request);
  return { ...(await decodeImage(bytes)), reported: { width, height } };
}

/** Pixels [left, left + width) x [top, top + height) of a one-channel raw image. */
function crop(image: RawImage, left: number, top: number, width: number, height: number): Buffer {
  const out = Buffer.alloc(width * height * image.channels);
  for (let y = 0; y < height; y++) {
    const start = ((top + y) * image.width + left) * image.channels;
    image.data.copy(out, y * width * image.channels, start, start + width * image.channels);
  }
  return out;
}

function flipX(data: Buffer, width: number, height: number): Buffer {
  const out = Buffer.alloc(data.length);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) out[y * width + x] = data[y * width + (width - 1 - x)]!;
  return out;
}

function flipY(data: Buffer, width: number, height: number): Buffer {
  const out = Buffer.alloc(data.length);
  for (let y = 0; y < height; y++) data.copy(out, y * width, (height - 1 - y) * width, (height - y) * width);
  return out;
}

// ---------------------------------------------------------------------------------------------------------

describe('viewport', () => {
  const instance = coordinateImage();
  const request = { ...instance.request(), mediaType: 'image/png' as const };

  it('renders the source size without a viewport', async () => {
    const image = await raw(request);
    assert.deepEqual([image.width, image.height, image.channels], [64, 48, 1]);
    assert.deepEqual(image.reported, { width: 64, height: 48 });
  });

  it('scales the whole image to fit, keeping the aspect ratio (down and up)', async () => {
    const cases: [number, number, number, number][] = [
      [32, 32, 32, 24],
      [100, 24, 32, 24],
      [128, 128, 128, 96],
      [640, 100, 133, 100],
      [1, 1, 1, 1],
    ];
    for (const [vw, vh, width, height] of cases) {
      const image = await raw({ ...request, viewport: { width: vw, height: vh } });
      assert.deepEqual([image.width, image.height], [width, height], `viewport ${vw}x${vh}`);
      assert.deepEqual(image.reported, { width, height });
    }
  });

  it('crops the source region (sx, sy, sw, sh) before scaling', async () => {
    const full = await raw(request);
    const region = await raw({
      ...request,
      viewport: { width: 20, height: 10, sx: 10, sy: 5, sw: 20, sh: 10 },
    });
    assert.deepEqual([region.width, region.height], [20, 10]);
    assert.ok(region.data.equals(crop(full, 10, 5, 20, 10)));
    const scaled = await raw({
      ...request,
      viewport: { width: 100, height: 100, sx: 10, sy: 5, sw: 20, sh: 10 },
    });
    assert.deepEqual([scaled.width, scaled.height], [100, 50]);
  });

  it('clips a region that runs past the right and bottom edges; defaults reach the edges', async () => {
    const full = await raw(request);
    const clipped = await raw({
      ...request,
      viewport: { width: 1000, height: 1000, sx: 50, sy: 40, sw: 100, sh: 100 },
    });
    // 14x8 region scaled to fit 1000x1000
    assert.deepEqual([clipped.width, clipped.height], [1000, 571]);
    const edge = await raw({ ...request, viewport: { width: 14, height: 8, sx: 50, sy: 40 } });
    assert.ok(edge.data.equals(crop(full, 50, 40, 14, 8)));
  });

  it('flips horizontally for a negative sw and vertically for a negative sh', async () => {
    const full = await raw(request);
    const region = crop(full, 8, 4, 16, 12);
    const h = await raw({ ...request, viewport: { width: 16, height: 12, sx: 8, sy: 4, sw: -16, sh: 12 } });
    assert.ok(h.data.equals(flipX(region, 16, 12)), 'horizontal flip');
    const v = await raw({ ...request, viewport: { width: 16, height: 12, sx: 8, sy: 4, sw: 16, sh: -12 } });
    assert.ok(v.data.equals(flipY(region, 16, 12)), 'vertical flip');
    const both = await raw({
      ...request,
      viewport: { width: 16, height: 12, sx: 8, sy: 4, sw: -16, sh: -12 },
    });
    assert.ok(both.data.equals(flipY(flipX(region, 16, 12), 16, 12)), 'both');
    // The pixel that shows x = 8 (value 8 * 64 + y) is now the rightmost.
    assert.equal(h.data[15], full.data[4 * 64 + 8]);
  });

  it('refuses a region without pixels of the image', async () => {
    for (const viewport of [
      { width: 10, height: 10, sx: 64, sy: 0 },
      { width: 10, height: 10, sx: 0, sy: 48 },
      { width: 10, height: 10, sx: 0, sy: 0, sw: 0, sh: 10 },
      { width: 0, height: 10 },
    ]) {
      await assert.rejects(renderFrame({ ...request, viewport }), (error: unknown) => {
        assert.ok(error instanceof RenderError);
        assert.equal(error.reason, 'invalid-parameter');
        return true;
      });
    }
  });

  it('applies the same viewport to colour images', async () => {
    const colour = load({ image: { rows: 48, columns: 64, photometric: 'RGB', pattern: 'noise' } });
    const image = await raw({
      ...colour.request(),
      mediaType: 'image/png',
      viewport: { width: 10, height: 10, sx: 1, sy: 2, sw: -5, sh: 5 },
    });
    assert.deepEqual([image.width, image.height, image.channels], [10, 10, 3]);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('encoding', () => {
  it('writes one channel for monochrome and three for colour, in PNG and JPEG', async () => {
    const mono = load({ image: { rows: 32, columns: 32 } });
    const colour = load({ image: { rows: 32, columns: 32, photometric: 'YBR_FULL' } });
    for (const mediaType of ['image/png', 'image/jpeg'] as const) {
      const m = await sharp((await renderFrame({ ...mono.request(), mediaType })).bytes).metadata();
      assert.equal(m.channels, 1, `${mediaType} monochrome`);
      assert.equal(m.format, mediaType === 'image/png' ? 'png' : 'jpeg');
      const c = await sharp((await renderFrame({ ...colour.request(), mediaType })).bytes).metadata();
      assert.equal(c.channels, 3, `${mediaType} colour`);
    }
  });

  it('makes smaller JPEGs at lower quality (default 90)', async () => {
    const instance = load({
      image: {
        rows: 128,
        columns: 128,
        bitsStored: 12,
        pattern: 'noise',
        windowCenter: 2048,
        windowWidth: 4096,
      },
    });
    const size = async (quality?: number) =>
      (await renderFrame({ ...instance.request(), mediaType: 'image/jpeg', quality })).bytes.length;
    const [q10, q50, q90, q100, dflt] = [
      await size(10),
      await size(50),
      await size(90),
      await size(100),
      await size(),
    ];
    assert.ok(q10 < q50 && q50 < q90 && q90 < q100, `${q10} ${q50} ${q90} ${q100}`);
    assert.equal(dflt, q90);
    // quality does not change PNG output
    const png = async (quality?: number) =>
      (await renderFrame({ ...instance.request(), mediaType: 'image/png', quality })).bytes;
    assert.ok((await png(10)).equals(await png()));
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('window override', () => {
  const instance = coordinateImage(); // values 0..4095, row-major x * 64 + y
  const render = async (window: RenderRequest['window']) =>
    (await raw({ ...instance.request(), mediaType: 'image/png', window })).data;

  it('linear, linear-exact and sigmoid give the PS3.3 C.11.2.1.2/3 curves', async () => {
    const c = 2000;
    const w = 1000;
    const value = (x: number, y: number) => x * 64 + y;
    const linear = await render({ center: c, width: w, fn: 'linear' });
    const exact = await render({ center: c, width: w, fn: 'linear-exact' });
    const sigmoid = await render({ center: c, width: w, fn: 'sigmoid' });
    for (let y = 0; y < 48; y += 7) {
      for (let x = 0; x < 64; x += 3) {
        const v = value(x, y);
        const i = y * 64 + x;
        const lin =
          v <= c - 0.5 - (w - 1) / 2
            ? 0
            : v > c - 0.5 + (w - 1) / 2
              ? 255
              : ((v - (c - 0.5)) / (w - 1) + 0.5) * 255;
        const ex = v <= c - w / 2 ? 0 : v > c + w / 2 ? 255 : ((v - c) / w + 0.5) * 255;
        const sg = 255 / (1 + Math.exp((-4 * (v - c)) / w));
        assert.ok(Math.abs(linear[i]! - lin) <= 1, `linear ${v}: ${linear[i]} vs ${lin}`);
        assert.ok(Math.abs(exact[i]! - ex) <= 1, `linear-exact ${v}: ${exact[i]} vs ${ex}`);
        assert.ok(Math.abs(sigmoid[i]! - sg) <= 1, `sigmoid ${v}: ${sigmoid[i]} vs ${sg}`);
      }
    }
    // linear-exact centres on c, linear on c - 0.5
    assert.notDeepEqual(linear, exact);
  });

  it('a linear width below 1 is a threshold at the center', async () => {
    const out = await render({ center: 2000.5, width: 0.25, fn: 'linear' });
    for (let i = 0; i < out.length; i++) {
      const x = i % 64;
      const y = Math.floor(i / 64);
      assert.equal(out[i], x * 64 + y <= 2000 ? 0 : 255);
    }
  });

  it('windows colour images only when asked', async () => {
    const colour = load({ image: { rows: 16, columns: 16, photometric: 'RGB', pattern: 'noise' } });
    const plain = await raw({ ...colour.request(), mediaType: 'image/png' });
    assert.ok(
      plain.data.equals(generateFrame({ rows: 16, columns: 16, photometric: 'RGB', pattern: 'noise' }, 0)),
    );
    const windowed = await raw({
      ...colour.request(),
      mediaType: 'image/png',
      window: { center: 128, width: 64, fn: 'linear' },
    });
    for (let i = 0; i < plain.data.length; i++) {
      const v = plain.data[i]!;
      if (v <= 96) assert.equal(windowed.data[i], 0);
      else if (v > 159) assert.equal(windowed.data[i], 255);
    }
  });

  it('refuses a window width of 0 or less', async () => {
    await assert.rejects(
      renderFrame({
        ...instance.request(),
        mediaType: 'image/png',
        window: { center: 1, width: 0, fn: 'sigmoid' },
      }),
      (error: unknown) => error instanceof RenderError && error.reason === 'invalid-parameter',
    );
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('frames and functional groups', () => {
  it('renders frame k of a multi-frame image with its own pixels', async () => {
    const image: ImageSpec = {
      rows: 16,
      columns: 16,
      frames: 4,
      bitsAllocated: 8,
      windowCenter: 127.5,
      windowWidth: 256,
    };
    const instance = load({ image });
    for (let k = 0; k < 4; k++) {
      const out = await raw({ ...instance.request(k), mediaType: 'image/png' });
      // window 127.5/256 maps 8-bit values to themselves
      assert.ok(out.data.equals(generateFrame(image, k)), `frame ${k + 1}`);
    }
  });

  it('uses the Shared and Per-Frame Functional Groups of enhanced images (rescale, frame VOI)', async () => {
    const image: ImageSpec = { rows: 16, columns: 16, frames: 2, bitsStored: 12, pattern: 'noise' };
    const frameVoi = (center: number, width: number) => [
      {
        tag: 0x00289132,
        vr: 'SQ',
        value: [
          [
            { tag: 0x00281050, vr: 'DS', value: center },
            { tag: 0x00281051, vr: 'DS', value: width },
          ],
        ],
      },
    ];
    const instance = load({
      sopClassUID: '1.2.840.10008.5.1.4.1.1.2.1', // Enhanced CT
      image,
      extra: [
        {
          tag: 0x52009229,
          vr: 'SQ',
          value: [
            [
              {
                tag: 0x00289145,
                vr: 'SQ',
                value: [
                  [
                    { tag: 0x00281052, vr: 'DS', value: -1000 },
                    { tag: 0x00281053, vr: 'DS', value: 2 },
                  ],
                ],
              },
            ],
          ],
        },
        { tag: 0x52009230, vr: 'SQ', value: [frameVoi(0, 2000), frameVoi(3000, 500)] },
      ],
    });
    for (const [k, center, width] of [
      [0, 0, 2000],
      [1, 3000, 500],
    ] as const) {
      const ours = await raw({ ...instance.request(k), mediaType: 'image/png' });
      // The same frame as a classic image with that rescale and window.
      const classic = load({
        image: {
          ...image,
          rescaleIntercept: -1000,
          rescaleSlope: 2,
          windowCenter: center,
          windowWidth: width,
        },
      });
      const expected = await raw({ ...classic.request(k), mediaType: 'image/png' });
      assert.ok(ours.data.equals(expected.data), `frame ${k + 1}`);
    }
  });

  it('renders 32-bit integer and float pixel data pixel by pixel', async () => {
    const rows = 8;
    const columns = 16;
    const values = Array.from({ length: rows * columns }, (_, i) => i * 1000 - 50_000);
    const imageAttributes = (bits: number) => [
      { tag: 0x00280002, vr: 'US', value: 1 },
      { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
      { tag: 0x00280010, vr: 'US', value: rows },
      { tag: 0x00280011, vr: 'US', value: columns },
      { tag: 0x00280100, vr: 'US', value: bits },
    ];
    const int32 = Buffer.alloc(values.length * 4);
    values.forEach((v, i) => int32.writeInt32LE(v, i * 4));
    const float32 = Buffer.alloc(values.length * 4);
    values.forEach((v, i) => float32.writeFloatLE(v / 1000, i * 4));
    const integer = load({
      sopClassUID: '1.2.840.10008.5.1.4.1.1.7',
      image: false,
      extra: [
        ...imageAttributes(32),
        { tag: 0x00280101, vr: 'US', value: 32 },
        { tag: 0x00280102, vr: 'US', value: 31 },
        { tag: 0x00280103, vr: 'US', value: 1 },
        { tag: 0x7fe00010, vr: 'OW', value: int32 },
      ],
    });
    const float = load({
      sopClassUID: '1.2.840.10008.5.1.4.1.1.30', // Parametric Map
      image: false,
      extra: [...imageAttributes(32), { tag: 0x7fe00008, vr: 'OF', value: float32 }],
    });
    const minMax = values.map((v) => Math.trunc(((v + 50_000) / 127_000) * 255));
    const intOut = await raw({ ...integer.request(), mediaType: 'image/png' });
    const floatOut = await raw({ ...float.request(), mediaType: 'image/png' });
    for (const [name, out] of [
      ['int32', intOut],
      ['float32', floatOut],
    ] as const) {
      assert.deepEqual([out.width, out.height, out.channels], [columns, rows, 1], name);
      out.data.forEach((v, i) =>
        assert.ok(Math.abs(v - minMax[i]!) <= 1, `${name} pixel ${i}: ${v} vs ${minMax[i]}`),
      );
    }
    const windowed = await raw({
      ...float.request(),
      mediaType: 'image/png',
      window: { center: 0, width: 20, fn: 'linear' },
    });
    assert.equal(windowed.data[0], 0); // -50
    assert.equal(windowed.data[50], 134); // 0: ((0 + 0.5) / 19 + 0.5) * 255 = 134.2
    assert.equal(windowed.data[127], 255); // 77
  });

  it('leaves Pixel Padding Value out of the min-max window', async () => {
    const image: ImageSpec = { rows: 16, columns: 16, bitsStored: 12, pattern: 'gradient' };
    const pixels = generateFrame(image, 0);
    pixels.writeUInt16LE(4095, 0); // one padding pixel far above the others
    let max = 0;
    let min = 4095;
    for (let i = 2; i < pixels.length; i += 2) {
      max = Math.max(max, pixels.readUInt16LE(i));
      min = Math.min(min, pixels.readUInt16LE(i));
    }
    const padded = load({
      image,
      extra: [
        { tag: 0x7fe00010, vr: 'OW', value: pixels },
        { tag: 0x00280120, vr: 'US', value: 4095 },
      ],
    });
    const ours = await raw({ ...padded.request(), mediaType: 'image/png' });
    const expected = await raw({
      ...padded.request(),
      mediaType: 'image/png',
      window: { center: (min + max + 1) / 2, width: max - min + 1, fn: 'linear' },
    });
    assert.ok(ours.data.equals(expected.data));
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('animated GIF', () => {
  it('has one page per frame, the viewport applied, and Frame Time as the delay', async () => {
    const image: ImageSpec = { rows: 32, columns: 48, frames: 5, bitsAllocated: 8, pattern: 'gradient' };
    const instance = load({ image, extra: [{ tag: 0x00181063, vr: 'DS', value: 40 }] });
    const frames = [0, 1, 2, 3, 4].map((k) => instance.request(k));
    const gif = await renderAnimatedGif(frames);
    const meta = await sharp(gif, { animated: true }).metadata();
    assert.equal(meta.format, 'gif');
    assert.equal(meta.pages, 5);
    assert.equal(meta.width, 48);
    assert.equal(meta.pageHeight, 32);
    assert.deepEqual(meta.delay, [40, 40, 40, 40, 40]);
    const scaled = await renderAnimatedGif(
      frames.map((f) => ({ ...f, viewport: { width: 24, height: 24 } })),
    );
    const scaledMeta = await sharp(scaled, { animated: true }).metadata();
    assert.equal(scaledMeta.pages, 5);
    assert.deepEqual([scaledMeta.width, scaledMeta.pageHeight], [24, 16]);
  });

  it('renders colour frames and keeps the frames apart', async () => {
    const image: ImageSpec = { rows: 16, columns: 16, frames: 3, photometric: 'RGB', pattern: 'noise' };
    const instance = load({ image });
    const gif = await renderAnimatedGif([0, 1, 2].map((k) => instance.request(k)));
    const { data, info } = await sharp(gif, { animated: true })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    assert.equal(info.pages, 3);
    for (let k = 0; k < 3; k++) {
      const page: RawImage = {
        data: data.subarray(k * 16 * 16 * 3, (k + 1) * 16 * 16 * 3),
        width: 16,
        height: 16,
        channels: 3,
      };
      const expected: RawImage = { data: generateFrame(image, k), width: 16, height: 16, channels: 3 };
      // GIF has a 256-colour palette: close, not exact.
      assert.ok(meanAbsoluteDifference(page, expected) < 12, `frame ${k}`);
    }
  });

  it('keeps repeated frames as pages of their own', async () => {
    const image: ImageSpec = { rows: 16, columns: 16, frames: 3, bitsAllocated: 8 };
    const one = generateFrame(image, 0);
    const instance = load({
      image,
      extra: [{ tag: 0x7fe00010, vr: 'OB', value: Buffer.concat([one, one, one]) }],
    });
    const gif = await renderAnimatedGif([0, 1, 2].map((k) => instance.request(k)));
    assert.equal((await sharp(gif, { animated: true }).metadata()).pages, 3);
  });

  it('refuses an empty frame list', async () => {
    await assert.rejects(renderAnimatedGif([]), RenderError);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('errors', () => {
  const image: ImageSpec = {
    rows: 64,
    columns: 64,
    bitsStored: 12,
    pattern: 'noise',
    windowCenter: 2048,
    windowWidth: 4096,
  };
  const targets: TransferSyntaxTarget[] = [
    'rle',
    'jpeg-extended',
    'jpeg-lossless-sv1',
    'jpeg-ls-lossless',
    'jpeg-ls-near-lossless',
    'jpeg2000-lossless',
    'jpeg2000',
  ];

  it('gives RenderError for corrupt and truncated codestreams, and decodes good frames afterwards', async (t) => {
    if (!requireTools(t, 'dcmcrle', 'dcmcjpeg', 'dcmcjpls', 'gdcmconv')) return;
    const { path } = await writeInstance(dir, { image }, 'source.dcm');
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (const target of targets) {
      const file = join(dir, `${target}.dcm`);
      await convertTransferSyntax(path, file, target);
      const instance = await loadInstance(file);
      const good = instance.request();
      const reference = (await renderFrame({ ...good, mediaType: 'image/png' })).bytes;
      const frame = good.frame;
      const corruptions: Buffer[] = [
        frame.subarray(0, 2),
        frame.subarray(0, Math.floor(frame.length / 3)),
        Buffer.from('not a codestream at all', 'latin1'),
        Buffer.alloc(0),
      ];
      for (let n = 0; n < 24; n++) {
        const bad = Buffer.from(frame);
        for (let k = 0; k <= n % 6; k++)
          bad[Math.floor(random() * bad.length)]! ^= 1 << Math.floor(random() * 8);
        corruptions.push(bad);
      }
      let refused = 0;
      for (const [index, bad] of corruptions.entries()) {
        try {
          await renderFrame({ ...good, frame: bad, mediaType: 'image/png' });
          // Bit flips inside entropy-coded data often decode to a wrong but valid image; truncation never.
          assert.ok(index >= 4, `${target}: corruption ${index} (truncated or garbage) was rendered`);
        } catch (error) {
          assert.ok(error instanceof RenderError, `${target}: ${String(error)}`);
          assert.equal(error.reason, 'corrupt');
          refused++;
        }
        const again = (await renderFrame({ ...good, mediaType: 'image/png' })).bytes;
        assert.ok(again.equals(reference), `${target}: the good frame renders as before`);
      }
      t.diagnostic(
        `${target}: ${refused} of ${corruptions.length} corrupted frames refused, the rest decoded`,
      );
    }
  });

  it('gives RenderError for short native frames and undecodable syntaxes', async () => {
    const instance = load({ image: { rows: 16, columns: 16 } });
    await assert.rejects(
      renderFrame({ ...instance.request(), frame: Buffer.alloc(100), mediaType: 'image/png' }),
      (error: unknown) =>
        error instanceof RenderError && error.reason === 'corrupt' && /100 bytes/.test(error.message),
    );
    await assert.rejects(
      renderFrame({
        ...instance.request(),
        transferSyntaxUid: '1.2.840.10008.1.2.4.100',
        mediaType: 'image/png',
      }),
      (error: unknown) => error instanceof RenderError && error.reason === 'unsupported',
    );
  });

  it('passes errors of readBulk through unchanged', async () => {
    const instance = load({ image: { rows: 16, columns: 16, bitsStored: 12, voiLutSequence: true } });
    const failure = new Error('storage is gone');
    await assert.rejects(
      renderFrame({
        ...instance.request(),
        mediaType: 'image/png',
        readBulk: () => {
          throw failure;
        },
      }),
      (error: unknown) => error === failure,
    );
  });
});

describe('isRenderable', () => {
  const json = (spec: InstanceSpec): DicomJsonDataset => load(spec).metadata;

  it('is true for images of every photometric interpretation', () => {
    for (const photometric of [
      'MONOCHROME1',
      'MONOCHROME2',
      'RGB',
      'YBR_FULL',
      'YBR_FULL_422',
      'PALETTE COLOR',
    ] as const) {
      assert.equal(isRenderable(json({ image: { rows: 4, columns: 4, photometric } })), true, photometric);
    }
  });

  it('is false without pixel data or image attributes', () => {
    assert.equal(isRenderable(json({ image: false })), false);
    const metadata = json({ image: { rows: 4, columns: 4 } });
    const withoutRows = { ...metadata };
    delete withoutRows['00280010'];
    assert.equal(isRenderable(withoutRows), false);
    assert.equal(
      isRenderable({
        ...metadata,
        '00280004': { vr: 'CS', Value: ['CMYK'] },
        '00280002': { vr: 'US', Value: [4] },
      }),
      false,
    );
  });
});
