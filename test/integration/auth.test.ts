/**
 * HTTP authentication and authorization on the real gateway: static tokens, Basic users and OIDC JWTs
 * (against a JWKS served by this test), scopes on every route kind, public health checks, preflights and
 * (optionally) thumbnails, the refusal to serve a non-loopback address without auth, and the
 * hash-password / hash-token commands of the built CLI.
 */
import assert from 'node:assert/strict';
import { execFile as execFileCallback } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_AUTH_CONFIG, type AuthConfig } from '../../src/auth/auth-config.js';
import { hashPassword, sha256Hex, verifyPassword } from '../../src/auth/password-hash.js';
import { buildInstance, type BuiltInstance } from '../helpers/dicom-generator.js';
import { multipartRelated } from '../helpers/dicomweb-client.js';
import { CLI, spawnGateway, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startTestIssuer, type TestIssuer } from '../unit/auth/oidc-fixture.js';

const execFile = promisify(execFileCallback);

const ORIGIN = 'http://viewer.example';
const TOKENS = {
  read: 'it-read-token-0123456789abcdefghijklmnopqrstuvwxyz',
  write: 'it-write-token-0123456789abcdefghijklmnopqrstuvwxyz',
  admin: 'it-admin-token-0123456789abcdefghijklmnopqrstuvwxyz',
};

type Overrides = Parameters<typeof startTestGateway>[0];

/** Auth settings through the gateway's own config loading (the `auth` config section). */
function withAuth(auth: Partial<AuthConfig>, rest: Record<string, unknown> = {}): Overrides {
  return { auth: { ...structuredClone(DEFAULT_AUTH_CONFIG), ...auth }, ...rest } as Overrides;
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const basic = (user: string, password: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

async function stowWith(gateway: TestGateway, instance: BuiltInstance, headers: Record<string, string>) {
  const { body, contentType } = multipartRelated([instance.bytes]);
  return fetch(`${gateway.dicomweb}/studies`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...headers },
    body,
  });
}

/** GETs of every read route kind for one stored instance. */
function readRoutes(
  gateway: TestGateway,
  i: BuiltInstance,
): { name: string; url: string; accept?: string }[] {
  const study = `${gateway.dicomweb}/studies/${i.studyInstanceUID}`;
  const instance = `${study}/series/${i.seriesInstanceUID}/instances/${i.sopInstanceUID}`;
  return [
    { name: 'QIDO', url: `${gateway.dicomweb}/studies?StudyInstanceUID=${i.studyInstanceUID}` },
    {
      name: 'WADO instance',
      url: instance,
      accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
    },
    { name: 'metadata', url: `${study}/metadata`, accept: 'application/dicom+json' },
    {
      name: 'frames',
      url: `${instance}/frames/1`,
      accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
    },
    { name: 'rendered', url: `${instance}/rendered`, accept: 'image/jpeg' },
    { name: 'thumbnail', url: `${study}/thumbnail`, accept: 'image/jpeg' },
    {
      name: 'WADO-URI',
      url: `${gateway.httpUrl}/wado?requestType=WADO&studyUID=${i.studyInstanceUID}&seriesUID=${i.seriesInstanceUID}&objectUID=${i.sopInstanceUID}`,
    },
  ];
}

async function get(url: string, headers: Record<string, string> = {}, accept?: string): Promise<Response> {
  const response = await fetch(url, { headers: { ...(accept ? { accept } : {}), ...headers } });
  await response.arrayBuffer();
  return response;
}

async function errorBody(response: Response): Promise<{ error: string; message: string; status: number }> {
  return (await response.json()) as { error: string; message: string; status: number };
}

