/**
 * The DIMSE upper layer under misuse, with raw sockets: random bytes, PDUs out of order, oversized PDUs,
 * clients that connect and stall. The server must close such connections and keep serving others.
 * Also dcmjs-dimse as a second, independent client implementation.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import dimse from 'dcmjs-dimse';
import { encodeAssociateRQ } from '../../src/dimse/pdu.js';
import { buildInstance } from '../helpers/dicom-generator.js';
import { qido } from '../helpers/dicomweb-client.js';
import { makeTempDir, removeDir, writeInstance } from '../helpers/fixtures.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

/** Opens a socket, sends bytes, and resolves with what came back once the server closed it. */
function exchange(
  port: number,
  send: Buffer[],
  options: { timeoutMs?: number } = {},
): Promise<{ received: Buffer; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closedByServer = true;
    const timer = setTimeout(() => {
      closedByServer = false;
      socket.destroy();
    }, options.timeoutMs ?? 5000);
    socket.on('connect', () => {
      for (const bytes of send) socket.write(bytes);
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closedByServer });
    });
    socket.on('timeout', reject);
  });
}

function associateRQ(called = 'DICOMWEB'): Buffer {
  return encodeAssociateRQ({
    calledAETitle: called,
    callingAETitle: 'RAWTEST',
    contexts: [{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }],
    user: { maxPduLength: 16384, implementationClassUid: '1.2.3.4', roles: [] },
  });
}

describe('DIMSE protocol robustness', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway({ dimse: { artimTimeoutSeconds: 1, idleTimeoutSeconds: 1 } });
  });
  after(() => gateway.stop());

  async function stillServes(): Promise<void> {
    const { received } = await exchange(gateway.dimsePort, [associateRQ()]);
    assert.equal(received[0], 0x02, 'a good association request is still accepted (A-ASSOCIATE-AC)');
  }

  test('random bytes get an A-ABORT and the connection closed', async () => {
    const { received, closedByServer } = await exchange(gateway.dimsePort, [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    ]);
    assert.ok(closedByServer);
    assert.equal(received[0], 0x07, 'A-ABORT');
    await stillServes();
  });

  test('P-DATA before A-ASSOCIATE is aborted (unexpected PDU)', async () => {
    const pdata = Buffer.from([0x04, 0, 0, 0, 0, 8, 0, 0, 0, 4, 1, 3, 0, 0]);
    const { received, closedByServer } = await exchange(gateway.dimsePort, [pdata]);
    assert.ok(closedByServer);
    assert.deepEqual([...received.subarray(0, 1)], [0x07]);
    assert.equal(received[9], 2, 'abort reason: unexpected PDU');
    await stillServes();
  });

  test('a PDU header declaring 4 GB is refused without buffering it', async () => {
    const header = Buffer.from([0x04, 0, 0xff, 0xff, 0xff, 0xff]);
    const { closedByServer } = await exchange(gateway.dimsePort, [associateRQ(), header, Buffer.alloc(1000)]);
    assert.ok(closedByServer);
    await stillServes();
  });

  test('a truncated A-ASSOCIATE-RQ body is aborted', async () => {
    const rq = associateRQ();
    rq.writeUInt32BE(20, 2);
    const { received, closedByServer } = await exchange(gateway.dimsePort, [rq.subarray(0, 26)]);
    assert.ok(closedByServer);
    assert.equal(received[0], 0x07);
  });

  test('a client that connects and says nothing is dropped by the ARTIM timer', async () => {
    const started = Date.now();
    const { closedByServer } = await exchange(gateway.dimsePort, [], { timeoutMs: 5000 });
    assert.ok(closedByServer, 'the server closed the silent connection');
    assert.ok(Date.now() - started < 4000);
  });

  test('a client that associates and stalls is dropped after the idle timeout', async () => {
    const { received, closedByServer } = await exchange(gateway.dimsePort, [associateRQ()], {
      timeoutMs: 5000,
    });
    assert.equal(received[0], 0x02, 'association accepted first');
    assert.ok(closedByServer, 'then closed for idleness');
  });

  test('a client that trickles bytes cannot keep the ARTIM timer from firing', async () => {
    const socket = connect(gateway.dimsePort, '127.0.0.1');
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
    socket.on('error', () => undefined);
    const started = Date.now();
    const rq = associateRQ();
    let at = 0;
    const trickle = setInterval(() => {
      if (at < rq.length - 1) socket.write(rq.subarray(at, ++at));
    }, 200);
    const end = await closed;
    clearInterval(trickle);
    assert.ok(end - started < 4000, 'dropped within the ARTIM period');
  });
});

describe('association limits and dcmjs-dimse as a client', () => {
  let gateway: TestGateway;
  let dir: string;
  before(async () => {
    gateway = await startTestGateway({ dimse: { maxAssociations: 2 } });
    dir = await makeTempDir('dimse-client-');
  });
  after(async () => {
    await gateway.stop();
    await removeDir(dir);
  });

  test('associations beyond the limit are rejected as transient (local limit exceeded)', async () => {
    const hold = [connect(gateway.dimsePort, '127.0.0.1'), connect(gateway.dimsePort, '127.0.0.1')];
    await Promise.all(hold.map((s) => new Promise((resolve) => s.on('connect', resolve))));
    for (const s of hold) s.write(associateRQ());
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { received } = await exchange(gateway.dimsePort, [associateRQ()]);
    assert.equal(received[0], 0x03, 'A-ASSOCIATE-RJ');
    assert.deepEqual(
      [...received.subarray(7, 10)],
      [2, 3, 2],
      'transient, presentation provider, local limit exceeded',
    );
    for (const s of hold) s.destroy();
  });

  test('dcmjs-dimse C-ECHO and C-STORE succeed and the instance is found by QIDO', async () => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const instance = buildInstance({ image: { rows: 32, columns: 32 } });
    const file = await writeInstance(dir, {
      sopInstanceUID: instance.sopInstanceUID,
      image: { rows: 32, columns: 32 },
    });
    const statuses: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const client = new dimse.Client();
      const echo = new dimse.requests.CEchoRequest();
      echo.on('response', (response) => statuses.push(response.getStatus()));
      const store = new dimse.requests.CStoreRequest(file.path);
      store.on('response', (response) => statuses.push(response.getStatus()));
      client.addRequest(echo);
      client.addRequest(store);
      client.on('networkError', reject);
      client.on('closed', () => resolve());
      client.send('127.0.0.1', gateway.dimsePort, 'DCMJSSCU', gateway.aeTitle);
    });
    assert.deepEqual(statuses, [0, 0]);
    assert.equal(
      (await qido(`${gateway.dicomweb}/instances?SOPInstanceUID=${file.sopInstanceUID}`)).length,
      1,
    );
  });
});
