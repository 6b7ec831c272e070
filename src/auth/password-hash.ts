/**
 * Password hashes for HTTP Basic users and token digests for API tokens.
 *
 * Password hashes are PHC strings (https://github.com/P-H-C/phc-string-format), self-describing so the
 * cost can be raised later without breaking stored hashes:
 *
 *     $scrypt$N=131072,r=8,p=1$<salt>$<hash>
 *
 * `N` (CPU/memory cost, a power of two; `ln=<log2 N>` is accepted too, as passlib writes it), `r` (block
 * size) and `p` (parallelism) are scrypt's parameters (RFC 7914); salt and hash are base64 without
 * padding (standard alphabet), 16 and 32 bytes when written here. New hashes use N=2^17, r=8, p=1, the
 * OWASP recommendation (128 MiB, a few hundred milliseconds; the authenticator caches good answers).
 *
 * Argon2 PHC strings (`$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>`, as written by the reference `argon2`
 * tool, libsodium or argon2-cffi) verify on Node.js 24.7 or newer, which has `crypto.argon2`; on older
 * Node.js they are refused at start-up with that reason.
 *
 * Tokens are high-entropy random strings, so a plain SHA-256 is enough to keep them out of the config.
 */
import * as crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (
  password: crypto.BinaryLike,
  salt: crypto.BinaryLike,
  keylen: number,
  options: crypto.ScryptOptions,
) => Promise<Buffer>;

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

export const SCRYPT_DEFAULTS: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;

/** Bounds for hashes read from the config, so a typo cannot make every login take minutes or gigabytes. */
const LIMITS = {
  scryptLogN: { min: 10, max: 22 },
  scryptR: { min: 1, max: 32 },
  scryptP: { min: 1, max: 16 },
  /** 128 * N * r, in bytes. */
  scryptMemory: 1024 * 1024 * 1024,
  argon2MemoryKiB: { min: 8, max: 1024 * 1024 },
  argon2Passes: { min: 1, max: 16 },
  argon2Lanes: { min: 1, max: 16 },
  hashBytes: { min: 16, max: 128 },
  saltBytes: { min: 4, max: 128 },
};

type Argon2Algorithm = 'argon2d' | 'argon2i' | 'argon2id';
type Argon2 = (
  algorithm: Argon2Algorithm,
  parameters: {
    message: Buffer;
    nonce: Buffer;
    parallelism: number;
    tagLength: number;
    memory: number;
    passes: number;
  },
  callback: (error: Error | null, derivedKey: Buffer) => void,
) => void;

/** Node.js 24.7+ only; undefined before. */
const nodeArgon2 = (crypto as unknown as { argon2?: Argon2 }).argon2;

export type ParsedPasswordHash =
  | { algorithm: 'scrypt'; params: ScryptParams; salt: Buffer; hash: Buffer }
  | {
      algorithm: Argon2Algorithm;
      params: { memory: number; passes: number; parallelism: number };
      salt: Buffer;
      hash: Buffer;
    };

export class PasswordHashError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PasswordHashError';
  }
}

/** Standard base64, padding optional (PHC strings omit it). */
function decodeB64(text: string | undefined, what: string): Buffer {
  if (!text || !/^[A-Za-z0-9+/]+={0,2}$/.test(text))
    throw new PasswordHashError(`has no valid base64 ${what}`);
  return Buffer.from(text, 'base64');
}

function encodeB64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}

function parseParams(text: string | undefined): Map<string, number> {
  const params = new Map<string, number>();
  for (const pair of (text ?? '').split(',')) {
    const match = /^([a-zA-Z]+)=(\d{1,10})$/.exec(pair);
    if (!match) throw new PasswordHashError(`has malformed parameters "${text ?? ''}"`);
    params.set(match[1]!, Number(match[2]));
  }
  return params;
}

function within(value: number | undefined, name: string, bounds: { min: number; max: number }): number {
  if (value === undefined) throw new PasswordHashError(`lacks the parameter ${name}`);
  if (!Number.isInteger(value) || value < bounds.min || value > bounds.max)
    throw new PasswordHashError(`has ${name}=${value}, outside ${bounds.min}..${bounds.max}`);
  return value;
}

function checkLengths(salt: Buffer, hash: Buffer): void {
  within(salt.length, 'salt length', LIMITS.saltBytes);
  within(hash.length, 'hash length', LIMITS.hashBytes);
}

