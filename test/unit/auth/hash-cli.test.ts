import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import {
  hashPasswordCommand,
  hashTokenCommand,
  parseScopes,
  type HashCliIo,
} from '../../../src/auth/hash-cli.js';
import { passwordHashProblem, sha256Hex, verifyPassword } from '../../../src/auth/password-hash.js';

/** Non-interactive stdin holding `input`, and captured stdout and stderr. */
function io(input: string): HashCliIo & { out: () => string; err: () => string } {
  const stdin = new PassThrough();
  stdin.end(input);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return { stdin, stdout, stderr, out: () => out, err: () => err };
}

test('hash-password reads the password from stdin and prints an auth.basic entry', async () => {
  const streams = io('s3cret pass\n');
  assert.equal(await hashPasswordCommand({ positionals: ['alice'], scopes: 'read,write' }, streams), 0);
  const entry = JSON.parse(streams.out()) as { user: string; passwordHash: string; scopes: string[] };
  assert.equal(entry.user, 'alice');
  assert.deepEqual(entry.scopes, ['read', 'write']);
  assert.equal(passwordHashProblem(entry.passwordHash), undefined);
  assert.match(entry.passwordHash, /^\$scrypt\$N=131072,r=8,p=1\$/);
  assert.equal(
    await verifyPassword('s3cret pass', entry.passwordHash),
    true,
    'one trailing newline is dropped',
  );
  assert.equal(streams.out().split('\n').length, 2, 'one line of JSON');
});

test('hash-password usage errors exit 2 with a message', async () => {
  const cases: [Parameters<typeof hashPasswordCommand>[0], string, RegExp][] = [
    [{ positionals: [] }, 'pw', /usage: hash-password/],
    [{ positionals: ['a:b'] }, 'pw', /cannot contain ":"/],
    [{ positionals: ['alice'], scopes: 'read,root' }, 'pw', /--scopes takes/],
    [{ positionals: ['alice'] }, '\n', /the password is empty/],
  ];
  for (const [args, input, message] of cases) {
    const streams = io(input);
    assert.equal(await hashPasswordCommand(args, streams), 2);
    assert.match(streams.err(), message);
    assert.equal(streams.out(), '');
  }
});

test('hash-token hashes a token from stdin or an argument', async () => {
  const token = 'tok_0123456789abcdefghijklmnopqrstuvwxyz';
  const streams = io(`${token}\n`);
  assert.equal(await hashTokenCommand({ positionals: [], name: 'ci' }, streams), 0);
  assert.deepEqual(JSON.parse(streams.out()), { sha256: sha256Hex(token), scopes: ['read'], name: 'ci' });
  assert.equal(streams.err(), '');

  const short = io('');
  assert.equal(await hashTokenCommand({ positionals: ['short'], scopes: 'admin' }, short), 0);
  assert.deepEqual(JSON.parse(short.out()), { sha256: sha256Hex('short'), scopes: ['admin'] });
  assert.match(short.err(), /shorter than 32 characters/);
});

test('hash-token --generate prints the new token on stderr and only its hash on stdout', async () => {
  const streams = io('');
  assert.equal(await hashTokenCommand({ positionals: [], generate: true, scopes: 'read,write' }, streams), 0);
  const token = /\n([A-Za-z0-9_-]{43})\n$/.exec(streams.err())?.[1];
  assert.ok(token, streams.err());
  assert.deepEqual(JSON.parse(streams.out()), { sha256: sha256Hex(token), scopes: ['read', 'write'] });
  assert.ok(!streams.out().includes(token));
});

test('hash-token refuses tokens that cannot be sent as a bearer token', async () => {
  for (const bad of ['has space', 'tab\there', 'quote"d', 'a=b']) {
    const streams = io(bad);
    assert.equal(await hashTokenCommand({ positionals: [] }, streams), 2, bad);
    assert.match(streams.err(), /Authorization: Bearer/);
  }
  const both = io('');
  assert.equal(await hashTokenCommand({ positionals: ['x'], generate: true }, both), 2);
});

test('parseScopes', () => {
  assert.deepEqual(parseScopes(undefined), ['read']);
  assert.deepEqual(parseScopes(' read , admin,read '), ['read', 'admin']);
  assert.throws(() => parseScopes(''), /--scopes takes/);
  assert.throws(() => parseScopes('READ'), /--scopes takes/);
});
