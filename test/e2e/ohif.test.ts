/**
 * End to end: the real OHIF viewer (v3.13.2, the published @ohif/app build) in headless Chromium, with the
 * gateway as its only DICOMweb server, on another origin (CORS) and with the viewer cross-origin isolated
 * (COOP/COEP), as OHIF is commonly deployed.
 *
 * Seeded through STOW-RS: a 20-slice CT series with different pixels per slice, a study with a Japanese
 * patient name (ISO_IR 192), a 10-frame instance and a JPEG baseline series. Checked: the study list, that
 * images really render (pixel statistics of the cornerstone canvas, not just that a canvas exists), that
 * scrolling shows another slice or frame, that no request to the gateway fails, and OHIF's upload dialog
 * (STOW-RS from the browser). The viewer checks run for the usual data source configurations.
 *
 * Needs /usr/bin/chromium (apt package chromium) and the npm registry once (the OHIF build is cached in
 * test/.cache/). Skips with a reason without Chromium, unless CI is set. Screenshots and request logs of
 * every run: test/.cache/e2e-artifacts/.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Browser } from 'playwright-core';
import { convertTransferSyntax, hasTool, isCi, requireTools } from '../helpers/dcmtk.js';
import { buildInstance, newUid, SopClassUid, type InstanceSpec } from '../helpers/dicom-generator.js';
import { qido, stow, value } from '../helpers/dicomweb-client.js';
import { makeTempDir, removeDir, studySpecs } from '../helpers/fixtures.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import {
  canvasStats,
  CHROMIUM_PATH,
  failedRequests,
  hasChromium,
  launchChromium,
  openSession,
  requestSummary,
  signatureDistance,
  type BrowserSession,
  type CanvasStats,
  waitUntil,
} from './browser.js';
import { OHIF_VERSION, startOhifServer, type OhifDataSourceOptions, type OhifServer } from './ohif-app.js';

const CHROMIUM_MISSING = hasChromium()
  ? undefined
  : `missing ${CHROMIUM_PATH} (apt-get install chromium); the OHIF end-to-end test needs a browser`;

let skipPrinted = false;

/** Like requireTools: skips without Chromium on a developer machine, fails when CI is set. */
function requireChromium(t: TestContext): boolean {
  if (!CHROMIUM_MISSING) return true;
  if (isCi()) throw new Error(`${CHROMIUM_MISSING}; CI is set, so this fails instead of skipping`);
  if (!skipPrinted) console.log(`# skipping the OHIF end-to-end tests: ${CHROMIUM_MISSING}`);
  skipPrinted = true;
  t.skip(CHROMIUM_MISSING);
  return false;
}

/** The cornerstone canvas of the first (active) viewport. */
const VIEWPORT_CANVAS = '[data-cy="viewport-pane"] canvas.cornerstone-canvas';
const VIEWPORT = '[data-cy="viewport-pane"]';
/** The study list's rows, without the row of filter inputs. */
const STUDY_ROWS = 'table tbody tr:not([data-filter-row])';
/** A rendered image: its grey levels vary (an empty or failed viewport is one flat colour). */
const MIN_STDEV = 10;
/** Two different slices: their 16x16 signatures differ by at least this many grey levels on average. */
const MIN_DISTANCE = 3;
/** How long a render may take; a viewer failing with a failed gateway request is given up on earlier. */
const RENDER_TIMEOUT_MS = 30_000;
const GIVE_UP_AFTER_FAILURE_MS = 6_000;
/** OHIF's onboarding tour covers the viewport on the first visit; mark it as seen. */
const NO_TOURS = { shownTours: JSON.stringify(['basicViewerTour']) };

interface SeededStudy {
  patientName: string;
  patientID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUIDs: string[];
  /** Images the viewer can scroll through in this study's first series (slices or frames). */
  images: number;
}

interface Seeded {
  ct: SeededStudy;
  japanese: SeededStudy;
  multiframe: SeededStudy;
  /** Undefined when dcmtk is missing (developer machine only). */
  jpeg?: SeededStudy;
}

/** OHIF shows 'Family^Given' as 'Family, Given'. */
function listedName(patientName: string): string {
  const [family = '', given = ''] = patientName.split('=')[0]!.split('^');
  return given ? `${family}, ${given}` : family;
}

async function stowAll(gateway: TestGateway, parts: Buffer[]): Promise<void> {
  const { status, json } = await stow(gateway.dicomweb, parts);
  assert.equal(status, 200, `STOW answered ${status}: ${JSON.stringify(json)}`);
}

