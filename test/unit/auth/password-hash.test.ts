import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  argon2Available,
  generateToken,
  hashPassword,
  parsePasswordHash,
  passwordHashProblem,
  PasswordHashError,
  sha256Hex,
  verifyPassword,
} from '../../../src/auth/password-hash.js';

/** Cheap parameters so the tests stay fast; the format is the same. */
const CHEAP = { N: 1024, r: 8, p: 1 };

const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64').replace(/=+$/, '');

test('hashPassword writes a PHC scrypt string with the OWASP defaults that verifies', async () => {
  const hash = await hashPassword('correct horse battery staple');
  assert.match(hash, /^\$scrypt\$N=131072,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  assert.equal(await verifyPassword('correct horse battery staple', hash), true);
  assert.equal(await verifyPassword('correct horse battery stapler', hash), false);
});

test('round trip with other parameters; salts differ; wrong and empty passwords fail', async () => {
  const a = await hashPassword('s3cret', CHEAP);
  const b = await hashPassword('s3cret', CHEAP);
  assert.notEqual(a, b, 'a new salt each time');
  assert.match(a, /^\$scrypt\$N=1024,r=8,p=1\$/);
  assert.equal(await verifyPassword('s3cret', a), true);
  assert.equal(await verifyPassword('s3cret', b), true);
  assert.equal(await verifyPassword('S3cret', a), false);
  assert.equal(await verifyPassword('', a), false);
  assert.equal(await verifyPassword('s3cret ', a), false);
});

test('passwords are compared in Unicode NFC, so composed and decomposed forms match', async () => {
  const hash = await hashPassword('caf\u00e9', CHEAP);
  assert.equal(await verifyPassword('cafe\u0301', hash), true);
});

test('RFC 7914 test vector, written with N= and with ln=', async () => {
  // scrypt("password", "NaCl", N=1024, r=8, p=16, dkLen=64), RFC 7914 section 12.
  const hash = b64(
    'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640',
  );
  const salt = Buffer.from('NaCl').toString('base64').replace(/=+$/, '');
  assert.equal(await verifyPassword('password', `$scrypt$N=1024,r=8,p=16$${salt}$${hash}`), true);
  assert.equal(await verifyPassword('password', `$scrypt$ln=10,r=8,p=16$${salt}$${hash}`), true);
  assert.equal(await verifyPassword('passwork', `$scrypt$ln=10,r=8,p=16$${salt}$${hash}`), false);
  // Padded base64 is accepted too.
  assert.equal(await verifyPassword('password', `$scrypt$N=1024,r=8,p=16$TmFDbA==$${hash}`), true);
});

test('malformed or unreasonable hashes are refused with the reason', () => {
  const salt = 'c2FsdHNhbHRzYWx0c2FsdA';
  const hash = 'aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
  const cases: [string, RegExp][] = [
    ['plain text', /not a PHC string/],
    ['$2b$10$abcdefghijklmnopqrstuv', /supported: scrypt/],
    [`$scrypt$N=1000,r=8,p=1$${salt}$${hash}`, /not a power of two/],
    [`$scrypt$N=1073741824,r=8,p=1$${salt}$${hash}`, /log2\(N\)=30, outside 10\.\.22/],
    [`$scrypt$N=512,r=8,p=1$${salt}$${hash}`, /outside 10\.\.22/],
    [`$scrypt$N=4194304,r=32,p=1$${salt}$${hash}`, /more than 1 GiB/],
    [`$scrypt$N=16384,p=1$${salt}$${hash}`, /lacks the parameter r/],
    [`$scrypt$N=16384,r=8,p=1,x=2$${salt}$${hash}`, /unknown scrypt parameter x/],
    [`$scrypt$N=16384;r=8$${salt}$${hash}`, /malformed parameters/],
    [`$scrypt$N=16384,r=8,p=1$${salt}`, /must look like/],
    [`$scrypt$N=16384,r=8,p=1$${salt}$not*base64`, /no valid base64 hash/],
    [`$scrypt$N=16384,r=8,p=1$${salt}$aGFzaA`, /hash length=4, outside 16\.\.128/],
    [`$argon2id$v=16$m=65536,t=3,p=4$${salt}$${hash}`, /only v=19/],
    [`$argon2id$v=19$m=16,t=3,p=4$${salt}$${hash}`, /less than 8 \* p/],
  ];
  for (const [encoded, reason] of cases) {
    assert.throws(() => parsePasswordHash(encoded), reason, encoded);
    assert.throws(() => parsePasswordHash(encoded), PasswordHashError);
    assert.match(passwordHashProblem(encoded) ?? '', reason, encoded);
  }
  assert.equal(passwordHashProblem(`$scrypt$N=16384,r=8,p=1$${salt}$${hash}`), undefined);
});

// The reference implementation's example: echo -n password | argon2 somesalt -t 2 -m 16 -p 4 -l 24 (Argon2i).
const ARGON2_VECTOR = '$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG';

test('argon2 hashes verify where Node.js has crypto.argon2', { skip: !argon2Available() }, async () => {
  assert.equal(passwordHashProblem(ARGON2_VECTOR), undefined);
  assert.equal(await verifyPassword('password', ARGON2_VECTOR), true);
  assert.equal(await verifyPassword('passwore', ARGON2_VECTOR), false);
});

test(
  'argon2 hashes are refused at start-up on Node.js without crypto.argon2',
  { skip: argon2Available() },
  () => {
    assert.deepEqual(parsePasswordHash(ARGON2_VECTOR).params, { memory: 65536, passes: 2, parallelism: 4 });
    assert.match(passwordHashProblem(ARGON2_VECTOR) ?? '', /needs Node\.js 24\.7 or newer.*hash-password/);
  },
);

test('sha256Hex and generateToken', () => {
  assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(sha256Hex('t\u00f6ken'), sha256Hex('t\u00f6ken'));
  const token = generateToken();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(generateToken(), token);
});
