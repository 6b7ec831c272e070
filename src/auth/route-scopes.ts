/**
 * Which scope a request needs, from its method and its route alone, so no route can be added without a
 * rule: anything not listed needs `read` (GET/HEAD) or `admin` (any other method).
 *
 * | request                                                        | needs                            |
 * | -------------------------------------------------------------- | -------------------------------- |
 * | OPTIONS (CORS preflight; browsers send it without credentials) | public                           |
 * | GET/HEAD /health, /ready                                       | public                           |
 * | GET/HEAD …/thumbnail under the DICOMweb root                   | public if publicThumbnails, read |
 * | GET/HEAD anything else (QIDO, WADO-RS, rendered, /wado, 404s)  | read                             |
 * | POST <root>/studies, <root>/studies/{study} (STOW-RS)          | write                            |
 * | /metrics, anything under /admin or <root>/admin                | admin                            |
 * | DELETE, PUT, PATCH and any other POST (reindex, …)             | admin                            |
 *
 * `/metrics` needs admin rather than being public: it says how much is stored and who calls, and on a
 * loopback address behind a reverse proxy every caller looks local, so "public on loopback" would
 * expose it. Give the scraper its own token (`"scopes": ["admin"]`), or run without auth on loopback.
 *
 * Pass the matched route pattern (`request.routeOptions.url`, e.g. `/dicom-web/studies/:study/thumbnail`)
 * rather than the raw path: the router decodes percent escapes and a wildcard route (bulkdata) can end in
 * any text, so only the pattern says which handler will run.
 */
import type { Scope } from './auth-config.js';

export type Requirement = Scope | 'public';

export interface RouteScopeOptions {
  /** DICOMweb path prefix, e.g. `/dicom-web`, or `` for the server root. */
  root: string;
  /** Thumbnails answer without credentials. */
  publicThumbnails: boolean;
}

const PUBLIC_PATHS = new Set(['/health', '/ready']);
const ADMIN_PATHS = new Set(['/metrics']);

/** `…/studies/{s}[/series/{s}[/instances/{i}[/frames/{f}]]]/thumbnail`, after the root. */
const THUMBNAIL = /^\/studies\/[^/]+(\/series\/[^/]+(\/instances\/[^/]+(\/frames\/[^/]+)?)?)?\/thumbnail$/;
/** STOW-RS targets, after the root. */
const STOW = /^\/studies(\/[^/]+)?$/;

/** The path without query string, fragment or trailing slashes (`/` stays `/`). */
export function normalizePath(url: string): string {
  const path = url.split(/[?#]/, 1)[0] ?? '';
  return path.replace(/\/+$/, '') || '/';
}

/** The part of `path` under `root`, or undefined when it is outside. */
function underRoot(path: string, root: string): string | undefined {
  if (root === '') return path;
  if (path === root) return '/';
  return path.startsWith(`${root}/`) ? path.slice(root.length) : undefined;
}

function isAdminPath(path: string, root: string): boolean {
  if (ADMIN_PATHS.has(path) || path === '/admin' || path.startsWith('/admin/')) return true;
  const inner = underRoot(path, root);
  return inner !== undefined && (inner === '/admin' || inner.startsWith('/admin/'));
}

export function requiredScope(method: string, url: string, options: RouteScopeOptions): Requirement {
  const verb = method.toUpperCase();
  const path = normalizePath(url);
  const root = normalizePath(options.root) === '/' ? '' : normalizePath(options.root);
  if (verb === 'OPTIONS') return 'public';
  if (isAdminPath(path, root)) return 'admin';
  const inner = underRoot(path, root);
  if (verb === 'GET' || verb === 'HEAD') {
    if (PUBLIC_PATHS.has(path)) return 'public';
    if (options.publicThumbnails && inner !== undefined && THUMBNAIL.test(inner)) return 'public';
    return 'read';
  }
  if (verb === 'POST' && inner !== undefined && STOW.test(inner)) return 'write';
  return 'admin';
}
