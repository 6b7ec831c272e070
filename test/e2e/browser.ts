/**
 * Headless Chromium for end-to-end tests, driven with playwright-core. It uses Debian's /usr/bin/chromium
 * (apt package chromium) and never downloads a browser. A BrowserSession records what matters when a
 * viewer test fails: every request to the gateway with its status, console errors and page errors, and
 * screenshots saved under test/.cache/e2e-artifacts/.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import { CACHE_ROOT } from './ohif-app.js';

export const CHROMIUM_PATH = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS_DIR = join(CACHE_ROOT, 'e2e-artifacts');

export function hasChromium(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  // WebGL through SwiftShader (software), which cornerstone3D renders with; no GPU here.
  '--use-gl=angle',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--ignore-gpu-blocklist',
];

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

export interface RecordedRequest {
  method: string;
  url: string;
  /** Path and query, relative to the recorded origin. */
  path: string;
  accept: string;
  /** Content-Type of a request with a body (STOW), boundary elided; '' otherwise. */
  contentType: string;
  resourceType: string;
  /** HTTP status, or 0 when the request failed without a response (network, CORS, abort). */
  status: number;
  failure?: string;
}

export interface ConsoleEntry {
  type: string;
  text: string;
  location?: string;
}

export interface BrowserSession {
  /** Prefix of this session's artifacts. */
  name: string;
  context: BrowserContext;
  page: Page;
  /** Requests to the recorded origin, in the order they finished. */
  requests: RecordedRequest[];
  /** Console errors and uncaught page errors. */
  errors: ConsoleEntry[];
  /** Requests still in flight (sent, not finished or failed). */
  pending(): number;
  /** Waits until no request to the recorded origin has been in flight for `quietMs`. */
  waitForIdle(quietMs?: number, timeoutMs?: number): Promise<void>;
  /** Saves a PNG of the page (or of one element) as ARTIFACTS_DIR/<name>.png and returns its path. */
  screenshot(name: string, selector?: string): Promise<string>;
  /** Writes the request log and errors as ARTIFACTS_DIR/<name>.json. */
  saveLog(name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * A new browser context and page that records every request whose URL starts with `recordOrigin` (the
 * gateway). Nothing else is recorded, so the viewer's own assets do not drown the log.
 */
export async function openSession(
  browser: Browser,
  recordOrigin: string,
  options: {
    /** Prefix of this session's artifacts; default 'session'. */
    name?: string;
    viewport?: { width: number; height: number };
    /** Set in the page's localStorage before any of its scripts run (e.g. to skip onboarding tours). */
    localStorage?: Record<string, string>;
  } = {},
): Promise<BrowserSession> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    serviceWorkers: 'block',
  });
  if (options.localStorage) {
    await context.addInitScript((entries: Record<string, string>) => {
      const storage = (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } })
        .localStorage;
      for (const [key, value] of Object.entries(entries)) storage.setItem(key, value);
    }, options.localStorage);
  }
  const page = await context.newPage();
  const requests: RecordedRequest[] = [];
  const errors: ConsoleEntry[] = [];
  const inFlight = new Set<Request>();
  let lastActivity = Date.now();
  const origin = recordOrigin.replace(/\/+$/, '');
  const recorded = (request: Request): boolean => request.url().startsWith(`${origin}/`);

  const record = async (request: Request, failure?: string): Promise<void> => {
    inFlight.delete(request);
    lastActivity = Date.now();
    const response = failure === undefined ? await request.response().catch(() => null) : null;
    const headers = await request.allHeaders().catch(() => request.headers());
    const url = new URL(request.url());
    requests.push({
      method: request.method(),
      url: request.url(),
      path: `${url.pathname}${url.search}`,
      accept: headers['accept'] ?? '',
      contentType: (headers['content-type'] ?? '').replace(/boundary=("[^"]*"|[^;\s]*)/i, 'boundary=…'),
      resourceType: request.resourceType(),
      status: response?.status() ?? 0,
      ...(failure === undefined ? {} : { failure }),
    });
  };

  page.on('request', (request) => {
    if (!recorded(request)) return;
    inFlight.add(request);
    lastActivity = Date.now();
  });
  page.on('requestfinished', (request) => {
    if (recorded(request)) void record(request);
  });
  page.on('requestfailed', (request) => {
    if (recorded(request)) void record(request, request.failure()?.errorText ?? 'failed');
  });
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const { url, lineNumber } = message.location();
    errors.push({ type: 'console', text: message.text(), location: url ? `${url}:${lineNumber}` : '' });
  });
  page.on('pageerror', (error) => errors.push({ type: 'pageerror', text: String(error.stack ?? error) }));

  return {
    name: options.name ?? 'session',
    context,
    page,
    requests,
    errors,
    pending: () => inFlight.size,
    async waitForIdle(quietMs = 500, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (inFlight.size === 0 && Date.now() - lastActivity >= quietMs) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`requests to ${origin} still in flight after ${timeoutMs} ms: ${inFlight.size}`);
    },
    async screenshot(name, selector) {
      await mkdir(ARTIFACTS_DIR, { recursive: true });
      const path = join(ARTIFACTS_DIR, `${name}.png`);
      if (selector) await page.locator(selector).first().screenshot({ path });
      else await page.screenshot({ path });
      return path;
    },
    async saveLog(name) {
      await mkdir(ARTIFACTS_DIR, { recursive: true });
      const path = join(ARTIFACTS_DIR, `${name}.json`);
      await writeFile(path, JSON.stringify({ requests, errors }, null, 2));
      return path;
    },
    async close() {
      await context.close();
    },
  };
}

