/**
 * Patient data is not served to the network without credentials unless the operator says so: a gateway
 * bound to anything but loopback needs an auth method, or an explicit `--insecure-no-auth`.
 *
 * Loopback means 127.0.0.0/8, ::1 (also written in full or IPv4-mapped, ::ffff:127.x.y.z) and the name
 * `localhost`. Any other name is not trusted to resolve to loopback; `0.0.0.0` and `::` are every
 * interface.
 */
import { isIP } from 'node:net';
import { hasAuthMethod, type AuthConfig } from './auth-config.js';

export class UnsafeBindingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeBindingError';
  }
}

/** Expands an IPv6 address (no zone) into its 8 groups, or undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address;
  // A trailing dotted IPv4 part (::ffff:127.0.0.1) becomes two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const middle = tail === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...middle, ...right];
}

export function isLoopbackHost(host: string): boolean {
  const name = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  if (name === 'localhost') return true;
  if (isIP(name) === 4) return name.split('.')[0] === '127';
  const groups = ipv6Groups(name);
  if (!groups) return false;
  const zeros = (n: number) => groups.slice(0, n).every((g) => g === 0);
  if (zeros(7) && groups[7] === 1) return true; // ::1
  // IPv4-mapped ::ffff:127.0.0.0/104
  return zeros(5) && groups[5] === 0xffff && groups[6]! >> 8 === 127;
}

/** Why the gateway must not start with this binding, or undefined when it may. */
export function unsafeBindingProblem(
  host: string,
  auth: AuthConfig | undefined,
  insecureNoAuth: boolean,
): string | undefined {
  if (isLoopbackHost(host) || hasAuthMethod(auth) || insecureNoAuth) return undefined;
  return (
    `http.host ${host} is not a loopback address and no auth method is configured ` +
    '(auth.tokens, auth.basic or auth.oidc); configure one, bind to 127.0.0.1, or start with ' +
    '--insecure-no-auth to serve without authentication'
  );
}

/**
 * Throws UnsafeBindingError when the HTTP host is not loopback, no auth method is configured and the
 * operator did not pass --insecure-no-auth. Otherwise says which case applies, for the startup log
 * (`insecure` deserves a warning).
 */
export function assertSafeBinding(
  host: string,
  auth: AuthConfig | undefined,
  insecureNoAuth: boolean,
): 'loopback' | 'authenticated' | 'insecure' {
  const problem = unsafeBindingProblem(host, auth, insecureNoAuth);
  if (problem) throw new UnsafeBindingError(problem);
  if (hasAuthMethod(auth)) return 'authenticated';
  return isLoopbackHost(host) ? 'loopback' : 'insecure';
}
