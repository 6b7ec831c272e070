/**
 * One-off timing of the render pipeline (information only, not a test):
 *   node --import tsx test/unit/render/render-timing.ts
 * Renders a 512x512 16-bit CT frame and a 2000x2500 16-bit CR frame to JPEG in a fresh process: the first
 * call (cold: LUT tables, sharp/libvips start-up, JIT) and the median of later calls (warm), with the pixel
 * stage alone and dcmjs-imaging's own DicomImage.render of the same file for comparison.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildInstance, type InstanceSpec } from '../../helpers/dicom-generator.js';
import { loadInstanceBytes } from './render-fixtures.js';

const t0 = performance.now();
const { renderFrame } = await import('../../../src/render/render.js');
const { decodeFrame } = await import('../../../src/render/decode.js');
const { readGrayscaleTransform, readImageInfo } = await import('../../../src/render/image.js');
const { frameRange, minMaxWindow, renderGrayscale } = await import('../../../src/render/grayscale.js');
const importMs = performance.now() - t0;

const cases: [string, InstanceSpec, { viewport?: { width: number; height: number }; target?: string }][] = [
  [
    'CT 512x512 16-bit (12 stored, signed, rescale, window)',
    {
      image: {
        rows: 512,
        columns: 512,
        bitsStored: 12,
        pixelRepresentation: 1,
        rescaleIntercept: -1024,
        windowCenter: 40,
        windowWidth: 400,
        pattern: 'gradient',
      },
    },
    {},
  ],
  [
    'CR 2000x2500 16-bit (window)',
    {
      sopClassUID: '1.2.840.10008.5.1.4.1.1.1',
      image: {
        rows: 2500,
        columns: 2000,
        bitsStored: 16,
        windowCenter: 32768,
        windowWidth: 50000,
        pattern: 'gradient',
      },
    },
    {},
  ],
  [
    'CR 2000x2500 16-bit (no VOI: min-max)',
    {
      sopClassUID: '1.2.840.10008.5.1.4.1.1.1',
      image: { rows: 2500, columns: 2000, bitsStored: 16, pattern: 'gradient' },
    },
    {},
  ],
  [
    'CR 2000x2500 16-bit (window), viewport 512x512',
    {
      sopClassUID: '1.2.840.10008.5.1.4.1.1.1',
      image: {
        rows: 2500,
        columns: 2000,
        bitsStored: 16,
        windowCenter: 32768,
        windowWidth: 50000,
        pattern: 'gradient',
      },
    },
    { viewport: { width: 512, height: 512 } },
  ],
  [
    'CT 512x512 16-bit, JPEG 2000 lossless (gdcmconv)',
    {
      image: {
        rows: 512,
        columns: 512,
        bitsStored: 12,
        pixelRepresentation: 1,
        rescaleIntercept: -1024,
        windowCenter: 40,
        windowWidth: 400,
        pattern: 'gradient',
      },
    },
    { target: 'j2k' },
  ],
];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(`import of src/render: ${importMs.toFixed(1)} ms`);
const dir = mkdtempSync(join(tmpdir(), 'render-timing-'));
for (const [name, spec, options] of cases) {
  let bytes = buildInstance(spec).bytes;
  if (options.target === 'j2k') {
    const source = join(dir, 'source.dcm');
    writeFileSync(source, bytes);
    execFileSync('gdcmconv', ['--j2k', source, join(dir, 'j2k.dcm')]);
    bytes = (await import('node:fs')).readFileSync(join(dir, 'j2k.dcm'));
  }
  const instance = loadInstanceBytes(bytes);
  const request = { ...instance.request(), mediaType: 'image/jpeg' as const, viewport: options.viewport };
  let start = performance.now();
  const first = await renderFrame(request);
  const cold = performance.now() - start;
  const warm: number[] = [];
  for (let i = 0; i < 9; i++) {
    start = performance.now();
    await renderFrame(request);
    warm.push(performance.now() - start);
  }
  // The pixel stage alone (decode + tables + lookup), warm.
  const info = readImageInfo(instance.metadata);
  const stage: number[] = [];
  for (let i = 0; i < 9; i++) {
    start = performance.now();
    const decoded = await decodeFrame(request.frame, info, instance.transferSyntaxUid);
    const transform = await readGrayscaleTransform(
      instance.metadata,
      info,
      0,
      undefined,
      instance.readBulk,
      false,
    );
    const voi =
      transform.voi.kind === 'minmax'
        ? minMaxWindow(frameRange(decoded, info, transform), info, transform)
        : transform.voi;
    renderGrayscale(decoded, info, transform, voi);
    stage.push(performance.now() - start);
  }
  console.log(
    `${name}: cold ${cold.toFixed(1)} ms, warm median ${median(warm).toFixed(1)} ms ` +
      `(pixel stage ${median(stage).toFixed(1)} ms; JPEG ${first.width}x${first.height}, ${first.bytes.length} bytes)`,
  );
}

// dcmjs-imaging's own pipeline on the CR image, for comparison (RGBA out, no encoding).
const dcmjsImaging = (await import('dcmjs-imaging')).default;
const cr = buildInstance(cases[1]![1]).bytes;
const arrayBuffer = cr.buffer.slice(cr.byteOffset, cr.byteOffset + cr.byteLength) as ArrayBuffer;
const libTimes: number[] = [];
for (let i = 0; i < 5; i++) {
  const image = new dcmjsImaging.DicomImage(arrayBuffer);
  const start = performance.now();
  image.render({ renderOverlays: false });
  libTimes.push(performance.now() - start);
}
console.log(
  `dcmjs-imaging DicomImage.render of the CR frame: median ${median(libTimes).toFixed(1)} ms (pixels only)`,
);