/** Parses and bounds-checks a PHC password hash; throws PasswordHashError saying what is wrong. */
export function parsePasswordHash(encoded: string): ParsedPasswordHash {
  const fields = encoded.split('$');
  if (fields[0] !== '') throw new PasswordHashError('is not a PHC string ("$scrypt$…" or "$argon2id$…")');
  const algorithm = fields[1];
  if (algorithm === 'scrypt') {
    if (fields.length !== 5) throw new PasswordHashError('must look like $scrypt$N=…,r=…,p=…$<salt>$<hash>');
    const params = parseParams(fields[2]);
    const unknown = [...params.keys()].filter((k) => !['N', 'ln', 'r', 'p'].includes(k));
    if (unknown.length) throw new PasswordHashError(`has unknown scrypt parameter ${unknown[0]}`);
    let logN: number;
    if (params.has('ln')) logN = within(params.get('ln'), 'ln', LIMITS.scryptLogN);
    else {
      const N = params.get('N');
      if (N === undefined) throw new PasswordHashError('lacks the parameter N');
      logN = Math.log2(N);
      if (!Number.isInteger(logN)) throw new PasswordHashError(`has N=${N}, not a power of two`);
      within(logN, 'log2(N)', LIMITS.scryptLogN);
    }
    const r = within(params.get('r'), 'r', LIMITS.scryptR);
    const p = within(params.get('p'), 'p', LIMITS.scryptP);
    if (128 * 2 ** logN * r > LIMITS.scryptMemory)
      throw new PasswordHashError('needs more than 1 GiB of memory per verification (128 * N * r)');
    const salt = decodeB64(fields[3], 'salt');
    const hash = decodeB64(fields[4], 'hash');
    checkLengths(salt, hash);
    return { algorithm, params: { N: 2 ** logN, r, p }, salt, hash };
  }
  if (algorithm === 'argon2id' || algorithm === 'argon2i' || algorithm === 'argon2d') {
    if (fields.length !== 6)
      throw new PasswordHashError(`must look like $${algorithm}$v=19$m=…,t=…,p=…$<salt>$<hash>`);
    if (fields[2] !== 'v=19') throw new PasswordHashError(`has version ${fields[2]}; only v=19 is supported`);
    const params = parseParams(fields[3]);
    const lanes = within(params.get('p'), 'p', LIMITS.argon2Lanes);
    const memory = within(params.get('m'), 'm', LIMITS.argon2MemoryKiB);
    if (memory < 8 * lanes) throw new PasswordHashError(`has m=${memory}, less than 8 * p`);
    const passes = within(params.get('t'), 't', LIMITS.argon2Passes);
    const salt = decodeB64(fields[4], 'salt');
    const hash = decodeB64(fields[5], 'hash');
    checkLengths(salt, hash);
    if (salt.length < 8) throw new PasswordHashError('has a salt shorter than 8 bytes');
    return { algorithm, params: { memory, passes, parallelism: lanes }, salt, hash };
  }
  throw new PasswordHashError(`uses "${algorithm ?? ''}"; supported: scrypt, argon2id, argon2i, argon2d`);
}

/** Why a configured hash cannot be used here, or undefined when it can. */
export function passwordHashProblem(encoded: string): string | undefined {
  try {
    const parsed = parsePasswordHash(encoded);
    if (parsed.algorithm !== 'scrypt' && !nodeArgon2)
      return `is an ${parsed.algorithm} hash, which needs Node.js 24.7 or newer (this is ${process.version}); use a scrypt hash from "dicomweb-gateway hash-password"`;
    return undefined;
  } catch (error) {
    if (error instanceof PasswordHashError) return error.message;
    throw error;
  }
}

export function argon2Available(): boolean {
  return nodeArgon2 !== undefined;
}

function scryptMaxmem({ N, r, p }: ScryptParams): number {
  // OpenSSL needs 128 * r * (N + p + 2) bytes; leave headroom over that.
  return 128 * r * (N + p + 2) + 1024 * 1024;
}

/** A new scrypt PHC string for the password (random 16-byte salt, 32-byte hash). */
export async function hashPassword(
  password: string,
  params: ScryptParams = SCRYPT_DEFAULTS,
): Promise<string> {
  const salt = crypto.randomBytes(SALT_BYTES);
  const hash = await scrypt(password.normalize('NFC'), salt, HASH_BYTES, {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: scryptMaxmem(params),
  });
  return `$scrypt$N=${params.N},r=${params.r},p=${params.p}$${encodeB64(salt)}$${encodeB64(hash)}`;
}

async function derive(password: Buffer, parsed: ParsedPasswordHash): Promise<Buffer> {
  if (parsed.algorithm === 'scrypt') {
    return scrypt(password, parsed.salt, parsed.hash.length, {
      ...parsed.params,
      maxmem: scryptMaxmem(parsed.params),
    });
  }
  const argon2 = nodeArgon2;
  if (!argon2) throw new PasswordHashError(`${parsed.algorithm} needs Node.js 24.7 or newer`);
  const algorithm = parsed.algorithm;
  return new Promise<Buffer>((resolve, reject) =>
    argon2(
      algorithm,
      {
        message: password,
        nonce: parsed.salt,
        parallelism: parsed.params.parallelism,
        tagLength: parsed.hash.length,
        memory: parsed.params.memory,
        passes: parsed.params.passes,
      },
      (error, key) => (error ? reject(error) : resolve(key)),
    ),
  );
}

/**
 * Whether the password matches the hash, compared in constant time. The password is NFC-normalised
 * (RFC 8265 OpaqueString, as RFC 7617 suggests for Basic). Throws PasswordHashError for a malformed hash.
 */
export async function verifyPassword(
  password: string,
  encoded: string | ParsedPasswordHash,
): Promise<boolean> {
  const parsed = typeof encoded === 'string' ? parsePasswordHash(encoded) : encoded;
  const derived = await derive(Buffer.from(password.normalize('NFC'), 'utf8'), parsed);
  return derived.length === parsed.hash.length && crypto.timingSafeEqual(derived, parsed.hash);
}

/** Lower-case hex SHA-256 of a token's UTF-8 bytes: what `auth.tokens[].sha256` holds. */
export function sha256Hex(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random API token: 32 bytes, base64url (43 characters, valid in `Authorization: Bearer`). */
export function generateToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}
