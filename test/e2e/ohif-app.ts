/**
 * The real OHIF viewer (npm package @ohif/app, whose tarball's dist/ is the built app) for end-to-end
 * tests: fetched on demand with `npm pack` into test/.cache/ohif-<version>/ (never committed), and served
 * from a small static server on 127.0.0.1 (its own port, so a different origin from the gateway), with a
 * generated app-config.js whose one DICOMweb data source is the gateway under test.
 */
import { execFile as execFileCallback } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { access, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../helpers/gateway.js';

const execFile = promisify(execFileCallback);

export const OHIF_VERSION = '3.13.2';
export const CACHE_ROOT = join(PROJECT_ROOT, 'test', '.cache');
export const OHIF_CACHE_DIR = join(CACHE_ROOT, `ohif-${OHIF_VERSION}`);
/** Written last, so a half-extracted cache is never taken for a complete one. */
const COMPLETE_MARKER = '.complete';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The directory of OHIF's built app (`.../dist`, with index.html). The first call downloads the package
 * tarball with the npm client (about 50 MB) and extracts it; later calls use the cache.
 */
export async function ensureOhifDist(): Promise<string> {
  const dist = join(OHIF_CACHE_DIR, 'package', 'dist');
  if (await exists(join(OHIF_CACHE_DIR, COMPLETE_MARKER))) return dist;
  await mkdir(CACHE_ROOT, { recursive: true });
  const work = await mkdtemp(join(CACHE_ROOT, `.ohif-${OHIF_VERSION}-`));
  try {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const { stdout } = await execFile(
      npm,
      ['pack', `@ohif/app@${OHIF_VERSION}`, '--pack-destination', work, '--json', '--silent'],
      { maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
    );
    const [packed] = JSON.parse(stdout) as { filename: string }[];
    if (!packed) throw new Error(`npm pack @ohif/app@${OHIF_VERSION} printed no file name: ${stdout}`);
    const extracted = join(work, 'extracted');
    await mkdir(extracted);
    await execFile('tar', ['-xzf', join(work, packed.filename), '-C', extracted], { timeout: 300_000 });
    if (!(await exists(join(extracted, 'package', 'dist', 'index.html')))) {
      throw new Error(`@ohif/app@${OHIF_VERSION}: the tarball has no package/dist/index.html`);
    }
    await writeFile(join(extracted, COMPLETE_MARKER), `${new Date().toISOString()}\n`);
    try {
      await rename(extracted, OHIF_CACHE_DIR);
    } catch (error) {
      // Another test process filled the cache first: use that one.
      if (!(await exists(join(OHIF_CACHE_DIR, COMPLETE_MARKER)))) throw error;
    }
    return dist;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface OhifDataSourceOptions {
  /** Gateway origin, e.g. http://127.0.0.1:41234. */
  gatewayUrl: string;
  /** DICOMweb root path on the gateway; default /dicom-web. */
  dicomwebPath?: string;
  /** WADO-URI path on the gateway; default /wado. */
  wadoUriPath?: string;
  /** How the viewer loads pixel data: WADO-RS frames or WADO-URI whole instances. Default 'wadors'. */
  imageRendering?: 'wadors' | 'wadouri';
  /** 'wadors' renders thumbnails in the browser from frames; the others ask the server. Default 'wadors'. */
  thumbnailRendering?: 'wadors' | 'thumbnailDirect' | 'thumbnail' | 'rendered';
  /** true: series-level metadata fetched series by series; false: one study-level /metadata. Default true. */
  enableStudyLazyLoad?: boolean;
  /** Retrieve these types (bulkdata, video, image, pdf) as single parts; false = always multipart. */
  singlepart?: string | false;
  /** Whether OHIF may append `includefield` to QIDO searches. Default false. */
  qidoSupportsIncludeField?: boolean;
  supportsFuzzyMatching?: boolean;
  /** Default true. */
  dicomUploadEnabled?: boolean;
  /** Anything else for the data source's `configuration` (overrides the above). */
  extra?: Record<string, unknown>;
}

export const DATA_SOURCE_NAME = 'gateway';

/** The data source `configuration` object of OHIF's DICOMweb data source for the gateway. */
export function dataSourceConfiguration(options: OhifDataSourceOptions): Record<string, unknown> {
  const base = options.gatewayUrl.replace(/\/+$/, '');
  const dicomweb = `${base}${options.dicomwebPath ?? '/dicom-web'}`;
  return {
    friendlyName: 'dicomweb-gateway under test',
    name: 'gateway',
    qidoRoot: dicomweb,
    wadoRoot: dicomweb,
    wadoUriRoot: `${base}${options.wadoUriPath ?? '/wado'}`,
    qidoSupportsIncludeField: options.qidoSupportsIncludeField ?? true,
    supportsReject: false,
    imageRendering: options.imageRendering ?? 'wadors',
    thumbnailRendering: options.thumbnailRendering ?? 'wadors',
    enableStudyLazyLoad: options.enableStudyLazyLoad ?? true,
    supportsFuzzyMatching: options.supportsFuzzyMatching ?? true,
    supportsWildcard: true,
    staticWado: false,
    singlepart: options.singlepart ?? 'bulkdata,video,pdf',
    omitQuotationForMultipartRequest: true,
    dicomUploadEnabled: options.dicomUploadEnabled ?? true,
    bulkDataURI: { enabled: true, relativeResolution: 'studies' },
    ...options.extra,
  };
}

/**
 * One entry of OHIF's top-level `oidc` app-config array (OHIF uses the first). With response_type 'code'
 * OHIF 3.13 hands it to oidc-client-ts's UserManager (authorization code flow with PKCE); redirect_uri,
 * silent_redirect_uri and post_logout_redirect_uri may be paths, made absolute on the viewer's origin.
 */
export interface OhifOidcClient {
  /** The issuer; its discovery document is `<authority>/.well-known/openid-configuration`. */
  authority: string;
  client_id: string;
  /** Default '/callback'. */
  redirect_uri?: string;
  response_type: 'code';
  scope: string;
  /** Default '/': OHIF routes this path to its sign-out callback, so give it a path of its own. */
  post_logout_redirect_uri?: string;
  silent_redirect_uri?: string;
  automaticSilentRenew?: boolean;
  revokeAccessTokenOnSignout?: boolean;
  /** Any other oidc-client-ts UserManager setting. */
  [setting: string]: unknown;
}

/** App-wide settings of the generated app-config.js besides the data source. */
export interface OhifAppOptions {
  /** Log in with OpenID Connect; OHIF then sends `Authorization: Bearer <access token>` to the data source. */
  oidc?: OhifOidcClient[];
}

/**
 * The app-config.js served instead of the one in dist: OHIF's secure default (no extra data sources, no
 * dynamic config, no service worker), one DICOMweb data source pointing at the gateway.
 */
export function appConfigJs(options: OhifDataSourceOptions, app: OhifAppOptions = {}): string {
  const config = {
    name: 'dicomweb-gateway e2e',
    routerBasename: '/',
    ...(app.oidc ? { oidc: app.oidc } : {}),
    extensions: [],
    modes: [],
    customizationService: {},
    showStudyList: true,
    maxNumberOfWebWorkers: 2,
    showWarningMessageForCrossOrigin: false,
    showCPUFallbackMessage: false,
    showLoadingIndicator: true,
    strictZSpacingForVolumeViewport: true,
    investigationalUseDialog: { option: 'never' },
    maxNumRequests: { interaction: 100, thumbnail: 5, prefetch: 10 },
    showErrorDetails: 'always',
    defaultDataSourceName: DATA_SOURCE_NAME,
    dataSources: [
      {
        namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
        sourceName: DATA_SOURCE_NAME,
        configuration: dataSourceConfiguration(options),
      },
    ],
  };
  return `/** Generated by test/e2e/ohif-app.ts. */\nwindow.config = ${JSON.stringify(config, null, 2)};\n`;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.jsonc': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webapp': 'application/x-web-app-manifest+json',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.xml': 'application/xml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.onnx': 'application/octet-stream',
};

export interface OhifServerOptions {
  /** Built app directory; default: ensureOhifDist(). */
  dist?: string;
  /**
   * Send COOP same-origin + COEP require-corp (cross-origin isolation, as OHIF's deployment docs advise so
   * SharedArrayBuffer is available). OHIF 3.13 runs without it, but with it every cross-origin response
   * from the gateway must carry CORS or Cross-Origin-Resource-Policy headers, which is worth testing.
   * Default true.
   */
  crossOriginIsolation?: boolean;
}

export interface OhifServer {
  /** e.g. http://127.0.0.1:41235: the origin to allow in the gateway's http.corsOrigins. */
  url: string;
  /**
   * Sets the data source that app-config.js describes from now on (pages loaded before keep theirs). The
   * server starts before the gateway, whose CORS configuration needs this server's origin, so this comes
   * after start-up; app-config.js answers 503 until it is called. `app` adds app-wide settings (OIDC).
   */
  configure(options: OhifDataSourceOptions, app?: OhifAppOptions): string;
  /** The app-config.js being served, or undefined before configure(). */
  appConfig(): string | undefined;
  /** Requests this server answered 404 (missing assets), for failure messages. */
  notFound: string[];
  close(): Promise<void>;
}

/** Serves OHIF's dist on 127.0.0.1 (port 0), SPA-style: unknown non-asset paths get index.html. */
export async function startOhifServer(options: OhifServerOptions = {}): Promise<OhifServer> {
  const dist = options.dist ?? (await ensureOhifDist());
  let appConfig: string | undefined;
  const isolation = options.crossOriginIsolation ?? true;
  const notFound: string[] = [];

  const sendFile = async (response: ServerResponse, path: string, method: string): Promise<boolean> => {
    let size: number;
    try {
      const info = await stat(path);
      if (!info.isFile()) return false;
      size = info.size;
    } catch {
      return false;
    }
    const extension = extname(path).toLowerCase();
    response.writeHead(200, {
      'content-type': CONTENT_TYPES[extension] ?? 'application/octet-stream',
      'content-length': size,
      // Pages and their config are always fresh; assets may be reused by the browser between page loads of
      // one context (the test opens several studies), which keeps the test fast.
      'cache-control': extension === '.html' ? 'no-store' : 'max-age=3600',
    });
    if (method === 'HEAD') {
      response.end();
      return true;
    }
    await new Promise<void>((resolve) => {
      const stream = createReadStream(path);
      stream.on('error', () => {
        response.destroy();
        resolve();
      });
      stream.on('end', () => resolve());
      stream.pipe(response);
    });
    return true;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (isolation) {
      response.setHeader('cross-origin-opener-policy', 'same-origin');
      response.setHeader('cross-origin-embedder-policy', 'require-corp');
    }
    const method = request.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    } catch {
      response.writeHead(400).end();
      return;
    }
    if (pathname === '/app-config.js') {
      if (appConfig === undefined) {
        response.writeHead(503, { 'content-type': 'text/plain' }).end('data source not configured yet');
        return;
      }
      const body = Buffer.from(appConfig);
      response.writeHead(200, {
        'content-type': CONTENT_TYPES['.js']!,
        'content-length': body.length,
        'cache-control': 'no-store',
      });
      response.end(method === 'HEAD' ? undefined : body);
      return;
    }
    const path = normalize(join(dist, pathname));
    if (path !== dist && !path.startsWith(dist + sep)) {
      response.writeHead(403).end();
      return;
    }
    if (await sendFile(response, path, method)) return;
    // SPA fallback: the app's routes (/, /viewer, /viewer/dicomweb ...) are index.html; a missing asset
    // (a path with an extension that is not a page) is a 404, so broken loads are not hidden.
    const extension = extname(pathname);
    if (extension === '' || extension === '.html') {
      await sendFile(response, join(dist, 'index.html'), method);
      return;
    }
    notFound.push(pathname);
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    configure(dataSource, app) {
      appConfig = appConfigJs(dataSource, app);
      return appConfig;
    },
    appConfig: () => appConfig,
    notFound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
