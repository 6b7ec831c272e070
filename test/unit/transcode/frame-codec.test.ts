/**
 * Single-frame decoding (src/transcode/frame-codec.ts): frames of files made by dcmtk/gdcm and of the
 * gateway's own output, checked against the test generator's exact pixels and dcmdjpeg's.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TranscodeError } from '../../../src/transcode/capabilities.js';
import { decodeFrame } from '../../../src/transcode/frame-codec.js';
import type { FrameImageInfo } from '../../../src/transcode/pixel-samples.js';
import { transcodePart10 } from '../../../src/transcode/transcode-part10.js';
import { execFile, requireTools, TARGETS, type TransferSyntaxTarget } from '../../helpers/dcmtk.js';
import {
  buildInstance,
  generateFrame,
  resolveImage,
  TransferSyntaxUid as TS,
  type ImageSpec,
} from '../../helpers/dicom-generator.js';
import { makeTempDir, makeTransferSyntaxSet, removeDir, writeInstance } from '../../helpers/fixtures.js';
import {
  ENCAPSULATED_UNCOMPRESSED,
  expectedFrame,
  HTJ2K_LOSSLESS,
  HTJ2K_LOSSLESS_RPCL,
  JPEG_XL_LOSSLESS,
  MPEG2,
  parse,
} from './transcode-fixtures.js';

describe('decodeFrame', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('transcode-frames-');
  });
  after(() => removeDir(dir));

  const FRAME_SPECS: Record<string, ImageSpec> = {
    'mono 8-bit': { rows: 16, columns: 16, bitsAllocated: 8, frames: 4 },
    'mono 16-bit noise': { rows: 16, columns: 16, frames: 4, pattern: 'noise' },
    'mono 12-bit signed': { rows: 16, columns: 16, frames: 3, bitsStored: 12, pixelRepresentation: 1 },
    // gdcmconv --j2k fails on RGB noise, hence gradients for colour.
    RGB: { rows: 16, columns: 16, photometric: 'RGB', frames: 3 },
    'RGB planar': { rows: 16, columns: 16, photometric: 'RGB', planarConfiguration: 1, frames: 3 },
  };
  const TARGETS_WITH_FRAMES: TransferSyntaxTarget[] = [
    'rle',
    'jpeg-ls-lossless',
    'jpeg2000-lossless',
    'jpeg-lossless-sv1',
    'jpeg-lossless',
  ];

  for (const [name, image] of Object.entries(FRAME_SPECS)) {
    it(`frame k of multi-frame dcmtk/gdcm files equals generateFrame(image, k): ${name}`, async (t) => {
      if (!requireTools(t, 'dcmcrle', 'dcmcjpls', 'dcmcjpeg', 'gdcmconv')) return;
      const subdir = join(dir, name.replace(/\W+/g, '-'));
      await execFile('mkdir', ['-p', subdir]);
      // dcmcjpeg (dcmtk 3.6.7) turns multi-frame planar RGB into pixel-interleaved order across the whole
      // pixel data instead of frame by frame, so its JPEG files of such images hold scrambled frames (dcmdjpeg
      // decodes them to the same scrambled pixels as we do): no JPEG sources for that image.
      const dcmcjpegBug = resolveImage(image).planarConfiguration === 1 && resolveImage(image).frames > 1;
      const targets = TARGETS_WITH_FRAMES.filter(
        (t) => !(dcmcjpegBug && TARGETS[t].command[0] === 'dcmcjpeg'),
      );
      const set = await makeTransferSyntaxSet(subdir, { image }, targets);
      assert.equal(set.skipped.length, 0);
      for (const file of set.files) {
        const stored = parse(await readFile(file.path));
        assert.equal(stored.frames.length, resolveImage(image).frames);
        for (const [k, frame] of stored.frames.entries()) {
          const decoded = await decodeFrame(frame, stored.info, file.transferSyntaxUID);
          assert.equal(decoded.photometricInterpretation, stored.info.photometricInterpretation);
          assert.equal(decoded.planarConfiguration, stored.info.planarConfiguration);
          const want = expectedFrame(
            image,
            k,
            decoded.photometricInterpretation,
            decoded.planarConfiguration,
          );
          assert.ok(decoded.pixels.equals(want), `${name} ${file.target}: frame ${k}`);
        }
      }
    });
  }

  it('decodes frames of our own HTJ2K, JPEG XL and encapsulated uncompressed output', async () => {
    for (const image of Object.values(FRAME_SPECS)) {
      for (const uid of [HTJ2K_LOSSLESS, HTJ2K_LOSSLESS_RPCL, JPEG_XL_LOSSLESS, ENCAPSULATED_UNCOMPRESSED]) {
        const stored = parse(await transcodePart10(buildInstance({ image }).bytes, uid));
        for (const [k, frame] of stored.frames.entries()) {
          const decoded = await decodeFrame(frame, stored.info, uid);
          const want = expectedFrame(
            image,
            k,
            decoded.photometricInterpretation,
            decoded.planarConfiguration,
          );
          assert.ok(decoded.pixels.equals(want), `${uid} frame ${k}`);
        }
      }
    }
  });

  it('returns lossy JPEG YBR_FULL_422 frames as RGB, as dcmdjpeg does', async (t) => {
    if (!requireTools(t, 'dcmcjpeg', 'dcmdjpeg')) return;
    const image: ImageSpec = { rows: 16, columns: 16, photometric: 'YBR_FULL_422', frames: 2 };
    const set = await makeTransferSyntaxSet(dir, { image }, ['jpeg-baseline']);
    const file = set.files[0]!;
    await execFile('dcmdjpeg', [file.path, `${file.path}.raw.dcm`]);
    const reference = parse(await readFile(`${file.path}.raw.dcm`));
    const stored = parse(await readFile(file.path));
    assert.equal(stored.info.photometricInterpretation, 'YBR_FULL_422');
    for (const [k, frame] of stored.frames.entries()) {
      const decoded = await decodeFrame(frame, stored.info, TS.JPEGBaseline);
      assert.equal(decoded.photometricInterpretation, 'RGB');
      assert.equal(decoded.planarConfiguration, 0);
      assert.equal(decoded.pixels.length, 16 * 16 * 3);
      assert.ok(decoded.pixels.equals(reference.frames[k]!), `frame ${k}`);
    }
  });

  it('decodes native frames, swapping big endian samples', async () => {
    const image: ImageSpec = { rows: 4, columns: 4, frames: 2 };
    const info: FrameImageInfo = {
      rows: 4,
      columns: 4,
      samplesPerPixel: 1,
      bitsAllocated: 16,
      bitsStored: 16,
      highBit: 15,
      pixelRepresentation: 0,
      photometricInterpretation: 'MONOCHROME2',
      planarConfiguration: 0,
    };
    const le = generateFrame(image, 1);
    assert.ok((await decodeFrame(le, info, TS.ExplicitVRLittleEndian)).pixels.equals(le));
    const be = Buffer.from(le).swap16();
    assert.ok((await decodeFrame(be, info, TS.ExplicitVRBigEndian)).pixels.equals(le));
  });

  it('reports corrupt frames and undecodable syntaxes as TranscodeError', async () => {
    const info: FrameImageInfo = {
      rows: 16,
      columns: 16,
      samplesPerPixel: 1,
      bitsAllocated: 8,
      bitsStored: 8,
      highBit: 7,
      pixelRepresentation: 0,
      photometricInterpretation: 'MONOCHROME2',
      planarConfiguration: 0,
    };
    const garbage = Buffer.from('not a codestream at all', 'latin1');
    for (const uid of [TS.JPEGLSLossless, TS.JPEG2000Lossless, TS.JPEGLosslessSV1, TS.RLELossless]) {
      await assert.rejects(decodeFrame(garbage, info, uid), TranscodeError, uid);
    }
    await assert.rejects(decodeFrame(garbage, info, MPEG2), /no decoder for MPEG2/);
    await assert.rejects(
      decodeFrame(Buffer.alloc(10), info, TS.ExplicitVRLittleEndian),
      /frame has 10 bytes/,
    );
  });

  it('times one 512x512 16-bit JPEG 2000 frame decode (information only)', async (t) => {
    if (!requireTools(t, 'gdcmconv')) return;
    for (const pattern of ['gradient', 'noise'] as const) {
      const image: ImageSpec = { rows: 512, columns: 512, pattern };
      const source = await writeInstance(dir, { image }, `big-${pattern}.dcm`);
      await execFile('gdcmconv', ['--j2k', source.path, `${source.path}.j2k.dcm`]);
      const stored = parse(await readFile(`${source.path}.j2k.dcm`));
      await decodeFrame(stored.frames[0]!, stored.info, TS.JPEG2000Lossless); // codecs initialised, warm
      const start = performance.now();
      const decoded = await decodeFrame(stored.frames[0]!, stored.info, TS.JPEG2000Lossless);
      const ms = performance.now() - start;
      assert.ok(decoded.pixels.equals(generateFrame(image, 0)));
      t.diagnostic(
        `512x512 16-bit ${pattern} J2K frame (${stored.frames[0]!.length} bytes): decoded in ${ms.toFixed(1)} ms`,
      );
    }
  });
});
