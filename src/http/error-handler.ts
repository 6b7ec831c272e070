/**
 * The one place HTTP statuses are chosen for errors: GatewayError carries its status from the error
 * table; fastify's own errors keep theirs; anything else is a 500 whose text is not shown to clients.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { ERROR_TABLE, GatewayError, type ErrorCode } from '../errors.js';

export interface ErrorBody {
  error: string;
  message: string;
  status: number;
}

function bodyFor(code: string, status: number, message: string): ErrorBody {
  return { error: code, message, status };
}

export function sendError(reply: FastifyReply, error: GatewayError): FastifyReply {
  return reply
    .code(error.httpStatus)
    .type('application/json')
    .send(bodyFor(error.code, error.httpStatus, error.message));
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BAD_REQUEST',
};

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | GatewayError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof GatewayError) {
      if (error.httpStatus >= 500) request.log.error({ err: error.cause ?? error }, error.message);
      return sendError(reply, error);
    }
    const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (mapped) return sendError(reply, new GatewayError(mapped, error.message));
    const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
    if (status >= 400 && status < 500) {
      return reply
        .code(status)
        .type('application/json')
        .send(bodyFor(error.code ?? 'BAD_REQUEST', status, error.message));
    }
    request.log.error({ err: error }, 'request failed');
    const title = ERROR_TABLE.PROCESSING_FAILURE.title;
    return reply
      .code(500)
      .type('application/json')
      .send(bodyFor('PROCESSING_FAILURE', 500, title));
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new GatewayError('NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
}

/**
 * Errors Node finds before a request reaches fastify (oversize headers, a request that took too long,
 * unparsable HTTP) get the same JSON body as every other error.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' && socket.bytesRead === 0) {
    // Node's header timer also runs on a connection that never began a request. Such a connection is
    // idle, not late, and closes without an answer, as the idle limit would close it.
    socket.destroy();
    return;
  }
  const code: ErrorCode =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'HEADERS_TOO_LARGE'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'REQUEST_TIMEOUT'
        : 'BAD_REQUEST';
  const status = ERROR_TABLE[code].http;
  const message =
    code === 'HEADERS_TOO_LARGE'
      ? 'the request line and headers are over the size limit (limits.maxHeaderBytes)'
      : code === 'REQUEST_TIMEOUT'
        ? 'the request was not received in time (limits.requestTimeoutSeconds)'
        : 'malformed HTTP request';
  const body = JSON.stringify(bodyFor(code, status, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
