/**
 * End to end with OpenID Connect: the real OHIF viewer (v3.13.2) logs in with its own OIDC support
 * (app-config `oidc`, response_type 'code': oidc-client-ts, authorization code flow with PKCE) at a test
 * OpenID provider (test/helpers/oidc-provider.ts, a real HTTP server on its own origin), and then uses the
 * gateway, configured with `auth.oidc` for that provider, with `Authorization: Bearer <access token JWT>`.
 *
 * Proven: the login round trip (redirect to the provider and back, code exchanged with a verified S256
 * code_verifier); the study list comes from QIDO with the provider's JWT; a study opens and its image
 * renders (pixel statistics of the cornerstone canvas) with WADO-RS frames and browser-rendered ('wadors')
 * thumbnails, all with the token; a viewer link opened in a fresh page logs in again and lands on the
 * study; every request the viewer sent the gateway carried a JWT the provider issued, and none was
 * refused; a browser on the viewer's origin can read a 401 and its WWW-Authenticate challenge; and,
 * without a browser, no token / an expired token / a token without the read scope are refused.
 *
 * Data is stored through STOW-RS with a static write token (auth.tokens) before the viewer starts.
 * Needs /usr/bin/chromium and the OHIF build (cached in test/.cache/ by ohif-app.ts); without them the
 * viewer tests skip with a printed reason, unless CI is set. Artifacts: test/.cache/e2e-artifacts/oidc-*.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { sha256Hex } from '../../src/auth/password-hash.js';
import { isCi } from '../helpers/dcmtk.js';
import { buildInstance, type ImageSpec } from '../helpers/dicom-generator.js';
import { multipartRelated, value, type DicomJson } from '../helpers/dicomweb-client.js';
import { studySpecs } from '../helpers/fixtures.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import {
  canvasStats,
  CHROMIUM_PATH,
  failedRequests,
  hasChromium,
  launchChromium,
  openSession,
  requestSummary,
  type CanvasStats,
  waitUntil,
} from './browser.js';
import { OHIF_VERSION, startOhifServer, type OhifOidcClient, type OhifServer } from './ohif-app.js';

/** The gateway's `auth.oidc.audience`: the provider puts it in the access tokens' `aud`. */
const AUDIENCE = 'dicomweb-gateway';
const CLIENT_ID = 'ohif-viewer';
/** Static token with the write scope, only for seeding through STOW-RS. */
const SEED_TOKEN = 'oidc-e2e-seed-token-0123456789abcdefghijklmnopqrstuvwxyz';

const VIEWPORT = '[data-cy="viewport-pane"]';
const VIEWPORT_CANVAS = `${VIEWPORT} canvas.cornerstone-canvas`;
const STUDY_ROWS = 'table tbody tr:not([data-filter-row])';
const THUMBNAIL_IMAGE = '[data-cy="study-browser-thumbnail"] img';
const MIN_STDEV = 10;
const NO_TOURS = { shownTours: JSON.stringify(['basicViewerTour']) };
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

interface SeededStudy {
  patientName: string;
  /** As OHIF lists it: 'Family, Given'. */
  listedName: string;
  studyInstanceUID: string;
}

async function stowWithToken(gateway: TestGateway, parts: Buffer[]): Promise<void> {
  const { body, contentType } = multipartRelated(parts);
  const response = await fetch(`${gateway.dicomweb}/studies`, {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: `Bearer ${SEED_TOKEN}` },
    body,
  });
  const text = await response.text();
  assert.equal(response.status, 200, `STOW answered ${response.status}: ${text}`);
}

