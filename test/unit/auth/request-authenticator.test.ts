import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT, UnsecuredJWT } from 'jose';
import { DEFAULT_AUTH_CONFIG, type AuthConfig, type OidcConfig } from '../../../src/auth/auth-config.js';
import {
  AuthenticationError,
  RequestAuthenticator,
  scopesFromClaims,
  type Principal,
} from '../../../src/auth/request-authenticator.js';
import {
  hashPassword,
  sha256Hex,
  verifyPassword,
  type ParsedPasswordHash,
} from '../../../src/auth/password-hash.js';
import { GatewayError } from '../../../src/errors.js';
import { startTestIssuer, type TestIssuer } from './oidc-fixture.js';

const CHEAP = { N: 1024, r: 8, p: 1 };
const READ_TOKEN = 'read-token-0123456789abcdefghijklmnopqrstuvwxyz';
const RW_TOKEN = 'rw-token-0123456789abcdefghijklmnopqrstuvwxyz';

const basicHeader = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

function config(overrides: Partial<AuthConfig>): AuthConfig {
  return { ...structuredClone(DEFAULT_AUTH_CONFIG), ...overrides };
}

/** Asserts the promise rejects with a 401 whose message matches, and returns its challenges. */
async function rejects401(promise: Promise<Principal>, message: RegExp): Promise<string[]> {
  let challenges: string[] = [];
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AuthenticationError, `want AuthenticationError, got ${String(error)}`);
    assert.ok(error instanceof GatewayError);
    assert.equal(error.code, 'UNAUTHORIZED');
    assert.equal(error.httpStatus, 401);
    assert.match(error.message, message);
    challenges = error.challenges;
    return true;
  });
  return challenges;
}

const scopesOf = (principal: Principal) => [...principal.scopes].sort();