describe('a gateway with tokens, Basic users and OIDC', () => {
  let issuer: TestIssuer;
  let gateway: TestGateway;
  let instance: BuiltInstance;

  before(async () => {
    issuer = await startTestIssuer();
    gateway = await startTestGateway(
      withAuth(
        {
          tokens: [
            { sha256: sha256Hex(TOKENS.read), scopes: ['read'], name: 'reader' },
            { sha256: sha256Hex(TOKENS.write), scopes: ['write'], name: 'modality' },
            { sha256: sha256Hex(TOKENS.admin), scopes: ['read', 'write', 'admin'], name: 'operator' },
          ],
          basic: [
            {
              user: 'viewer',
              passwordHash: await hashPassword('pw', { N: 1024, r: 8, p: 1 }),
              scopes: ['read'],
            },
          ],
          oidc: {
            issuer: issuer.issuer,
            audience: issuer.audience,
            jwksUri: issuer.jwksUri,
            scopeClaim: 'scope',
            clockToleranceSeconds: 30,
          },
        },
        { http: { corsOrigins: [ORIGIN] } },
      ),
    );
    instance = buildInstance();
  });
  after(async () => {
    await gateway?.stop();
    await issuer?.close();
  });

  test('STOW needs write: 401 without credentials, 403 with read, 200 with write', async () => {
    const anonymous = await stowWith(gateway, instance, {});
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /Bearer realm="dicomweb-gateway"/);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /Basic realm="dicomweb-gateway"/);
    assert.equal((await errorBody(anonymous)).error, 'UNAUTHORIZED');

    const reader = await stowWith(gateway, instance, bearer(TOKENS.read));
    assert.equal(reader.status, 403);
    const body = await errorBody(reader);
    assert.equal(body.error, 'FORBIDDEN');
    assert.equal(body.status, 403);
    assert.match(body.message, /needs the "write" scope/);

    const writer = await stowWith(gateway, instance, bearer(TOKENS.write));
    assert.equal(writer.status, 200, await writer.clone().text());
    await writer.arrayBuffer();
  });

  test('every read route kind: 401 without credentials, 403 for write-only, 200 for read, Basic and OIDC', async () => {
    const oidc = await issuer.sign({ claims: { scope: 'openid read' } });
    for (const route of readRoutes(gateway, instance)) {
      const anonymous = await get(route.url, {}, route.accept);
      assert.equal(anonymous.status, 401, `${route.name} without credentials`);
      assert.ok(anonymous.headers.get('www-authenticate'), `${route.name}: WWW-Authenticate`);

      const writer = await fetch(route.url, {
        headers: { ...bearer(TOKENS.write), ...(route.accept ? { accept: route.accept } : {}) },
      });
      assert.equal(writer.status, 403, `${route.name} with a write-only token`);
      assert.match((await errorBody(writer)).message, /needs the "read" scope/, route.name);

      for (const [who, headers] of [
        ['read token', bearer(TOKENS.read)],
        ['Basic user', basic('viewer', 'pw')],
        ['OIDC token', bearer(oidc)],
      ] as const) {
        const response = await get(route.url, headers, route.accept);
        assert.equal(response.status, 200, `${route.name} with a ${who}`);
      }
    }
  });

  test('OIDC tokens that are expired, for another audience or issuer, or wrongly signed are 401', async () => {
    const url = `${gateway.dicomweb}/studies`;
    const cases: [string, Promise<string>, RegExp][] = [
      ['expired', issuer.sign({ expiresIn: -3600 }), /expired/],
      ['wrong audience', issuer.sign({ audience: 'someone-else' }), /audience/],
      ['wrong issuer', issuer.sign({ issuer: 'https://evil.example' }), /issuer/],
      ['foreign key', issuer.sign({ foreignKey: true }), /signature/],
      ['unknown key', issuer.sign({ foreignKey: true, kid: 'nope' }), /key of the issuer/],
    ];
    for (const [name, token, message] of cases) {
      const response = await fetch(url, { headers: bearer(await token) });
      assert.equal(response.status, 401, name);
      assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_token"/, name);
      assert.match((await errorBody(response)).message, message, name);
    }
    const wrongPassword = await fetch(url, { headers: basic('viewer', 'wrong') });
    assert.equal(wrongPassword.status, 401);
    await wrongPassword.arrayBuffer();
    const unknownToken = await fetch(url, { headers: bearer('not-a-configured-token-at-all-0123456789') });
    assert.equal(unknownToken.status, 401);
    await unknownToken.arrayBuffer();
  });

  test('/health and CORS preflights are public; 401s carry CORS headers', async () => {
    const health = await get(`${gateway.httpUrl}/health`);
    assert.equal(health.status, 200);
    const preflight = await fetch(`${gateway.dicomweb}/studies`, {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
    const denied = await get(`${gateway.dicomweb}/studies`, { origin: ORIGIN });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get('access-control-allow-origin'), ORIGIN);
  });

  test('DELETE needs admin', async () => {
    const url = `${gateway.dicomweb}/studies/${instance.studyInstanceUID}`;
    const anonymous = await fetch(url, { method: 'DELETE' });
    assert.equal(anonymous.status, 401);
    await anonymous.arrayBuffer();
    for (const token of [TOKENS.read, TOKENS.write]) {
      const denied = await fetch(url, { method: 'DELETE', headers: bearer(token) });
      assert.equal(denied.status, 403);
      assert.match((await errorBody(denied)).message, /needs the "admin" scope/);
    }
    const admin = await fetch(url, { method: 'DELETE', headers: bearer(TOKENS.admin) });
    await admin.arrayBuffer();
    assert.ok([204, 404].includes(admin.status), `DELETE with admin answered ${admin.status}`);
  });
});