/**
 * A request as "METHOD path?query | Accept: ..." with study, series and instance UIDs replaced by {study},
 * {series}, {instance} (query UIDs by {uid}), frame lists by {frames}, and paging and date values elided:
 * what the viewer asks of the gateway, independent of the data.
 */
export function requestShape(r: RecordedRequest): string {
  const url = new URL(r.url);
  const path = url.pathname
    .replace(/\/studies\/[0-9.]+/, '/studies/{study}')
    .replace(/\/series\/[0-9.]+/, '/series/{series}')
    .replace(/\/instances\/[0-9.]+/, '/instances/{instance}')
    .replace(/\/frames\/[0-9,%C]+/i, '/frames/{frames}');
  const query = [...url.searchParams.entries()]
    .map(([key, value]) => {
      if (/^[0-9.]+$/.test(value) && value.includes('.')) return `${key}={uid}`;
      if (/^(limit|offset|StudyDate|00080020)$/i.test(key)) return `${key}=…`;
      return `${key}=${value}`;
    })
    .join('&');
  const body = r.contentType ? ` | Content-Type: ${r.contentType}` : '';
  return `${r.method} ${path}${query ? `?${query}` : ''} | Accept: ${r.accept || '-'}${body}`;
}

/** The distinct request shapes of a log, each with the statuses it was answered with. */
export function requestSummary(requests: RecordedRequest[]): string[] {
  const lines = new Map<string, Set<number | string>>();
  for (const r of requests) {
    const key = requestShape(r);
    const statuses = lines.get(key) ?? new Set<number | string>();
    statuses.add(r.status || r.failure || 0);
    lines.set(key, statuses);
  }
  return [...lines.entries()].map(([key, statuses]) => `${key} -> ${[...statuses].join(', ')}`);
}

/**
 * Requests answered 4xx/5xx or failing without an answer (CORS, network; not those the page aborted), grouped by shape, one line per group with its
 * count and one real path, for assertion messages. Empty when nothing failed.
 */
export function failedRequests(requests: RecordedRequest[]): string[] {
  const groups = new Map<string, { count: number; example: string }>();
  for (const r of requests) {
    if (r.status !== 0 && r.status < 400) continue;
    // Cancelled by the page (navigation, a prefetch the viewer no longer needs): not the gateway's doing.
    if (r.status === 0 && r.failure === 'net::ERR_ABORTED') continue;
    const key = `${r.status || r.failure} ${requestShape(r)}`;
    const group = groups.get(key) ?? { count: 0, example: r.path };
    group.count++;
    groups.set(key, group);
  }
  return [...groups.entries()].map(([key, { count, example }]) => `${key} (x${count}, e.g. ${example})`);
}

/** Grey-level statistics of a canvas, read in the page, and a coarse signature to compare two images. */
export interface CanvasStats {
  width: number;
  height: number;
  mean: number;
  stdev: number;
  /** Mean grey level of each cell of a SIGNATURE_GRID x SIGNATURE_GRID grid, row by row. */
  signature: number[];
}

export const SIGNATURE_GRID = 16;

interface PageCanvas {
  width: number;
  height: number;
  getContext(type: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
  };
}

/**
 * Reads the pixels of the first canvas matching `selector` through its 2D context (cornerstone draws each
 * viewport into a 2D canvas; overlays are separate DOM elements, so they are not counted). Undefined when
 * there is no such canvas yet or it has no size.
 */
export async function canvasStats(page: Page, selector: string): Promise<CanvasStats | undefined> {
  return page.evaluate(
    ({ selector, grid }) => {
      const doc = (globalThis as unknown as { document: { querySelector(s: string): PageCanvas | null } })
        .document;
      const canvas = doc.querySelector(selector);
      if (!canvas || canvas.width === 0 || canvas.height === 0) return undefined;
      const { width, height } = canvas;
      const { data } = canvas.getContext('2d').getImageData(0, 0, width, height);
      const cells = new Array<number>(grid * grid).fill(0);
      const counts = new Array<number>(grid * grid).fill(0);
      let sum = 0;
      let sumSquares = 0;
      for (let y = 0; y < height; y++) {
        const row = Math.floor((y * grid) / height) * grid;
        for (let x = 0; x < width; x++) {
          const i = (y * width + x) * 4;
          const grey = 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
          sum += grey;
          sumSquares += grey * grey;
          const cell = row + Math.floor((x * grid) / width);
          cells[cell]! += grey;
          counts[cell]! += 1;
        }
      }
      const n = width * height;
      const mean = sum / n;
      return {
        width,
        height,
        mean,
        stdev: Math.sqrt(Math.max(0, sumSquares / n - mean * mean)),
        signature: cells.map((total, i) => total / Math.max(1, counts[i]!)),
      };
    },
    { selector, grid: SIGNATURE_GRID },
  );
}

/** Mean absolute difference of two signatures, in grey levels (0 = same picture). */
export function signatureDistance(a: CanvasStats, b: CanvasStats): number {
  let total = 0;
  for (let i = 0; i < a.signature.length; i++) total += Math.abs(a.signature[i]! - (b.signature[i] ?? 0));
  return total / a.signature.length;
}

/** Polls `probe` until it returns a value; fails after `timeoutMs`, or early once `giveUp` names a reason. */
export async function waitUntil<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  describe: () => string,
  giveUp?: () => string | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await probe().catch((error: unknown) => {
      // A navigation (OHIF's routing, a login redirect) replaced the page under the probe: try again.
      if (error instanceof Error && /Execution context was destroyed|navigation/i.test(error.message)) {
        return undefined;
      }
      throw error;
    });
    if (result !== undefined) return result;
    const reason = giveUp?.();
    if (reason) throw new Error(`${describe()}: given up, ${reason}`);
    if (Date.now() > deadline) throw new Error(`${describe()}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