function seededStudy(specs: InstanceSpec[], sops: string[], images: number): SeededStudy {
  const first = specs[0]!;
  return {
    patientName: first.patientName!,
    patientID: first.patientID!,
    studyInstanceUID: first.studyInstanceUID!,
    seriesInstanceUID: first.seriesInstanceUID!,
    sopInstanceUIDs: sops,
    images,
  };
}

async function seed(gateway: TestGateway): Promise<Seeded> {
  // CT: 20 axial slices 2.5 mm apart, 128x128, 12 bits, a diagonal gradient shifted per slice.
  const frameOfReference = newUid();
  const ctSpecs = studySpecs({
    instancesPerSeries: 20,
    base: {
      patientName: 'E2E^Ct',
      patientID: 'E2E-CT',
      studyDescription: 'E2E CT',
      seriesDescription: 'Axial',
    },
  });
  const ct = ctSpecs.map((spec, i) =>
    buildInstance({
      ...spec,
      image: { rows: 128, columns: 128, bitsStored: 12, seed: i, windowCenter: 2048, windowWidth: 4096 },
      extra: [
        { tag: 0x00180050, vr: 'DS', value: '2.5' }, // Slice Thickness
        { tag: 0x00200032, vr: 'DS', value: ['-64', '-64', String(i * 2.5)] }, // Image Position (Patient)
        { tag: 0x00200037, vr: 'DS', value: ['1', '0', '0', '0', '1', '0'] }, // Image Orientation (Patient)
        { tag: 0x00200052, vr: 'UI', value: frameOfReference }, // Frame of Reference UID
        { tag: 0x00280030, vr: 'DS', value: ['1', '1'] }, // Pixel Spacing
      ],
    }),
  );
  await stowAll(
    gateway,
    ct.map((instance) => instance.bytes),
  );

  // Japanese patient name in UTF-8.
  const japaneseSpecs = studySpecs({
    base: {
      specificCharacterSet: 'ISO_IR 192',
      patientName: '山田^太郎',
      patientID: 'E2E-JA',
      studyDescription: '胸部 CT',
    },
  });
  const japanese = japaneseSpecs.map((spec) =>
    buildInstance({ ...spec, image: { rows: 64, columns: 64, pattern: 'checker' } }),
  );
  await stowAll(
    gateway,
    japanese.map((instance) => instance.bytes),
  );

  // One instance of 10 frames (each frame a differently shifted gradient).
  const multiframeSpecs = studySpecs({
    base: {
      patientName: 'E2E^Multiframe',
      patientID: 'E2E-MF',
      studyDescription: 'E2E multi-frame',
      sopClassUID: SopClassUid.MultiFrameGrayscaleWordSC,
      modality: 'OT',
    },
  });
  const multiframe = multiframeSpecs.map((spec) =>
    buildInstance({
      ...spec,
      image: { rows: 96, columns: 96, frames: 10, bitsStored: 12, windowCenter: 2048, windowWidth: 4096 },
    }),
  );
  await stowAll(
    gateway,
    multiframe.map((instance) => instance.bytes),
  );

  const seeded: Seeded = {
    ct: seededStudy(
      ctSpecs,
      ct.map((i) => i.sopInstanceUID),
      20,
    ),
    japanese: seededStudy(
      japaneseSpecs,
      japanese.map((i) => i.sopInstanceUID),
      1,
    ),
    multiframe: seededStudy(
      multiframeSpecs,
      multiframe.map((i) => i.sopInstanceUID),
      10,
    ),
  };

  // JPEG baseline (lossy, 8 bit): 3 secondary-capture slices converted with dcmcjpeg.
  if (hasTool('dcmcjpeg') && hasTool('dcmodify')) {
    const jpegSpecs = studySpecs({
      instancesPerSeries: 3,
      base: {
        patientName: 'E2E^Jpeg',
        patientID: 'E2E-JPEG',
        studyDescription: 'E2E JPEG baseline',
        sopClassUID: SopClassUid.SecondaryCapture,
        modality: 'OT',
      },
    });
    const dir = await makeTempDir('e2e-jpeg-');
    try {
      const parts: Buffer[] = [];
      const sops: string[] = [];
      for (const [i, spec] of jpegSpecs.entries()) {
        const instance = buildInstance({
          ...spec,
          image: {
            rows: 128,
            columns: 128,
            bitsAllocated: 8,
            seed: i * 3,
            windowCenter: 128,
            windowWidth: 256,
          },
        });
        const input = join(dir, `${i}.dcm`);
        const output = join(dir, `${i}.jpeg.dcm`);
        await writeFile(input, instance.bytes);
        await convertTransferSyntax(input, output, 'jpeg-baseline');
        parts.push(await readFile(output));
        sops.push(instance.sopInstanceUID);
      }
      await stowAll(gateway, parts);
      seeded.jpeg = seededStudy(jpegSpecs, sops, 3);
    } finally {
      await removeDir(dir);
    }
  }
  return seeded;
}

