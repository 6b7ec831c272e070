/**
 * The Node server under fastify: plain HTTP, or HTTPS when http.tls names a key and certificate, with
 * the header size, request and idle time limits of config.limits.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { ConfigError, type GatewayConfig } from '../config.js';

export type RequestHandler = (request: http.IncomingMessage, response: http.ServerResponse) => void;

export function createNodeServer(config: GatewayConfig, handler: RequestHandler): http.Server {
  const { limits } = config;
  const requestTimeout = limits.requestTimeoutSeconds * 1000;
  const options: http.ServerOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    requestTimeout,
    // Node wants headers no slower than the whole request; 0 switches both checks off.
    headersTimeout: requestTimeout > 0 ? Math.min(60_000, requestTimeout) : 60_000,
    // How often Node looks for requests over their time (its default, 30 s, is coarse for short limits).
    connectionsCheckingInterval:
      requestTimeout > 0 ? Math.min(30_000, Math.max(250, requestTimeout / 4)) : 30_000,
  };
  const tls = config.http.tls;
  // https.Server is an http.Server with TLS underneath; Node's types do not say so, hence the cast.
  const server = tls
    ? (https.createServer(
        { ...options, key: readPem(tls.key, 'http.tls.key'), cert: readPem(tls.cert, 'http.tls.cert') },
        handler,
      ) as unknown as http.Server)
    : http.createServer(options, handler);
  // Idle keep-alive connections close a little before the general idle limit would cut them.
  server.keepAliveTimeout = Math.min(72_000, limits.idleTimeoutSeconds * 1000);
  server.setTimeout(limits.idleTimeoutSeconds * 1000);
  return server;
}

function readPem(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(`config key "${key}": cannot read ${path}: ${(error as Error).message}`);
  }
}
