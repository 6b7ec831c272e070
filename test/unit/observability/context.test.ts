import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { pino } from 'pino';
import type { AcceptorConnection } from '../../../src/dimse/acceptor.js';
import { CommandField } from '../../../src/dimse/command-set.js';
import type { IncomingRequest } from '../../../src/dimse/connection.js';
import { createServices, type ServiceContext } from '../../../src/dimse/services.js';
import type { BeginOptions, IngestJob } from '../../../src/ingest/store-instance.js';
import {
  installRequestIdHeader,
  principalOf,
  requestOrigin,
  type RequestOrigin,
} from '../../../src/observability/context.js';
import { instrumentDimseServices } from '../../../src/observability/dimse-instrumentation.js';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('request origin', () => {
  test('names the request id, the principal and the address; one object per request', async () => {
    const app = Fastify({ requestIdHeader: 'x-request-id' });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null));
    installRequestIdHeader(app);
    const seen: RequestOrigin[] = [];
    app.addHook('onRequest', async (request) => {
      (request as { principal?: unknown }).principal = { kind: 'token', name: 'pacs-bot' };
    });
    await app.register(
      async (child) => {
        child.post('/studies', async (request) => {
          seen.push(requestOrigin(request));
          for await (const _chunk of request.raw) {
            // a body read chunk by chunk, as STOW does
          }
          await new Promise((resolve) => setTimeout(resolve, 2));
          seen.push(requestOrigin(request));
          return 'ok';
        });
      },
      { prefix: '/dicom-web' },
    );
    const send = (id: string) =>
      app.inject({
        method: 'POST',
        url: '/dicom-web/studies',
        headers: { 'x-request-id': id, 'content-type': 'application/dicom' },
        body: Buffer.alloc(1_000_000),
      });
    const response = await send('abc-123');
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['x-request-id'], 'abc-123');
    assert.equal(seen.length, 2);
    assert.equal(seen[0], seen[1], 'the same object for the whole request');
    assert.deepEqual(seen[0], { requestId: 'abc-123', user: 'pacs-bot', address: '127.0.0.1' });
    await send('def-456');
    assert.equal(seen.length, 4);
    assert.notEqual(seen[2], seen[0], 'another request, another origin');
    assert.equal(seen[2]?.requestId, 'def-456');
    await app.close();
  });

  test('the request id goes back in X-Request-ID on every response, also errors', async () => {
    const app = Fastify();
    installRequestIdHeader(app);
    app.get('/fails', async () => {
      throw new Error('boom');
    });
    const failed = await app.inject({ url: '/fails' });
    assert.equal(failed.statusCode, 500);
    assert.ok(failed.headers['x-request-id']);
    const missing = await app.inject({ url: '/nowhere' });
    assert.equal(missing.statusCode, 404);
    assert.ok(missing.headers['x-request-id']);
    assert.notEqual(missing.headers['x-request-id'], failed.headers['x-request-id']);
    await app.close();
  });

  test('principal names: name or subject; none for anonymous principals', () => {
    const with_ = (principal: unknown) => principalOf({ principal } as never);
    assert.equal(with_({ name: 'alice', kind: 'basic' }), 'alice');
    assert.equal(with_({ subject: 'sub-1', method: 'oidc' }), 'sub-1');
    assert.equal(with_({ subject: 'anonymous', method: 'anonymous' }), undefined);
    assert.equal(with_({ name: 'anonymous', kind: 'anonymous' }), undefined);
    assert.equal(with_(null), undefined);
    assert.equal(with_(undefined), undefined);
    assert.equal(with_({ name: 42 }), undefined);
  });
});

describe('C-STORE origin', () => {
  test('the C-STORE handler gives ingest its association as origin, and a logger that names it', async () => {
    const { stream, lines } = capture();
    const begun: BeginOptions[] = [];
    const job = {
      write: async () => undefined,
      finish: async () => ({ ok: true, status: 'stored', instance: {}, bytes: 0 }),
      abort: async () => undefined,
    } as unknown as IngestJob;
    const context = {
      ingest: {
        begin: async (options: BeginOptions) => {
          begun.push(options);
          return job;
        },
      },
      log: pino({ base: undefined, timestamp: false }, stream),
    } as unknown as ServiceContext;
    const sent: unknown[] = [];
    const connection = {
      callingAETitle: 'CT01',
      remoteAddress: '10.0.0.9',
      associationId: 77,
      permissions: new Set(['store']),
      sendMessage: async (_contextId: number, command: unknown) => void sent.push(command),
    } as unknown as AcceptorConnection;
    const request = {
      context: { id: 1, abstractSyntax: '', transferSyntax: '1.2.840.10008.1.2.1' },
      command: {
        commandField: CommandField.CStoreRQ,
        messageId: 5,
        affectedSopClassUid: '1.2.840.10008.5.1.4.1.1.7',
        affectedSopInstanceUid: '1.2.3.4',
      },
    } as IncomingRequest;
    // As the gateway wires them: instrumented for the metrics.
    const services = instrumentDimseServices(createServices(context));
    await services.handle(connection, request).run();
    await services.handle(connection, request).run();
    assert.equal(sent.length, 2);
    assert.equal(begun.length, 2);
    const [first, second] = begun;
    assert.equal(first?.door, 'dimse');
    assert.equal(first?.callingAETitle, 'CT01');
    assert.deepEqual(first?.origin, { associationId: 77, address: '10.0.0.9' });
    assert.equal(first?.log, second?.log, 'one logger per association');
    first?.log?.info('ingest line');
    assert.deepEqual(lines(), [{ level: 30, associationId: 77, callingAE: 'CT01', msg: 'ingest line' }]);
  });
});

describe('no async context tracking', () => {
  test('nothing in src uses AsyncLocalStorage or async_hooks', async () => {
    const src = join(import.meta.dirname, '..', '..', '..', 'src');
    const offenders: string[] = [];
    for (const entry of await readdir(src, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const path = join(entry.parentPath, entry.name);
      if (/AsyncLocalStorage|async_hooks|AsyncResource/.test(await readFile(path, 'utf8')))
        offenders.push(path);
    }
    assert.deepEqual(offenders, []);
  });
});
