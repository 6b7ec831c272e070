/**
 * installAuth on a small fastify app shaped like the gateway: the real error handler and CORS, and dummy
 * handlers on every route pattern the gateway serves (plus DELETE, /ready, /metrics and an admin route),
 * so each route kind is checked through fastify's router, hooks and error handling.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { DEFAULT_AUTH_CONFIG, type AuthConfig } from '../../../src/auth/auth-config.js';
import { installAuth } from '../../../src/auth/auth-plugin.js';
import { hashPassword, sha256Hex } from '../../../src/auth/password-hash.js';
import { installCors } from '../../../src/http/cors.js';
import { installErrorHandler } from '../../../src/http/error-handler.js';
import { startTestIssuer, type TestIssuer } from './oidc-fixture.js';

const ROOT = '/dicom-web';
const ORIGIN = 'http://viewer.example';
const TOKENS = {
  read: 'read-token-0123456789abcdefghijklmnopqrstuvwxyz',
  write: 'write-token-0123456789abcdefghijklmnopqrstuvwxyz',
  admin: 'admin-token-0123456789abcdefghijklmnopqrstuvwxyz',
  none: 'metrics-only-0123456789abcdefghijklmnopqrstuvwxyz',
};

const silent = { info: () => undefined, warn: () => undefined };

async function buildApp(auth: AuthConfig | undefined): Promise<FastifyInstance> {
  const app = Fastify({ routerOptions: { maxParamLength: 256, ignoreTrailingSlash: true } });
  installErrorHandler(app);
  installCors(app, [ORIGIN]);
  installAuth(app, { auth, root: ROOT, log: silent });
  const handler = async (request: { principal: unknown }) => ({ ok: true, principal: request.principal });
  app.get('/health', handler);
  app.get('/ready', handler);
  app.get('/metrics', handler);
  app.get('/wado', handler);
  app.post('/admin/reindex', handler);
  await app.register(
    async (dicomweb) => {
      for (const path of ['/studies', '/series', '/instances', '/studies/:study/series'])
        dicomweb.get(path, handler);
      dicomweb.get('/studies/:study/instances', handler);
      dicomweb.get('/studies/:study/series/:series/instances', handler);
      const levels = ['/studies/:study', '/studies/:study/series/:series'];
      const instance = '/studies/:study/series/:series/instances/:instance';
      for (const path of [...levels, instance]) {
        dicomweb.get(path, handler);
        dicomweb.get(`${path}/metadata`, handler);
        dicomweb.get(`${path}/rendered`, handler);
        dicomweb.get(`${path}/thumbnail`, handler);
        dicomweb.delete(path, handler);
      }
      dicomweb.get(`${instance}/frames/:frames`, handler);
      dicomweb.get(`${instance}/frames/:frames/rendered`, handler);
      dicomweb.get(`${instance}/frames/:frames/thumbnail`, handler);
      dicomweb.get(`${instance}/bulkdata/*`, handler);
      dicomweb.post('/studies', handler);
      dicomweb.post('/studies/:study', handler);
    },
    { prefix: ROOT },
  );
  await app.ready();
  return app;
}

const STUDY = `${ROOT}/studies/1.2.3`;
const INSTANCE = `${STUDY}/series/1.2.3.4/instances/1.2.3.4.5`;

/** One request of every route kind, with the scope it needs. */
const ROUTES: { name: string; method: 'GET' | 'HEAD' | 'POST' | 'DELETE'; url: string; needs: string }[] = [
  { name: 'QIDO studies', method: 'GET', url: `${ROOT}/studies?PatientID=1`, needs: 'read' },
  { name: 'QIDO instances', method: 'GET', url: `${STUDY}/series/1.2.3.4/instances`, needs: 'read' },
  { name: 'WADO instance', method: 'GET', url: INSTANCE, needs: 'read' },
  { name: 'WADO HEAD', method: 'HEAD', url: INSTANCE, needs: 'read' },
  { name: 'metadata', method: 'GET', url: `${STUDY}/metadata`, needs: 'read' },
  { name: 'frames', method: 'GET', url: `${INSTANCE}/frames/1,2`, needs: 'read' },
  { name: 'bulkdata', method: 'GET', url: `${INSTANCE}/bulkdata/7FE00010`, needs: 'read' },
  { name: 'rendered', method: 'GET', url: `${INSTANCE}/frames/1/rendered`, needs: 'read' },
  { name: 'thumbnail', method: 'GET', url: `${STUDY}/thumbnail`, needs: 'read' },
  { name: 'WADO-URI', method: 'GET', url: '/wado?requestType=WADO&studyUID=1', needs: 'read' },
  { name: 'STOW', method: 'POST', url: `${ROOT}/studies`, needs: 'write' },
  { name: 'STOW to a study', method: 'POST', url: STUDY, needs: 'write' },
  { name: 'DELETE study', method: 'DELETE', url: STUDY, needs: 'admin' },
  { name: 'DELETE instance', method: 'DELETE', url: INSTANCE, needs: 'admin' },
  { name: 'reindex', method: 'POST', url: '/admin/reindex', needs: 'admin' },
  { name: 'metrics', method: 'GET', url: '/metrics', needs: 'admin' },
  { name: 'unknown path', method: 'GET', url: '/nowhere', needs: 'read' },
];

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

