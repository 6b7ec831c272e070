/**
 * The HTTP door's limits and transport: parts per STOW, concurrent uploads, header size, request and
 * idle timeouts (each with its status and a JSON error body), HTTPS, and X-Forwarded-* believed only
 * from configured proxies.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { buildInstance } from '../helpers/dicom-generator.js';
import { isCi, missingTools } from '../helpers/dcmtk.js';
import { multipartRelated, qido, stow, value } from '../helpers/dicomweb-client.js';
import { makeTempDir, removeDir } from '../helpers/fixtures.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestCertificates } from '../helpers/tls.js';

interface RawResponse {
  status: number;
  headers: string;
  body: string;
  closedAfterMs: number;
}

/** Writes raw bytes to the HTTP port and reads until the server closes the connection. */
function rawExchange(port: number, write: (socket: Socket) => void): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server may reset a connection whose oversized request it stopped reading.
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
    });
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, headers: head, body, closedAfterMs: Date.now() - started });
    });
    socket.on('connect', () => write(socket));
  });
}

function errorCode(body: string): string {
  return (JSON.parse(body) as { error: string }).error;
}

describe('limits', () => {
  let gateway: TestGateway;
  let port: number;
  before(async () => {
    gateway = await startTestGateway({
      limits: {
        maxStowParts: 3,
        maxConcurrentUploads: 1,
        requestTimeoutSeconds: 1,
        idleTimeoutSeconds: 1,
      },
    });
    port = gateway.running.httpPort;
  });
  after(async () => {
    await gateway.stop();
  });

  test('more parts than limits.maxStowParts: 413, the first parts stored', async () => {
    const built = Array.from({ length: 5 }, () => buildInstance());
    const { status, json } = await stow(
      gateway.dicomweb,
      built.map((b) => b.bytes),
    );
    assert.equal(status, 413);
    assert.equal((json as unknown as { error: string }).error, 'PAYLOAD_TOO_LARGE');
    assert.match((json as unknown as { message: string }).message, /maxStowParts/);
    const stored = await Promise.all(
      built.map(
        async (b) => (await qido(`${gateway.dicomweb}/instances?SOPInstanceUID=${b.sopInstanceUID}`)).length,
      ),
    );
    assert.deepEqual(stored, [1, 1, 1, 0, 0]);
  });

  test('an upload over limits.maxConcurrentUploads gets 429 with Retry-After', async () => {
    const first = buildInstance();
    const { body, contentType } = multipartRelated([first.bytes]);
    // The first upload sends half its body and waits, holding the only upload slot.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = Readable.from(
      (async function* () {
        yield body.subarray(0, body.length >> 1);
        await held;
        yield body.subarray(body.length >> 1);
      })(),
    );
    const pending = fetch(`${gateway.dicomweb}/studies`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: Readable.toWeb(slow) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const second = await stow(gateway.dicomweb, [buildInstance().bytes]);
    assert.equal(second.status, 429);
    assert.equal(second.headers.get('retry-after'), '1');
    assert.equal((second.json as unknown as { error: string }).error, 'TOO_MANY_REQUESTS');

    release();
    assert.equal((await pending).status, 200);
    assert.equal((await stow(gateway.dicomweb, [buildInstance().bytes])).status, 200, 'slot freed');
  });

  test('a 10 MB request header gets 431 with a JSON body', async () => {
    const response = await rawExchange(port, (socket) => {
      socket.write(`GET ${gateway.dicomweb.replace(/^http:\/\/[^/]+/, '')}/studies HTTP/1.1\r\nHost: x\r\n`);
      const line = `X-Padding: ${'a'.repeat(1024 * 1024)}\r\n`;
      for (let i = 0; i < 10 && !socket.destroyed; i++) socket.write(line);
      if (!socket.destroyed) socket.end('\r\n');
    });
    assert.equal(response.status, 431);
    assert.equal(errorCode(response.body), 'HEADERS_TOO_LARGE');
    assert.equal((await fetch(`${gateway.httpUrl}/health`)).status, 200, 'server still up');
  });

  test('a request not received within limits.requestTimeoutSeconds gets 408', async () => {
    const response = await rawExchange(port, (socket) => {
      socket.write(
        'POST /dicom-web/studies HTTP/1.1\r\nHost: x\r\nContent-Type: application/dicom\r\n' +
          'Content-Length: 1000\r\n\r\npartial',
      );
      // Keeps trickling so the idle timeout does not fire first.
      const trickle = setInterval(() => (socket.destroyed ? clearInterval(trickle) : socket.write('x')), 200);
      socket.on('close', () => clearInterval(trickle));
    });
    assert.equal(response.status, 408);
    assert.equal(errorCode(response.body), 'REQUEST_TIMEOUT');
  });

  test('an idle connection is closed after limits.idleTimeoutSeconds', async () => {
    const response = await rawExchange(port, () => undefined);
    assert.equal(response.status, 0, 'no answer to a connection that sent nothing');
    assert.ok(
      response.closedAfterMs >= 900 && response.closedAfterMs < 10_000,
      `${response.closedAfterMs} ms`,
    );
  });
});