/** Three studies: a 10-slice CT (different pixels per slice), a checkerboard and a noise study. */
async function seed(gateway: TestGateway): Promise<SeededStudy[]> {
  const studies: SeededStudy[] = [];
  const add = async (family: string, given: string, instances: number, image: ImageSpec) => {
    const specs = studySpecs({
      instancesPerSeries: instances,
      base: {
        patientName: `${family}^${given}`,
        patientID: `OIDC-${given.toUpperCase()}`,
        studyDescription: `OIDC ${given}`,
        seriesDescription: given,
      },
    });
    const parts = specs.map(
      (spec, i) =>
        buildInstance({
          ...spec,
          image: { ...image, seed: i },
          extra: [
            { tag: 0x00200032, vr: 'DS', value: ['0', '0', String(i * 2.5)] }, // Image Position (Patient)
            { tag: 0x00200037, vr: 'DS', value: ['1', '0', '0', '0', '1', '0'] }, // Image Orientation
            { tag: 0x00280030, vr: 'DS', value: ['1', '1'] }, // Pixel Spacing
          ],
        }).bytes,
    );
    await stowWithToken(gateway, parts);
    studies.push({
      patientName: `${family}^${given}`,
      listedName: `${family}, ${given}`,
      studyInstanceUID: specs[0]!.studyInstanceUID!,
    });
  };
  const window = { bitsStored: 12, windowCenter: 2048, windowWidth: 4096 };
  await add('Oidc', 'Ct', 10, { rows: 128, columns: 128, ...window });
  await add('Oidc', 'Checker', 1, { rows: 64, columns: 64, pattern: 'checker' });
  await add('Oidc', 'Noise', 2, { rows: 64, columns: 64, pattern: 'noise' });
  return studies;
}

/** The OHIF `oidc` entry for the test provider. */
function oidcClient(provider: TestOidcProvider): OhifOidcClient {
  return {
    authority: provider.issuer,
    client_id: CLIENT_ID,
    redirect_uri: '/callback',
    response_type: 'code',
    scope: 'openid profile read',
    post_logout_redirect_uri: '/logout-redirect.html',
    automaticSilentRenew: false,
    revokeAccessTokenOnSignout: false,
  };
}

/** Grey-level spread of the first loaded thumbnail <img>, drawn into a canvas in the page. */
async function thumbnailStats(
  page: Page,
): Promise<{ src: string; width: number; height: number; stdev: number } | undefined> {
  return page.evaluate((selector) => {
    interface Img {
      src: string;
      complete: boolean;
      naturalWidth: number;
      naturalHeight: number;
    }
    interface Canvas {
      width: number;
      height: number;
      getContext(type: '2d'): {
        drawImage(image: Img, x: number, y: number): void;
        getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
      };
    }
    const doc = (
      globalThis as unknown as {
        document: { querySelectorAll(s: string): Img[]; createElement(tag: 'canvas'): Canvas };
      }
    ).document;
    const image = [...doc.querySelectorAll(selector)].find((i) => i.complete && i.naturalWidth > 0);
    if (!image) return undefined;
    const canvas = doc.createElement('canvas');
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    let sum = 0;
    let squares = 0;
    const n = canvas.width * canvas.height;
    for (let i = 0; i < data.length; i += 4) {
      const grey = 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
      sum += grey;
      squares += grey * grey;
    }
    const mean = sum / n;
    return {
      src: image.src.slice(0, 40),
      width: canvas.width,
      height: canvas.height,
      stdev: Math.sqrt(Math.max(0, squares / n - mean * mean)),
    };
  }, THUMBNAIL_IMAGE);
}

function payloadOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function headerOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe(`OHIF viewer ${OHIF_VERSION} logged in with OpenID Connect`, { timeout: 240_000 }, () => {
  let provider: TestOidcProvider;
  let gateway: TestGateway;
  let ohif: OhifServer | undefined;
  let browser: Browser | undefined;
  let studies: SeededStudy[];
  /** Why the viewer tests cannot run here (developer machine only). */
  let unavailable: string | undefined = hasChromium()
    ? undefined
    : `missing ${CHROMIUM_PATH} (apt-get install chromium); the OHIF end-to-end test needs a browser`;

  /** Like requireTools: skips on a developer machine without Chromium or the OHIF build; fails on CI. */
  function requireViewer(t: TestContext): boolean {
    if (!unavailable) return true;
    if (isCi()) throw new Error(`${unavailable}; CI is set, so this fails instead of skipping`);
    console.log(`# skipping the OHIF OIDC viewer test: ${unavailable}`);
    t.skip(unavailable);
    return false;
  }

  before(
    async () => {
      if (!unavailable) {
        try {
          ohif = await startOhifServer();
        } catch (error) {
          if (isCi()) throw error;
          unavailable = `the OHIF ${OHIF_VERSION} build could not be obtained: ${(error as Error).message.split('\n')[0]}`;
        }
      }
      const viewerOrigins = ohif ? [ohif.url] : [];
      provider = await startOidcProvider({
        audience: AUDIENCE,
        clientId: CLIENT_ID,
        corsOrigins: viewerOrigins,
      });
      gateway = await startTestGateway({
        http: { corsOrigins: viewerOrigins },
        auth: {
          tokens: [{ sha256: sha256Hex(SEED_TOKEN), scopes: ['write'], name: 'seeder' }],
          oidc: {
            issuer: provider.issuer,
            audience: AUDIENCE,
            jwksUri: provider.jwksUri,
            scopeClaim: 'scope',
            clockToleranceSeconds: 30,
          },
        },
      });
      studies = await seed(gateway);
      if (ohif) {
        ohif.configure(
          { gatewayUrl: gateway.httpUrl, imageRendering: 'wadors', thumbnailRendering: 'wadors' },
          { oidc: [oidcClient(provider)] },
        );
        browser = await launchChromium();
      }
    },
    { timeout: 300_000 },
  );

  after(async () => {
    await browser?.close();
    await gateway?.stop();
    await provider?.close();
    await ohif?.close();
  });

  test('without a browser: no token, an expired token or one without "read" is refused', async () => {
    const url = `${gateway.dicomweb}/studies`;
    const get = async (token?: string) => {
      const response = await fetch(url, {
        headers: { accept: 'application/dicom+json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      const text = await response.text();
      return { status: response.status, challenge: response.headers.get('www-authenticate') ?? '', text };
    };

    const anonymous = await get();
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.challenge, /^Bearer realm="dicomweb-gateway"/);

    const expired = await get(await provider.issueAccessToken({ expiresIn: -3600 }));
    assert.equal(expired.status, 401, expired.text);
    assert.match(expired.challenge, /error="invalid_token"/);
    assert.match(expired.text, /expired/);

    const noRead = await get(await provider.issueAccessToken({ scopes: ['openid', 'profile'] }));
    assert.equal(noRead.status, 403, noRead.text);
    assert.match((JSON.parse(noRead.text) as { message: string }).message, /needs the "read" scope/);

    const reader = await get(await provider.issueAccessToken({ scopes: ['openid', 'read'] }));
    assert.equal(reader.status, 200, reader.text);
    const listed = (JSON.parse(reader.text) as DicomJson[]).map((study) => value(study, '0020000D')).sort();
    assert.deepEqual(listed, studies.map((study) => study.studyInstanceUID).sort());
  });

  test(
    'OHIF logs in at the provider and uses the gateway with the bearer JWT',
    { timeout: 120_000 },
    async (t) => {
      if (!requireViewer(t)) return;
      assert.ok(ohif && browser);
      const viewer = ohif;
      const session = await openSession(browser, gateway.httpUrl, { name: 'oidc', localStorage: NO_TOURS });
      /** The Authorization header of every request the page sent the gateway. */
      const sent: { method: string; path: string; authorization: string | undefined }[] = [];
      const pendingHeaders: Promise<void>[] = [];
      session.page.on('request', (request) => {
        if (!request.url().startsWith(`${gateway.httpUrl}/`)) return;
        pendingHeaders.push(
          request
            .allHeaders()
            .catch(() => request.headers())
            .then((headers) => {
              sent.push({
                method: request.method(),
                path: new URL(request.url()).pathname,
                authorization: headers['authorization'],
              });
            }),
        );
      });
      const report = () =>
        [
          `provider events:\n  ${provider.events.map((e) => `${e.kind} ${e.ok ? 'ok' : 'REFUSED'}: ${e.detail}`).join('\n  ')}`,
          `failed gateway requests:\n  ${failedRequests(session.requests).join('\n  ') || 'none'}`,
          `browser errors:\n  ${session.errors.map((e) => e.text.split('\n')[0]).join('\n  ') || 'none'}`,
          `page: ${session.page.url()}`,
        ].join('\n');
      const { page } = session;
      /** Stops waiting a few seconds after the gateway or the provider refused one of the viewer's requests. */
      let refusedSince: number | undefined;
      const refused = (): string | undefined => {
        const byGateway = session.requests.some((r) => r.status === 401 || r.status === 403);
        const byProvider = provider.events.some((e) => !e.ok);
        if (!byGateway && !byProvider) return undefined;
        refusedSince ??= Date.now();
        if (Date.now() - refusedSince < 3_000) return undefined;
        return `the ${byGateway ? 'gateway' : 'provider'} refused a request of the viewer`;
      };

      try {
        await t.test(
          'opening OHIF redirects to the provider and back, and the study list shows the studies',
          async () => {
            await page.goto(`${viewer.url}/`);
            const expected = studies.map((study) => study.listedName).sort();
            let listed: string[] = [];
            await waitUntil(
              async () => {
                listed = (await page.locator(`${STUDY_ROWS} td:first-child`).allInnerTexts())
                  .map((text) => text.trim())
                  .sort();
                return listed.length === expected.length ? listed : undefined;
              },
              30_000,
              () =>
                `study list rows ${JSON.stringify(listed)}, expected ${JSON.stringify(expected)}\n${report()}`,
              refused,
            );
            assert.deepEqual(listed, expected);
            await session.screenshot('oidc-study-list');
            assert.equal(new URL(page.url()).origin, viewer.url, 'back on the viewer');
            assert.equal(new URL(page.url()).pathname, '/', 'back where the login started, not on /callback');

            const authorizations = provider.events.filter((e) => e.kind === 'authorize');
            const exchanges = provider.events.filter((e) => e.kind === 'token');
            assert.equal(authorizations.length, 1, report());
            assert.equal(authorizations[0]!.ok, true, report());
            assert.equal(authorizations[0]!.clientId, CLIENT_ID);
            assert.equal(authorizations[0]!.codeChallengeMethod, 'S256', 'OHIF used PKCE (S256)');
            assert.equal(exchanges.length, 1, report());
            assert.equal(exchanges[0]!.ok, true, report());
            assert.equal(exchanges[0]!.pkceVerified, true, 'the code_verifier matched the challenge');
            // oidc-client-ts fetched discovery and the token from the viewer's origin (CORS).
            const fromViewer = provider.requests
              .filter((r) => r.origin === viewer.url)
              .map((r) => `${r.method} ${r.path}`);
            assert.ok(fromViewer.includes('GET /.well-known/openid-configuration'), fromViewer.join(', '));
            assert.ok(fromViewer.includes('POST /token'), fromViewer.join(', '));

            await Promise.all(pendingHeaders);
            const searches = sent.filter((r) => r.method === 'GET' && r.path === '/dicom-web/studies');
            assert.ok(searches.length > 0, 'OHIF searched for studies (QIDO)');
            const [issued] = provider.issuedAccessTokens;
            assert.ok(issued);
            for (const search of searches) assert.equal(search.authorization, `Bearer ${issued}`);
            assert.match(issued, JWT);
            assert.equal(headerOf(issued).alg, 'RS256');
            const claims = payloadOf(issued);
            assert.equal(claims.iss, provider.issuer);
            assert.equal(claims.aud, AUDIENCE);
            assert.equal(claims.scope, 'openid profile read');
          },
        );

        await t.test(
          'a study opened from the list renders, with wadors thumbnails loaded with the token',
          async () => {
            const ct = studies[0]!;
            await page.locator(STUDY_ROWS, { hasText: ct.listedName }).click();
            await page.getByRole('button', { name: 'Basic Viewer' }).click();
            await page.waitForURL(/\/viewer\?/);
            assert.match(
              page.url(),
              new RegExp(`StudyInstanceUIDs=${ct.studyInstanceUID.replace(/\./g, '\\.')}`),
            );
            let last: CanvasStats | undefined;
            await waitUntil(
              async () => {
                last = await canvasStats(page, VIEWPORT_CANVAS).catch(() => undefined);
                return last && last.stdev >= MIN_STDEV ? last : undefined;
              },
              30_000,
              () =>
                `CT image: ${last ? `stdev ${last.stdev.toFixed(1)}` : 'no viewport canvas'}\n${report()}`,
              refused,
            );
            await session.screenshot('oidc-ct', VIEWPORT);
            let thumbnail: Awaited<ReturnType<typeof thumbnailStats>>;
            await waitUntil(
              async () => {
                thumbnail = await thumbnailStats(page).catch(() => undefined);
                return thumbnail && thumbnail.stdev >= MIN_STDEV ? thumbnail : undefined;
              },
              20_000,
              () => `thumbnail: ${JSON.stringify(thumbnail)}\n${report()}`,
              refused,
            );
            assert.match(thumbnail!.src, /^data:image\//, 'rendered in the browser from WADO-RS frames');
            await Promise.all(pendingHeaders);
            const frames = sent.filter((r) => /\/frames\//.test(r.path));
            assert.ok(frames.length > 0, 'pixel data came as WADO-RS frames');
            assert.ok(
              sent.some((r) => /\/metadata$/.test(r.path)),
              'OHIF read the metadata',
            );
          },
        );

        await t.test(
          'a viewer link opened in a fresh page logs in again and lands on the study',
          async () => {
            const checker = studies[1]!;
            await session.waitForIdle(300, 15_000).catch(() => undefined);
            const before = provider.issuedAccessTokens.length;
            await page.goto(`${viewer.url}/viewer?StudyInstanceUIDs=${checker.studyInstanceUID}`);
            let last: CanvasStats | undefined;
            await waitUntil(
              async () => {
                last = await canvasStats(page, VIEWPORT_CANVAS).catch(() => undefined);
                return last && last.stdev >= MIN_STDEV ? last : undefined;
              },
              30_000,
              () =>
                `checkerboard image: ${last ? `stdev ${last.stdev.toFixed(1)}` : 'no viewport canvas'}\n${report()}`,
              refused,
            );
            assert.equal(provider.issuedAccessTokens.length, before + 1, 'a second login round trip');
            const url = new URL(page.url());
            assert.equal(url.pathname, '/viewer');
            assert.equal(url.searchParams.get('StudyInstanceUIDs'), checker.studyInstanceUID);
            await session.screenshot('oidc-link', VIEWPORT);
          },
        );

        await t.test(
          'every gateway request carried a JWT the provider issued, and none was refused',
          async () => {
            await session.waitForIdle(500, 15_000).catch(() => undefined);
            await Promise.all(pendingHeaders);
            assert.ok(sent.length > 0);
            const issued = new Set(provider.issuedAccessTokens.map((token) => `Bearer ${token}`));
            const without = sent.filter((r) => !r.authorization || !issued.has(r.authorization));
            assert.deepEqual(
              without.map(
                (r) => `${r.method} ${r.path}: ${r.authorization ? 'another token' : 'no Authorization'}`,
              ),
              [],
            );
            const denied = session.requests.filter((r) => r.status === 401 || r.status === 403);
            assert.deepEqual(
              denied.map((r) => `${r.status} ${r.method} ${r.path}`),
              [],
            );
            assert.deepEqual(failedRequests(session.requests), [], report());
            assert.equal(
              provider.events.filter((e) => !e.ok).length,
              0,
              `the provider refused nothing\n${report()}`,
            );
          },
        );

        await t.test(
          "a 401 and its WWW-Authenticate challenge are readable from the viewer's origin",
          async () => {
            const answer = await page.evaluate(async (url) => {
              const response = await fetch(url, { headers: { accept: 'application/dicom+json' } });
              return { status: response.status, challenge: response.headers.get('www-authenticate') };
            }, `${gateway.dicomweb}/studies`);
            assert.equal(answer.status, 401);
            assert.match(answer.challenge ?? '', /^Bearer realm="dicomweb-gateway"/);
          },
        );
      } finally {
        await session.screenshot('oidc-last').catch(() => undefined);
        t.diagnostic(`request log: ${await session.saveLog('oidc')}`);
        for (const line of requestSummary(session.requests)) t.diagnostic(line);
        for (const e of provider.events)
          t.diagnostic(`provider: ${e.kind} ${e.ok ? 'ok' : 'REFUSED'} ${e.detail}`);
        await session.close();
      }
    },
  );
});
