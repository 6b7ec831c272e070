/**
 * A stand-in OpenID Connect issuer for tests: a JWKS served over HTTP on 127.0.0.1 (port 0) from a
 * generated key pair, and helpers that sign tokens with it, with a key pair it does not publish, or
 * with claims that must be refused. (The full provider with login and token endpoints, for browser
 * tests, is test/helpers/oidc-provider.ts, which holds the signing key code both use.)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWTPayload } from 'jose';
import { createSigningKey } from '../../helpers/oidc-provider.js';

export interface SignOptions {
  /** Claims besides iss/aud/exp/iat; `scope` defaults to "read". */
  claims?: JWTPayload;
  issuer?: string;
  audience?: string | string[];
  /** Seconds from now; negative for an expired token; null for no exp claim. */
  expiresIn?: number | null;
  /** Sign with a key pair the JWKS does not hold (under the published kid unless kid is given). */
  foreignKey?: boolean;
  kid?: string;
  subject?: string;
}

export interface TestIssuer {
  issuer: string;
  audience: string;
  jwksUri: string;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  sign(options?: SignOptions): Promise<string>;
  close(): Promise<void>;
}

export const KID = 'test-key-1';

export async function startTestIssuer(): Promise<TestIssuer> {
  const key = await createSigningKey('ES256', KID);
  let fetches = 0;
  const server = createServer((request, response) => {
    if (request.url === '/jwks') {
      fetches++;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(key.jwks()));
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${base}/realms/test`;
  const audience = 'dicomweb-gateway';

  return {
    issuer,
    audience,
    jwksUri: `${base}/jwks`,
    jwksFetches: () => fetches,
    sign: (options: SignOptions = {}) =>
      key.sign({
        issuer: options.issuer ?? issuer,
        audience: options.audience ?? audience,
        subject: options.subject ?? 'user-123',
        claims: { scope: 'read', ...options.claims },
        expiresIn: options.expiresIn === undefined ? 300 : options.expiresIn,
        typ: 'at+jwt',
        foreignKey: options.foreignKey,
        ...(options.kid === undefined ? {} : { kid: options.kid }),
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