describe('a connection that never begins a request', () => {
  test('closes without an answer when the request timer runs out before the idle one', async () => {
    // Node's header timer also runs on an empty connection; it must not turn it into a 408.
    const gateway = await startTestGateway({ limits: { requestTimeoutSeconds: 1, idleTimeoutSeconds: 30 } });
    try {
      const response = await rawExchange(gateway.running.httpPort, () => undefined);
      assert.equal(response.status, 0, 'no answer to a connection that sent nothing');
      assert.equal(response.body, '');
      assert.ok(response.closedAfterMs < 10_000, `${response.closedAfterMs} ms`);
    } finally {
      await gateway.stop();
    }
  });
});

describe('HTTPS and reverse proxies', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('gw-https-');
  });
  after(async () => {
    await removeDir(dir);
  });

  test('http.tls serves HTTPS with the configured certificate', async (t) => {
    const missing = missingTools('openssl');
    if (missing.length > 0) {
      if (isCi()) assert.fail('openssl is required in CI');
      return t.skip(`needs ${missing.join(', ')}`);
    }
    const certs = await makeTestCertificates(dir);
    const gateway = await startTestGateway({
      http: { tls: { key: certs.serverKey, cert: certs.serverCert } },
    });
    try {
      const ca = await readFile(certs.caCert);
      const built = buildInstance();
      const { body, contentType } = multipartRelated([built.bytes]);
      const stored = await httpsRequest(gateway.running.httpPort, '/dicom-web/studies', ca, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
      });
      assert.equal(stored.status, 200);
      const retrieveUrl = value(JSON.parse(stored.body) as never, '00081190') as string;
      assert.match(retrieveUrl, /^https:\/\/127\.0\.0\.1:\d+\/dicom-web\/studies\//);
      // Plain HTTP on the HTTPS port is not answered as HTTP.
      await assert.rejects(fetch(`${gateway.httpUrl}/health`));
    } finally {
      await gateway.stop();
    }
  });

  test('X-Forwarded-Proto/Host shape RetrieveURLs only from http.trustedProxies', async () => {
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'pacs.example.org' };
    const urlOf = async (gateway: TestGateway) => {
      const built = buildInstance();
      const { body, contentType } = multipartRelated([built.bytes]);
      const response = await fetch(`${gateway.dicomweb}/studies`, {
        method: 'POST',
        headers: { 'content-type': contentType, ...forwarded },
        body,
      });
      return value((await response.json()) as never, '00081190') as string;
    };
    const trusting = await startTestGateway({ http: { trustedProxies: ['127.0.0.1'] } });
    const untrusting = await startTestGateway({ http: { trustedProxies: ['10.0.0.0/8'] } });
    try {
      assert.match(await urlOf(trusting), /^https:\/\/pacs\.example\.org\/dicom-web\/studies\//);
      assert.match(await urlOf(untrusting), /^http:\/\/127\.0\.0\.1:\d+\/dicom-web\/studies\//);
    } finally {
      await trusting.stop();
      await untrusting.stop();
    }
  });
});

function httpsRequest(
  port: number,
  path: string,
  ca: Buffer,
  options: { method: string; headers: Record<string, string>; body: Buffer },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      { host: '127.0.0.1', port, path, method: options.method, headers: options.headers, ca },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}