function failureReport(session: BrowserSession): string {
  const failed = failedRequests(session.requests);
  const errors = session.errors.slice(0, 8).map((e) => `  ${e.type}: ${e.text.split('\n')[0]}`);
  return [
    failed.length ? `failed gateway requests:\n  ${failed.join('\n  ')}` : 'no failed gateway requests',
    errors.length ? `browser errors:\n${errors.join('\n')}` : 'no browser errors',
    `gateway requests so far:\n  ${requestSummary(session.requests).join('\n  ')}`,
  ].join('\n');
}

function assertNoFailedRequests(session: BrowserSession): void {
  assert.equal(failedRequests(session.requests).length, 0, failureReport(session));
}

/** Gives up early once a gateway request (sent from now on) has failed and the viewer had a few more seconds. */
function failedRequestGiveUp(session: BrowserSession): () => string | undefined {
  const from = session.requests.length;
  let firstFailureAt: number | undefined;
  return () => {
    if (failedRequests(session.requests.slice(from)).length === 0) return undefined;
    firstFailureAt ??= Date.now();
    return Date.now() - firstFailureAt > GIVE_UP_AFTER_FAILURE_MS ? 'a gateway request failed' : undefined;
  };
}

/** Waits for the active viewport to show an image (varying grey levels) different from `other`. */
async function waitForImage(
  session: BrowserSession,
  what: string,
  other?: CanvasStats,
): Promise<CanvasStats> {
  let last: CanvasStats | undefined;
  try {
    return await waitUntil(
      async () => {
        last = await canvasStats(session.page, VIEWPORT_CANVAS).catch(() => undefined);
        if (!last || last.stdev < MIN_STDEV) return undefined;
        if (other && signatureDistance(last, other) < MIN_DISTANCE) return undefined;
        return last;
      },
      RENDER_TIMEOUT_MS,
      () =>
        `${what}: ${
          last
            ? `viewport canvas ${last.width}x${last.height}, mean ${last.mean.toFixed(1)}, stdev ${last.stdev.toFixed(1)}` +
              (other ? `, distance to the previous image ${signatureDistance(last, other).toFixed(1)}` : '')
            : 'no viewport canvas'
        }`,
      failedRequestGiveUp(session),
    );
  } catch (error) {
    await session.screenshot(`${session.name}-${what.replace(/\W+/g, '-')}-failed`).catch(() => undefined);
    throw new Error(`${(error as Error).message}\n${failureReport(session)}`, { cause: error });
  }
}

/** The text of the active viewport's bottom-right overlay: 'I:17 (4/20)' (instance number, position). */
async function overlayText(session: BrowserSession): Promise<string> {
  return session.page
    .locator(`${VIEWPORT} [data-cy="viewport-overlay-bottom-right"]`)
    .first()
    .innerText({ timeout: 2_000 })
    .then((text) => text.trim())
    .catch(() => '');
}

/** Waits until the overlay shows another image position than `before`; returns the new text. */
async function waitForOverlayChange(session: BrowserSession, before: string): Promise<string> {
  let text = before;
  return waitUntil(
    async () => {
      text = await overlayText(session);
      return text !== '' && text !== before ? text : undefined;
    },
    5_000,
    () => `the viewport overlay still says ${JSON.stringify(text)}`,
  );
}

/** Opens a study in the viewer by URL, once the previous page has no gateway request in flight. */
async function openStudy(session: BrowserSession, ohifUrl: string, study: SeededStudy): Promise<void> {
  await session.waitForIdle(300, 15_000).catch(() => undefined);
  await session.page.goto(`${ohifUrl}/viewer?StudyInstanceUIDs=${study.studyInstanceUID}`);
}

/** Scrolls the active viewport by `ticks` mouse-wheel steps (StackScroll: one image per step). */
async function scrollViewport(session: BrowserSession, ticks: number): Promise<void> {
  const box = await session.page.locator(VIEWPORT_CANVAS).first().boundingBox();
  assert.ok(box, 'viewport canvas has no bounding box');
  await session.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  for (let i = 0; i < ticks; i++) await session.page.mouse.wheel(0, 100);
}