describe('publicThumbnails', () => {
  let gateway: TestGateway;
  let instance: BuiltInstance;
  before(async () => {
    gateway = await startTestGateway(
      withAuth({
        tokens: [{ sha256: sha256Hex(TOKENS.admin), scopes: ['read', 'write'] }],
        publicThumbnails: true,
      }),
    );
    instance = buildInstance();
    const stored = await stowWith(gateway, instance, bearer(TOKENS.admin));
    assert.equal(stored.status, 200);
    await stored.arrayBuffer();
  });
  after(() => gateway?.stop());

  test('thumbnails answer without credentials; everything else still needs them', async () => {
    const routes = readRoutes(gateway, instance);
    for (const route of routes) {
      const response = await get(route.url, {}, route.accept);
      assert.equal(response.status, route.name === 'thumbnail' ? 200 : 401, route.name);
    }
    const series = `${gateway.dicomweb}/studies/${instance.studyInstanceUID}/series/${instance.seriesInstanceUID}`;
    assert.equal((await get(`${series}/thumbnail`, {}, 'image/jpeg')).status, 200);
    assert.equal((await get(`${series}/rendered`, {}, 'image/jpeg')).status, 401);
  });
});

describe('start-up on a non-loopback address', () => {
  test('without an auth method the gateway refuses to start and names --insecure-no-auth', async () => {
    await assert.rejects(startTestGateway({ http: { host: '0.0.0.0' } } as Overrides), (error: unknown) => {
      assert.match((error as Error).message, /0\.0\.0\.0 is not a loopback address.*--insecure-no-auth/s);
      return true;
    });
  });

  test('with an auth method it starts, and requires credentials', async () => {
    const gateway = await startTestGateway(
      withAuth(
        { tokens: [{ sha256: sha256Hex(TOKENS.read), scopes: ['read'] }] },
        { http: { host: '0.0.0.0' } },
      ),
    );
    try {
      assert.equal((await get(`${gateway.dicomweb}/studies`)).status, 401);
      assert.equal((await get(`${gateway.dicomweb}/studies`, bearer(TOKENS.read))).status, 200);
    } finally {
      await gateway.stop();
    }
  });

  test('the CLI refuses --http-host 0.0.0.0 without auth, and serves with --insecure-no-auth', async () => {
    await assert.rejects(spawnGateway(['--http-host', '0.0.0.0']), /--insecure-no-auth/);
    const gateway = await spawnGateway(['--http-host', '0.0.0.0', '--insecure-no-auth']);
    try {
      assert.equal((await get(`${gateway.dicomweb}/studies`)).status, 200);
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
  });
});

describe('hash-password and hash-token commands', () => {
  /** Runs the built CLI with `input` on stdin. */
  function run(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = execFileCallback(process.execPath, [CLI, ...args], (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin!.end(input);
    });
  }

  test('hash-password prints an auth.basic entry that verifies', async () => {
    const { code, stdout, stderr } = await run(['hash-password', 'alice', '--scopes', 'read,write'], 'pw\n');
    assert.equal(code, 0, stderr);
    const entry = JSON.parse(stdout) as { user: string; passwordHash: string; scopes: string[] };
    assert.equal(entry.user, 'alice');
    assert.deepEqual(entry.scopes, ['read', 'write']);
    assert.equal(await verifyPassword('pw', entry.passwordHash), true);
  });

  test('hash-token prints an auth.tokens entry; --generate makes the token', async () => {
    const token = 'cli-token-0123456789abcdefghijklmnopqrstuvwxyz';
    const hashed = await run(['hash-token', '--scopes', 'admin'], `${token}\n`);
    assert.equal(hashed.code, 0, hashed.stderr);
    assert.deepEqual(JSON.parse(hashed.stdout), { sha256: sha256Hex(token), scopes: ['admin'] });
    const generated = await run(['hash-token', '--generate'], '');
    assert.equal(generated.code, 0, generated.stderr);
    const made = /\n([A-Za-z0-9_-]{43})\n$/.exec(generated.stderr)?.[1];
    assert.ok(made, generated.stderr);
    assert.equal((JSON.parse(generated.stdout) as { sha256: string }).sha256, sha256Hex(made));
  });

  test('--help lists the commands', async () => {
    const { stdout } = await execFile(process.execPath, [CLI, '--help']);
    assert.match(stdout, /hash-password/);
    assert.match(stdout, /hash-token/);
    assert.match(stdout, /--insecure-no-auth/);
  });
});