describe('static API tokens', () => {
  const auth = config({
    tokens: [
      { sha256: sha256Hex(READ_TOKEN), scopes: ['read'] },
      { sha256: sha256Hex(RW_TOKEN).toUpperCase(), scopes: ['read', 'write'], name: 'ci' },
    ],
  });
  const authenticator = new RequestAuthenticator(auth);

  test('a configured token is accepted with its scopes and name', async () => {
    const read = await authenticator.authenticate(`Bearer ${READ_TOKEN}`);
    assert.equal(read.kind, 'token');
    assert.equal(read.name, `sha256:${sha256Hex(READ_TOKEN).slice(0, 12)}`);
    assert.deepEqual(scopesOf(read), ['read']);
    const rw = await authenticator.authenticate(`bearer   ${RW_TOKEN}`);
    assert.equal(rw.name, 'ci', 'upper-case hex in the config, lower-case scheme in the header');
    assert.deepEqual(scopesOf(rw), ['read', 'write']);
  });

  test('missing, wrong and malformed tokens are 401 with a Bearer challenge', async () => {
    const missing = await rejects401(authenticator.authenticate(undefined), /authentication required/);
    assert.deepEqual(missing, ['Bearer realm="dicomweb-gateway"']);
    await rejects401(authenticator.authenticate(''), /authentication required/);
    const wrong = await rejects401(
      authenticator.authenticate(`Bearer ${READ_TOKEN}x`),
      /unknown bearer token/,
    );
    assert.deepEqual(wrong, [
      'Bearer realm="dicomweb-gateway", error="invalid_token", error_description="unknown token"',
    ]);
    await rejects401(authenticator.authenticate('Bearer'), /malformed Bearer credentials/);
    await rejects401(authenticator.authenticate('Bearer a b'), /malformed Bearer credentials/);
    const bare = authenticator.authenticate(READ_TOKEN);
    await assert.rejects(bare, (error: Error) => !error.message.includes(READ_TOKEN.slice(0, 8)));
    await rejects401(
      authenticator.authenticate(READ_TOKEN),
      /^unsupported authorization scheme \(send Bearer/,
    );
    await rejects401(
      authenticator.authenticate('Digest username="x"'),
      /unsupported authorization scheme "Digest"/,
    );
    await rejects401(authenticator.authenticate(basicHeader('u', 'p')), /Basic credentials are not accepted/);
  });

  test('a JWT-shaped token is only a token when OIDC is off', async () => {
    await rejects401(authenticator.authenticate('Bearer aaa.bbb.ccc'), /unknown bearer token/);
  });
});

describe('HTTP Basic users', () => {
  let auth: AuthConfig;
  before(async () => {
    auth = config({
      basic: [
        { user: 'alice', passwordHash: await hashPassword('wonderland', CHEAP), scopes: ['read', 'admin'] },
        { user: 'bob', passwordHash: await hashPassword('pässwörd:with:colons', CHEAP), scopes: ['read'] },
      ],
    });
  });

  test('a right password is accepted with the user scopes', async () => {
    const authenticator = new RequestAuthenticator(auth);
    const alice = await authenticator.authenticate(basicHeader('alice', 'wonderland'));
    assert.deepEqual(alice, { kind: 'basic', name: 'alice', scopes: new Set(['read', 'admin']) });
    const bob = await authenticator.authenticate(basicHeader('bob', 'pässwörd:with:colons'));
    assert.equal(bob.name, 'bob', 'UTF-8 passwords; only the first colon separates');
  });

  test('missing, wrong password, unknown user and malformed credentials are 401 with a Basic challenge', async () => {
    const authenticator = new RequestAuthenticator(auth);
    const challenges = await rejects401(authenticator.authenticate(undefined), /authentication required/);
    assert.deepEqual(challenges, ['Basic realm="dicomweb-gateway", charset="UTF-8"']);
    await rejects401(
      authenticator.authenticate(basicHeader('alice', 'wonderlan')),
      /wrong user name or password/,
    );
    await rejects401(authenticator.authenticate(basicHeader('alice', '')), /wrong user name or password/);
    await rejects401(
      authenticator.authenticate(basicHeader('carol', 'wonderland')),
      /wrong user name or password/,
    );
    await rejects401(
      authenticator.authenticate(basicHeader('bob', 'wonderland')),
      /wrong user name or password/,
    );
    await rejects401(
      authenticator.authenticate(`Basic ${Buffer.from('alice').toString('base64')}`),
      /no colon/,
    );
    await rejects401(authenticator.authenticate('Basic !!!'), /malformed Basic credentials/);
    await rejects401(authenticator.authenticate(`Bearer ${READ_TOKEN}`), /bearer tokens are not accepted/);
  });

  /** verifyPassword, counting its calls. */
  function countedVerify() {
    const counted = {
      calls: 0,
      verifyPassword: (password: string, hash: ParsedPasswordHash) => {
        counted.calls++;
        return verifyPassword(password, hash);
      },
    };
    return counted;
  }

  test('good answers are remembered, wrong ones never', async () => {
    const verify = countedVerify();
    const authenticator = new RequestAuthenticator(auth, { verifyPassword: verify.verifyPassword });
    const header = basicHeader('alice', 'wonderland');
    const [a, b] = await Promise.all([
      authenticator.authenticate(header),
      authenticator.authenticate(header),
    ]);
    assert.deepEqual(a, b);
    assert.equal(verify.calls, 1, 'two requests at once share one check');
    for (let i = 0; i < 50; i++) assert.equal((await authenticator.authenticate(header)).name, 'alice');
    assert.equal(verify.calls, 1, 'a remembered password is not checked again');
    await rejects401(authenticator.authenticate(basicHeader('alice', 'wonderland!')), /wrong/);
    await rejects401(authenticator.authenticate(basicHeader('alice', 'wonderland!')), /wrong/);
    assert.equal(verify.calls, 3, 'a wrong password is checked every time');
    assert.equal((await authenticator.authenticate(header)).name, 'alice');
    assert.equal(verify.calls, 3);
  });

  test('without the cache every request verifies the hash', async () => {
    const verify = countedVerify();
    const authenticator = new RequestAuthenticator(auth, {
      basicCacheMs: 0,
      verifyPassword: verify.verifyPassword,
    });
    const header = basicHeader('alice', 'wonderland');
    assert.equal((await authenticator.authenticate(header)).name, 'alice');
    assert.equal((await authenticator.authenticate(header)).name, 'alice');
    assert.equal(verify.calls, 2);
  });

  test('a configuration with a broken hash does not start', () => {
    assert.throws(
      () =>
        new RequestAuthenticator(
          config({ basic: [{ user: 'x', passwordHash: '$scrypt$N=3', scopes: ['read'] }] }),
        ),
      /auth\.basic\.0\.passwordHash/,
    );
  });
});

describe('OpenID Connect bearer JWTs', () => {
  let issuer: TestIssuer;
  let oidc: OidcConfig;
  let authenticator: RequestAuthenticator;
  before(async () => {
    issuer = await startTestIssuer();
    oidc = {
      issuer: issuer.issuer,
      audience: issuer.audience,
      jwksUri: issuer.jwksUri,
      scopeClaim: 'scope',
      clockToleranceSeconds: 30,
    };
    authenticator = new RequestAuthenticator(
      config({ oidc, tokens: [{ sha256: sha256Hex(READ_TOKEN), scopes: ['read'] }] }),
    );
  });
  after(() => issuer.close());

  test('a token signed by the issuer is accepted, with the scopes of its scope claim', async () => {
    const token = await issuer.sign({ claims: { scope: 'openid read write profile' } });
    const principal = await authenticator.authenticate(`Bearer ${token}`);
    assert.equal(principal.kind, 'oidc');
    assert.equal(principal.name, 'user-123');
    assert.deepEqual(scopesOf(principal), ['read', 'write']);
    // The key set is fetched once and cached.
    await authenticator.authenticate(`Bearer ${await issuer.sign()}`);
    assert.equal(issuer.jwksFetches(), 1);
    // Static tokens still work beside OIDC.
    assert.equal((await authenticator.authenticate(`Bearer ${READ_TOKEN}`)).kind, 'token');
  });

  test('an audience list matches any of its values', async () => {
    const multi = new RequestAuthenticator(
      config({ oidc: { ...oidc, audience: ['other', issuer.audience] } }),
    );
    const token = await issuer.sign({ audience: [issuer.audience, 'account'] });
    assert.equal((await multi.authenticate(`Bearer ${token}`)).kind, 'oidc');
  });

  test('expired, wrong issuer, wrong audience, no exp and not yet valid tokens are 401', async () => {
    const cases: [Promise<string>, RegExp][] = [
      [issuer.sign({ expiresIn: -3600 }), /the token has expired/],
      [issuer.sign({ issuer: 'https://evil.example' }), /issued by another issuer/],
      [issuer.sign({ audience: 'another-app' }), /meant for another audience/],
      [issuer.sign({ expiresIn: null }), /no valid exp/],
      [issuer.sign({ claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } }), /not valid yet/],
    ];
    for (const [token, message] of cases) {
      const challenges = await rejects401(authenticator.authenticate(`Bearer ${await token}`), message);
      assert.match(
        challenges[0]!,
        /^Bearer realm="dicomweb-gateway", error="invalid_token", error_description="/,
      );
    }
  });

  test('within the clock tolerance an expired token still passes', async () => {
    const token = await issuer.sign({ expiresIn: -10 });
    assert.equal((await authenticator.authenticate(`Bearer ${token}`)).kind, 'oidc');
  });

  test('wrongly signed tokens are 401: a key outside the JWKS, HMAC, none, tampered payload', async () => {
    await rejects401(
      authenticator.authenticate(`Bearer ${await issuer.sign({ foreignKey: true })}`),
      /signature is not valid/,
    );
    await rejects401(
      authenticator.authenticate(`Bearer ${await issuer.sign({ foreignKey: true, kid: 'unknown-kid' })}`),
      /not signed with a key of the issuer/,
    );
    const now = Math.floor(Date.now() / 1000);
    const claims = { scope: 'read write admin', iss: issuer.issuer, aud: issuer.audience, exp: now + 300 };
    const hmac = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: 'test-key-1' })
      .sign(new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!'));
    await rejects401(authenticator.authenticate(`Bearer ${hmac}`), /algorithm is not accepted/);
    const unsigned = new UnsecuredJWT(claims).encode();
    await rejects401(
      authenticator.authenticate(`Bearer ${unsigned}`),
      /unknown bearer token|malformed|algorithm/,
    );
    const [header, , signature] = (await issuer.sign()).split('.');
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url');
    await rejects401(
      authenticator.authenticate(`Bearer ${header}.${forged}.${signature}`),
      /signature is not valid/,
    );
    await rejects401(authenticator.authenticate('Bearer eyJhbGciOiJFUzI1NiJ9.e30.'), /malformed|signature/);
  });

  test('an unreachable key set is a server error, not a 401', async () => {
    const offline = new RequestAuthenticator(
      config({ oidc: { ...oidc, jwksUri: 'http://127.0.0.1:1/jwks' } }),
    );
    await assert.rejects(offline.authenticate(`Bearer ${await issuer.sign()}`), (error: unknown) => {
      assert.ok(error instanceof GatewayError);
      assert.ok(!(error instanceof AuthenticationError));
      assert.equal(error.httpStatus, 500);
      assert.match(error.message, /cannot fetch the signing keys/);
      return true;
    });
  });

  test('both schemes are offered when both are configured', async () => {
    const both = new RequestAuthenticator(
      config({
        oidc,
        basic: [{ user: 'u', passwordHash: await hashPassword('p', CHEAP), scopes: ['read'] }],
      }),
    );
    const challenges = await rejects401(both.authenticate(undefined), /send Bearer or Basic credentials/);
    assert.deepEqual(challenges, [
      'Bearer realm="dicomweb-gateway"',
      'Basic realm="dicomweb-gateway", charset="UTF-8"',
    ]);
  });
});

