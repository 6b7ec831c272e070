/**
 * CORS for browser viewers on another origin (OHIF). Allowed origins come from http.corsOrigins; none by
 * default, because with "*" any web page a user visits could read patient data from a gateway on their
 * own machine. Preflights are answered directly and cached by the browser for a day.
 */
import type { FastifyInstance } from 'fastify';

const ALLOWED_HEADERS =
  'Authorization, Accept, Content-Type, Range, If-None-Match, If-Modified-Since, X-Request-Id';
const EXPOSED_HEADERS =
  'Content-Type, Content-Length, Content-Range, Content-Location, ETag, Warning, X-Request-Id, WWW-Authenticate';
const METHODS = 'GET, HEAD, POST, DELETE, OPTIONS';

export function installCors(app: FastifyInstance, allowedOrigins: string[]): void {
  const any = allowedOrigins.includes('*');
  const allowed = new Set(allowedOrigins);
  const originAllowed = (origin: string | undefined): origin is string =>
    origin !== undefined && (any || allowed.has(origin));

  app.addHook('onRequest', async (request, reply) => {
    // Lets COEP pages (OHIF) embed thumbnails and documents from here, with or without CORS.
    reply.header('cross-origin-resource-policy', 'cross-origin');
    const origin = request.headers.origin;
    if (!originAllowed(origin)) return;
    reply.header('access-control-allow-origin', any ? '*' : origin);
    if (!any) reply.header('vary', 'Origin');
    reply.header('access-control-expose-headers', EXPOSED_HEADERS);
  });

  app.options('*', async (request, reply) => {
    const origin = request.headers.origin;
    if (!originAllowed(origin)) return reply.code(204).send();
    const requested = request.headers['access-control-request-headers'];
    return reply
      .code(204)
      .header('access-control-allow-methods', METHODS)
      .header(
        'access-control-allow-headers',
        requested ? `${ALLOWED_HEADERS}, ${requested}` : ALLOWED_HEADERS,
      )
      .header('access-control-max-age', '86400')
      .send();
  });
}
