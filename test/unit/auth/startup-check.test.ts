import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_AUTH_CONFIG, type AuthConfig } from '../../../src/auth/auth-config.js';
import {
  assertSafeBinding,
  isLoopbackHost,
  unsafeBindingProblem,
  UnsafeBindingError,
} from '../../../src/auth/startup-check.js';

const none: AuthConfig = structuredClone(DEFAULT_AUTH_CONFIG);
const withToken: AuthConfig = { ...none, tokens: [{ sha256: 'a'.repeat(64), scopes: ['read'] }] };
const withBasic: AuthConfig = {
  ...none,
  basic: [
    {
      user: 'u',
      passwordHash: '$scrypt$N=16384,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
      scopes: ['read'],
    },
  ],
};
const withOidc: AuthConfig = {
  ...none,
  oidc: {
    issuer: 'https://idp',
    audience: 'gw',
    jwksUri: 'https://idp/jwks',
    scopeClaim: 'scope',
    clockToleranceSeconds: 30,
  },
};

test('loopback hosts', () => {
  for (const host of [
    '127.0.0.1',
    '127.0.0.53',
    '127.255.255.254',
    'localhost',
    'LOCALHOST',
    'localhost.',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    '0000:0000:0000:0000:0000:0000:0000:0001',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
  ]) {
    assert.equal(isLoopbackHost(host), true, host);
  }
  for (const host of [
    '0.0.0.0',
    '::',
    '',
    '10.0.0.5',
    '128.0.0.1',
    '127.0.0.1.example.org',
    'localhost.example.org',
    'my-host',
    '::2',
    '::ffff:10.0.0.1',
    '::ffff:0:127.0.0.1',
    'fe80::1',
    '1::1',
  ]) {
    assert.equal(isLoopbackHost(host), false, host);
  }
});

test('a non-loopback host without an auth method is refused unless --insecure-no-auth', () => {
  assert.throws(
    () => assertSafeBinding('0.0.0.0', none, false),
    (error: unknown) => {
      assert.ok(error instanceof UnsafeBindingError);
      assert.match(error.message, /http\.host 0\.0\.0\.0 is not a loopback address/);
      assert.match(error.message, /auth\.tokens, auth\.basic or auth\.oidc/);
      assert.match(error.message, /--insecure-no-auth/);
      return true;
    },
  );
  assert.throws(() => assertSafeBinding('192.168.1.10', undefined, false), UnsafeBindingError);
  assert.throws(
    () => assertSafeBinding('::', { ...none, publicThumbnails: true }, false),
    UnsafeBindingError,
  );
  assert.equal(assertSafeBinding('0.0.0.0', none, true), 'insecure');
  assert.equal(assertSafeBinding('0.0.0.0', undefined, true), 'insecure');
});

test('loopback needs nothing; any auth method allows any address', () => {
  assert.equal(assertSafeBinding('127.0.0.1', none, false), 'loopback');
  assert.equal(assertSafeBinding('::1', undefined, false), 'loopback');
  for (const auth of [withToken, withBasic, withOidc]) {
    assert.equal(assertSafeBinding('0.0.0.0', auth, false), 'authenticated');
    assert.equal(assertSafeBinding('127.0.0.1', auth, false), 'authenticated');
    assert.equal(unsafeBindingProblem('10.1.2.3', auth, false), undefined);
  }
  assert.match(unsafeBindingProblem('10.1.2.3', none, false) ?? '', /10\.1\.2\.3/);
});