describe('scopes from OIDC claims', () => {
  const base: OidcConfig = {
    issuer: 'i',
    audience: 'a',
    jwksUri: 'http://x/jwks',
    scopeClaim: 'scope',
    clockToleranceSeconds: 30,
  };
  const scopes = (claims: Record<string, unknown>, oidc: Partial<OidcConfig> = {}) =>
    [...scopesFromClaims(claims, { ...base, ...oidc })].sort();

  test('a space-separated string or an array; unknown names ignored', () => {
    assert.deepEqual(scopes({ scope: 'openid  read\tadmin email' }), ['admin', 'read']);
    assert.deepEqual(scopes({ scope: '' }), []);
    assert.deepEqual(scopes({}), []);
    assert.deepEqual(scopes({ scope: 42 }), []);
    assert.deepEqual(scopes({ roles: ['write', 7, 'read'] }, { scopeClaim: 'roles' }), ['read', 'write']);
  });

  test('a dotted path reaches nested claims; an exact claim name wins', () => {
    const claims = { realm_access: { roles: ['read', 'offline_access'] }, 'realm_access.roles': 'admin' };
    assert.deepEqual(scopes(claims, { scopeClaim: 'realm_access.roles' }), ['admin']);
    assert.deepEqual(scopes({ realm_access: { roles: ['read'] } }, { scopeClaim: 'realm_access.roles' }), [
      'read',
    ]);
    assert.deepEqual(scopes({ realm_access: 'x' }, { scopeClaim: 'realm_access.roles' }), []);
    assert.deepEqual(
      scopes({ 'https://example.org/roles': ['write'] }, { scopeClaim: 'https://example.org/roles' }),
      ['write'],
    );
  });

  test('scopeMap maps IdP names to gateway scopes, and is then the only mapping', () => {
    const scopeMap = { read: ['dicom.read', 'viewer'], write: ['dicom.write'] };
    assert.deepEqual(scopes({ scope: 'openid dicom.read' }, { scopeMap }), ['read']);
    assert.deepEqual(scopes({ scope: 'viewer dicom.write' }, { scopeMap }), ['read', 'write']);
    assert.deepEqual(scopes({ scope: 'read write admin' }, { scopeMap }), [], 'bare names no longer count');
  });
});