function errorOf(response: LightMyRequestResponse): { error: string; message: string; status: number } {
  return response.json();
}

describe('no auth method configured (the loopback default)', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildApp(structuredClone(DEFAULT_AUTH_CONFIG));
  });
  after(() => app.close());

  test('every route answers without credentials, as an anonymous principal with every scope', async () => {
    for (const route of ROUTES) {
      const response = await app.inject({ method: route.method, url: route.url });
      const want = route.url === '/nowhere' ? 404 : 200;
      assert.equal(response.statusCode, want, route.name);
    }
    const body = (await app.inject({ url: `${ROOT}/studies` })).json();
    assert.deepEqual(body.principal, { kind: 'anonymous', name: 'anonymous', scopes: {} });
  });

  test('undefined auth behaves the same', async () => {
    const open = await buildApp(undefined);
    assert.equal((await open.inject({ method: 'DELETE', url: STUDY })).statusCode, 200);
    await open.close();
  });
});

describe('with tokens, Basic users and OIDC', () => {
  let app: FastifyInstance;
  let issuer: TestIssuer;
  let auth: AuthConfig;
  before(async () => {
    issuer = await startTestIssuer();
    auth = {
      ...structuredClone(DEFAULT_AUTH_CONFIG),
      tokens: [
        { sha256: sha256Hex(TOKENS.read), scopes: ['read'], name: 'reader' },
        { sha256: sha256Hex(TOKENS.write), scopes: ['write'], name: 'uploader' },
        { sha256: sha256Hex(TOKENS.admin), scopes: ['read', 'write', 'admin'], name: 'operator' },
      ],
      basic: [
        { user: 'viewer', passwordHash: await hashPassword('pw', { N: 1024, r: 8, p: 1 }), scopes: ['read'] },
      ],
      oidc: {
        issuer: issuer.issuer,
        audience: issuer.audience,
        jwksUri: issuer.jwksUri,
        scopeClaim: 'scope',
        clockToleranceSeconds: 30,
      },
    };
    app = await buildApp(auth);
  });
  after(async () => {
    await app.close();
    await issuer.close();
  });

  test('without credentials every non-public route is 401 with WWW-Authenticate and the JSON error body', async () => {
    for (const route of ROUTES) {
      const response = await app.inject({ method: route.method, url: route.url });
      assert.equal(response.statusCode, 401, route.name);
      assert.deepEqual(response.headers['www-authenticate'], [
        'Bearer realm="dicomweb-gateway"',
        'Basic realm="dicomweb-gateway", charset="UTF-8"',
      ]);
      if (route.method !== 'HEAD') {
        assert.match(String(response.headers['content-type']), /^application\/json/);
        assert.deepEqual(Object.keys(errorOf(response)).sort(), ['error', 'message', 'status']);
        assert.equal(errorOf(response).error, 'UNAUTHORIZED');
        assert.equal(errorOf(response).status, 401);
      }
    }
  });

  test('each route kind needs its scope: granted passes, missing is 403 naming the scope', async () => {
    const holders: Record<string, string> = { read: TOKENS.read, write: TOKENS.write, admin: TOKENS.admin };
    for (const route of ROUTES) {
      const ok = await app.inject({
        method: route.method,
        url: route.url,
        headers: bearer(holders[route.needs]!),
      });
      assert.equal(ok.statusCode, route.url === '/nowhere' ? 404 : 200, `${route.name} with ${route.needs}`);
      for (const other of ['read', 'write'].filter((s) => s !== route.needs && route.needs !== 'admin')) {
        const denied = await app.inject({
          method: route.method,
          url: route.url,
          headers: bearer(holders[other]!),
        });
        assert.equal(denied.statusCode, 403, `${route.name} with ${other}`);
        if (route.method !== 'HEAD') {
          assert.equal(errorOf(denied).error, 'FORBIDDEN');
          assert.match(errorOf(denied).message, new RegExp(`needs the "${route.needs}" scope`));
        }
        assert.equal(
          denied.headers['www-authenticate'],
          `Bearer realm="dicomweb-gateway", error="insufficient_scope", scope="${route.needs}"`,
        );
      }
    }
    const denied = await app.inject({ method: 'DELETE', url: STUDY, headers: bearer(TOKENS.read) });
    assert.equal(denied.statusCode, 403);
    assert.equal(
      errorOf(denied).message,
      'DELETE /dicom-web/studies/1.2.3 needs the "admin" scope; token reader has read',
    );
  });

  test('/health, /ready and CORS preflights are public; bad credentials do not matter there', async () => {
    for (const url of ['/health', '/ready']) {
      assert.equal((await app.inject({ url })).statusCode, 200, url);
      assert.equal((await app.inject({ url, headers: bearer('garbage') })).statusCode, 200, url);
    }
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: `${ROOT}/studies`,
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization',
      },
    });
    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], ORIGIN);
    assert.match(String(preflight.headers['access-control-allow-headers']), /Authorization/);
  });

  test('401 and 403 answers carry the CORS headers, so a browser viewer can read them', async () => {
    const response = await app.inject({ url: `${ROOT}/studies`, headers: { origin: ORIGIN } });
    assert.equal(response.statusCode, 401);
    assert.equal(response.headers['access-control-allow-origin'], ORIGIN);
    const forbidden = await app.inject({
      method: 'POST',
      url: `${ROOT}/studies`,
      headers: { origin: ORIGIN, ...bearer(TOKENS.read) },
    });
    assert.equal(forbidden.statusCode, 403);
    assert.equal(forbidden.headers['access-control-allow-origin'], ORIGIN);
  });

  test('thumbnails need read while publicThumbnails is off', async () => {
    for (const url of [`${STUDY}/thumbnail`, `${INSTANCE}/frames/1/thumbnail`]) {
      assert.equal((await app.inject({ url })).statusCode, 401, url);
      assert.equal((await app.inject({ url, headers: bearer(TOKENS.read) })).statusCode, 200, url);
    }
  });

  test('Basic users and OIDC tokens go through the same checks', async () => {
    const user = await app.inject({ url: `${ROOT}/studies`, headers: basic('viewer', 'pw') });
    assert.equal(user.statusCode, 200);
    assert.deepEqual(user.json().principal, { kind: 'basic', name: 'viewer', scopes: {} });
    assert.equal(
      (await app.inject({ url: `${ROOT}/studies`, headers: basic('viewer', 'nope') })).statusCode,
      401,
    );
    const stow = await app.inject({ method: 'POST', url: `${ROOT}/studies`, headers: basic('viewer', 'pw') });
    assert.equal(stow.statusCode, 403);
    assert.equal(stow.headers['www-authenticate'], undefined, 'no Bearer challenge for a Basic user');

    const token = await issuer.sign({ claims: { scope: 'openid read' } });
    assert.equal((await app.inject({ url: `${STUDY}/metadata`, headers: bearer(token) })).statusCode, 200);
    assert.equal((await app.inject({ method: 'POST', url: STUDY, headers: bearer(token) })).statusCode, 403);
    const expired = await app.inject({
      url: `${STUDY}/metadata`,
      headers: bearer(await issuer.sign({ expiresIn: -3600 })),
    });
    assert.equal(expired.statusCode, 401);
    assert.match(errorOf(expired).message, /expired/);
    assert.match(
      String(expired.headers['www-authenticate']),
      /error="invalid_token", error_description="the token has expired"/,
    );
    const foreign = await app.inject({
      url: `${STUDY}/metadata`,
      headers: bearer(await issuer.sign({ foreignKey: true })),
    });
    assert.equal(foreign.statusCode, 401);
  });

  test('a token with no scope at all is authenticated but may do nothing', async () => {
    const none = await buildApp({
      ...auth,
      tokens: [{ sha256: sha256Hex(TOKENS.none), scopes: [] }],
    });
    const response = await none.inject({ url: `${ROOT}/studies`, headers: bearer(TOKENS.none) });
    assert.equal(response.statusCode, 403);
    assert.match(errorOf(response).message, /has no scope/);
    await none.close();
  });

  test('percent escapes and wildcard routes cannot pass for a public thumbnail', async () => {
    const open = await buildApp({ ...auth, publicThumbnails: true });
    try {
      assert.equal((await open.inject({ url: `${STUDY}/thumbnail` })).statusCode, 200);
      assert.equal((await open.inject({ method: 'HEAD', url: `${INSTANCE}/thumbnail` })).statusCode, 200);
      assert.equal(
        (await open.inject({ url: `${INSTANCE}/frames/1/thumbnail?viewport=64,64` })).statusCode,
        200,
      );
      // The router decodes %6c to "l", so this is the thumbnail route: public as well.
      assert.equal((await open.inject({ url: `${STUDY}/thumbnai%6c` })).statusCode, 200);
      // Bulk data whose path ends in /thumbnail is still bulk data.
      assert.equal((await open.inject({ url: `${INSTANCE}/bulkdata/x/thumbnail` })).statusCode, 401);
      assert.equal((await open.inject({ url: `${STUDY}/rendered` })).statusCode, 401);
      assert.equal((await open.inject({ url: `${ROOT}/studies/1/bogus/thumbnail` })).statusCode, 401);
      assert.equal((await open.inject({ method: 'DELETE', url: STUDY })).statusCode, 401);
    } finally {
      await open.close();
    }
  });
});
