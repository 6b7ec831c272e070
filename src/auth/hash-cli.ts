/**
 * `dicomweb-gateway hash-password` and `hash-token`: print the config entry for a Basic user or an API
 * token, so no secret is ever written into the config file.
 *
 *     dicomweb-gateway hash-password <user> [--scopes read,write]      # asks for the password
 *     printf %s "$PASSWORD" | dicomweb-gateway hash-password alice      # or reads it from stdin
 *     dicomweb-gateway hash-token --generate [--scopes read] [--name ci]
 *     printf %s "$TOKEN" | dicomweb-gateway hash-token --scopes read,write
 *
 * The secret may also be the last argument, but other local users can read arguments (ps, shell
 * history), so stdin or the prompt is better. The entry goes to stdout as one line of JSON; messages and
 * a generated token go to stderr.
 */
import { SCOPES, type BasicUser, type Scope, type TokenEntry } from './auth-config.js';
import { generateToken, hashPassword, sha256Hex } from './password-hash.js';

export interface HashCliIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface HashCommandArgs {
  /** After the command name: `<user> [password]` or `[token]`. */
  positionals: string[];
  /** Comma-separated scopes; default `read`. */
  scopes?: string;
  /** Token entry name (hash-token). */
  name?: string;
  /** Make a new random token (hash-token). */
  generate?: boolean;
}

export const HASH_USAGE = `  hash-password <user> [--scopes read,write,admin]
                        print an auth.basic entry; the password is read from stdin or prompted for
  hash-token [--generate] [--scopes read,write,admin] [--name <label>]
                        print an auth.tokens entry for a token read from stdin, or a new random one
`;

const processIo: HashCliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };

/** A token the client can send as `Authorization: Bearer <token>` (RFC 6750 b64token). */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const SHORT_TOKEN = 32;

class UsageError extends Error {}

export function parseScopes(text: string | undefined): Scope[] {
  if (text === undefined) return ['read'];
  const scopes = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length || scopes.length === 0) {
    throw new UsageError(`--scopes takes a comma-separated list of ${SCOPES.join(', ')}; got "${text}"`);
  }
  return [...new Set(scopes)] as Scope[];
}

/** All of a non-interactive stdin, without one trailing line break. */
async function readAll(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** One line typed at a terminal, not echoed. */
function promptHidden(io: HashCliIo, prompt: string): Promise<string> {
  const { stdin, stderr } = io;
  stderr.write(prompt);
  stdin.setRawMode!(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise<string>((resolve, reject) => {
    let chars: string[] = [];
    const done = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode!(false);
      stdin.pause();
      stderr.write('\n');
      if (error) reject(error);
      else resolve(chars.join(''));
    };
    const onData = (chunk: string | Buffer) => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') chars = chars.slice(0, -1);
        else if (ch >= ' ') chars.push(ch);
      }
    };
    stdin.on('data', onData);
  });
}

async function readSecret(io: HashCliIo, what: string, confirm: boolean): Promise<string> {
  if (!io.stdin.isTTY || !io.stdin.setRawMode) return readAll(io.stdin);
  const secret = await promptHidden(io, `${what}: `);
  if (confirm && (await promptHidden(io, `${what} again: `)) !== secret) {
    throw new UsageError(`the two ${what.toLowerCase()}s differ`);
  }
  return secret;
}

async function run(io: HashCliIo, body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`dicomweb-gateway: ${error.message}\n`);
    return 2;
  }
}

/** `hash-password <user> [password]`: prints `{"user", "passwordHash", "scopes"}` (an auth.basic entry). */
export function hashPasswordCommand(args: HashCommandArgs, io: HashCliIo = processIo): Promise<number> {
  return run(io, async () => {
    const [user, given, ...extra] = args.positionals;
    if (!user || extra.length)
      throw new UsageError('usage: hash-password <user> [--scopes read,write,admin]');
    if (user.includes(':')) throw new UsageError('a Basic user name cannot contain ":"');
    const scopes = parseScopes(args.scopes);
    const password = given ?? (await readSecret(io, 'Password', true));
    if (password === '') throw new UsageError('the password is empty');
    const entry: BasicUser = { user, passwordHash: await hashPassword(password), scopes };
    io.stdout.write(`${JSON.stringify(entry)}\n`);
  });
}

/** `hash-token [token] [--generate]`: prints `{"sha256", "scopes"[, "name"]}` (an auth.tokens entry). */
export function hashTokenCommand(args: HashCommandArgs, io: HashCliIo = processIo): Promise<number> {
  return run(io, async () => {
    const [given, ...extra] = args.positionals;
    if (extra.length || (args.generate && given !== undefined)) {
      throw new UsageError('usage: hash-token [--generate] [--scopes read,write,admin] [--name <label>]');
    }
    const scopes = parseScopes(args.scopes);
    let token: string;
    if (args.generate) {
      token = generateToken();
      io.stderr.write(`token (give it to the client; only its hash goes into the config):\n${token}\n`);
    } else {
      token = (given ?? (await readSecret(io, 'Token', false))).trim();
      if (!TOKEN68.test(token)) {
        throw new UsageError(
          'a token must be letters, digits and -._~+/ (optionally ending in =), to fit in "Authorization: Bearer"',
        );
      }
      if (token.length < SHORT_TOKEN) {
        io.stderr.write(
          `warning: a token shorter than ${SHORT_TOKEN} characters may be guessed; try --generate\n`,
        );
      }
    }
    const entry: TokenEntry = { sha256: sha256Hex(token), scopes };
    if (args.name) entry.name = args.name;
    io.stdout.write(`${JSON.stringify(entry)}\n`);
  });
}