describe(`OHIF viewer ${OHIF_VERSION} on the gateway`, { timeout: 300_000 }, () => {
  let gateway: TestGateway;
  let ohif: OhifServer;
  let browser: Browser;
  let seeded: Seeded;

  before(
    async () => {
      if (CHROMIUM_MISSING) return;
      ohif = await startOhifServer();
      gateway = await startTestGateway({ http: { corsOrigins: [ohif.url] } });
      seeded = await seed(gateway);
      browser = await launchChromium();
    },
    { timeout: 300_000 },
  );

  after(async () => {
    await browser?.close();
    await gateway?.stop();
    await ohif?.close();
  });

  /** A fresh browser context with OHIF configured as given; logs and screenshots on the way out. */
  async function withViewer(
    t: TestContext,
    name: string,
    dataSource: Omit<OhifDataSourceOptions, 'gatewayUrl'>,
    body: (session: BrowserSession) => Promise<void>,
  ): Promise<void> {
    ohif.configure({ gatewayUrl: gateway.httpUrl, ...dataSource });
    const session = await openSession(browser, gateway.httpUrl, { name, localStorage: NO_TOURS });
    try {
      await body(session);
    } finally {
      await session.screenshot(`${name}-last`).catch(() => undefined);
      const log = await session.saveLog(name);
      t.diagnostic(`request log: ${log}`);
      for (const line of requestSummary(session.requests)) t.diagnostic(line);
      if (ohif.notFound.length) t.diagnostic(`viewer assets not found: ${ohif.notFound.join(', ')}`);
      await session.close();
    }
  }

  test('the study list shows every stored study, non-Latin patient names included', async (t) => {
    if (!requireChromium(t)) return;
    await withViewer(t, 'study-list', {}, async (session) => {
      const { page } = session;
      await page.goto(`${ohif.url}/`);
      const studies = [seeded.ct, seeded.japanese, seeded.multiframe, ...(seeded.jpeg ? [seeded.jpeg] : [])];
      const expected = studies.map((s) => listedName(s.patientName)).sort();
      const cells = page.locator(`${STUDY_ROWS} td:first-child`);
      let listed: string[] = [];
      await waitUntil(
        async () => {
          listed = (await cells.allInnerTexts()).map((text) => text.trim()).sort();
          return listed.length === expected.length ? listed : undefined;
        },
        20_000,
        () => `study list rows ${JSON.stringify(listed)}, expected ${JSON.stringify(expected)}`,
      );
      await session.screenshot('study-list');
      assert.deepEqual(listed, expected);
      const isolated = await page.evaluate(
        () => (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated,
      );
      assert.equal(isolated, true, 'the viewer page is cross-origin isolated (COOP/COEP), as deployed');
      assert.ok(listed.includes('山田, 太郎'), `the Japanese name is listed: ${JSON.stringify(listed)}`);
      const japaneseRow = page.locator(STUDY_ROWS, { hasText: '山田, 太郎' });
      assert.match(await japaneseRow.innerText(), /胸部 CT/, 'the study description in UTF-8 too');
      assertNoFailedRequests(session);
    });
  });

  /** The viewer checks, for one data source configuration. */
  async function viewerChecks(
    t: TestContext,
    name: string,
    dataSource: Omit<OhifDataSourceOptions, 'gatewayUrl'>,
  ) {
    await withViewer(t, name, dataSource, async (session) => {
      const { page } = session;
      let ctImage: CanvasStats | undefined;

      await t.test('the CT study opened from the study list renders an image', async () => {
        await page.goto(`${ohif.url}/`);
        await page.locator(STUDY_ROWS, { hasText: listedName(seeded.ct.patientName) }).click();
        await page.getByRole('button', { name: 'Basic Viewer' }).click();
        await page.waitForURL(/\/viewer\?/);
        assert.match(
          page.url(),
          new RegExp(`StudyInstanceUIDs=${seeded.ct.studyInstanceUID.replace(/\./g, '\\.')}`),
        );
        ctImage = await waitForImage(session, 'CT first slice');
        await session.screenshot(`${name}-ct-first`, VIEWPORT);
      });

      await t.test('scrolling the CT series shows another slice', async () => {
        assert.ok(ctImage, 'the CT study did not render');
        const before = await overlayText(session);
        assert.ok(
          before.includes(`(1/${seeded.ct.images})`),
          `the CT series opens at its first image: ${before}`,
        );
        await scrollViewport(session, 3);
        await waitForImage(session, 'CT after scrolling', ctImage);
        await waitForOverlayChange(session, before);
        await session.screenshot(`${name}-ct-scrolled`, VIEWPORT);
      });

      await t.test('the multi-frame instance renders, and scrolling shows another frame', async () => {
        await openStudy(session, ohif.url, seeded.multiframe);
        const first = await waitForImage(session, 'multi-frame first frame');
        const before = await overlayText(session);
        assert.ok(before.includes(`(1/${seeded.multiframe.images})`), `opens at its first frame: ${before}`);
        await session.screenshot(`${name}-multiframe-first`, VIEWPORT);
        await scrollViewport(session, 2);
        await waitForImage(session, 'multi-frame after scrolling', first);
        await waitForOverlayChange(session, before);
        await session.screenshot(`${name}-multiframe-scrolled`, VIEWPORT);
      });

      await t.test('the JPEG baseline series renders', async (tt) => {
        if (!requireTools(tt, 'dcmcjpeg', 'dcmodify')) return;
        assert.ok(seeded.jpeg);
        await openStudy(session, ohif.url, seeded.jpeg);
        await waitForImage(session, 'JPEG first image');
        await session.screenshot(`${name}-jpeg`, VIEWPORT);
      });

      await t.test('no request to the gateway failed', async () => {
        await session.waitForIdle(500, 15_000).catch(() => undefined);
        assertNoFailedRequests(session);
      });
    });
  }

  test('viewer, WADO-RS, study lazy load on (OHIF default)', { timeout: 150_000 }, async (t) => {
    if (!requireChromium(t)) return;
    await viewerChecks(t, 'wadors-lazy', { imageRendering: 'wadors', enableStudyLazyLoad: true });
  });

  test('viewer, WADO-RS, study lazy load off (study-level metadata)', { timeout: 150_000 }, async (t) => {
    if (!requireChromium(t)) return;
    await viewerChecks(t, 'wadors-eager', { imageRendering: 'wadors', enableStudyLazyLoad: false });
  });

  test('viewer, WADO-URI images (/wado)', { timeout: 150_000 }, async (t) => {
    if (!requireChromium(t)) return;
    await viewerChecks(t, 'wadouri', { imageRendering: 'wadouri', enableStudyLazyLoad: true });
  });

  test("OHIF's upload dialog stores a file through STOW-RS", { timeout: 60_000 }, async (t) => {
    if (!requireChromium(t)) return;
    const dir = await makeTempDir('e2e-upload-');
    try {
      const upload = buildInstance({
        patientName: 'E2E^Upload',
        patientID: 'E2E-UP',
        studyDescription: 'Uploaded from OHIF',
        image: { rows: 64, columns: 64, pattern: 'noise' },
      });
      const file = join(dir, 'upload.dcm');
      await writeFile(file, upload.bytes);
      await withViewer(t, 'upload', {}, async (session) => {
        const { page } = session;
        await page.goto(`${ohif.url}/`);
        await page.locator(STUDY_ROWS).first().waitFor();
        await page.getByRole('button', { name: 'Upload' }).click();
        const chooser = page.waitForEvent('filechooser');
        await page.getByRole('button', { name: 'Add files' }).click();
        await (await chooser).setFiles(file);
        await page.getByText('1 file completed.').waitFor({ timeout: 30_000 });
        await session.screenshot('upload-completed');
        const posts = session.requests.filter((r) => r.method === 'POST');
        assert.deepEqual(
          posts.map((r) => `${r.status} ${r.path}`),
          ['200 /dicom-web/studies'],
        );

        const found = await qido(
          `${gateway.dicomweb}/studies/${upload.studyInstanceUID}/instances?SOPInstanceUID=${upload.sopInstanceUID}`,
        );
        assert.equal(found.length, 1, 'QIDO finds the uploaded instance');
        assert.equal(value(found[0], '00080018'), upload.sopInstanceUID);

        // Closing the dialog refreshes the study list, which now has the new study.
        await page.getByRole('button', { name: 'Close' }).first().click();
        await page.locator(STUDY_ROWS, { hasText: 'E2E, Upload' }).waitFor({ timeout: 15_000 });
        assertNoFailedRequests(session);
      });
    } finally {
      await removeDir(dir);
    }
  });
});
