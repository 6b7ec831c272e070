/**
 * Hostile DIMSE (issue 6): a seeded fuzzer over the upper layer: random bytes, mutated A-ASSOCIATE-RQs
 * (PDU and item lengths, item types, variable items), other PDUs before association, truncated PDUs
 * and huge lengths, and malformed P-DATA-TF on established associations. The server must answer or
 * close every such connection, stay up (C-ECHO works, with echoscu too), and leak no association slot.
 * dimse-protocol.test.ts has the hand-written cases; this adds the fuzzing. Reproduce a failure with the
 * FUZZ_SEED (and FUZZ_CASES) its message names.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { execFile, hasTool, isCi } from '../helpers/dcmtk.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { fuzzCases, fuzzSeed, Prng, reproduce } from '../helpers/mutation-fuzzer.js';
import {
  buildAbort,
  buildAssociateRQ,
  buildPData,
  buildReleaseRQ,
  cEchoRQ,
  cStoreRQ,
  IMPLICIT_LE,
  RawAssociation,
  VERIFICATION,
  type BuiltPdu,
  type ProposedContext,
} from '../helpers/raw-dimse.js';

const MAX_ASSOCIATIONS = 16;
/** ARTIM and idle timeouts of the gateway under test: connections that stall are dropped this fast. */
const TIMEOUT_SECONDS = 2;
const CT = '1.2.840.10008.5.1.4.1.1.2';

interface Outcome {
  /** PDU types the server sent, in order. */
  received: number[];
  closedByServer: boolean;
}

/** Sends the bytes and watches for up to `waitMs`: what the server sent back and whether it closed. */
function exchange(port: number, chunks: Buffer[], waitMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    const received: number[] = [];
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received, closedByServer });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('connect', () => {
      for (const chunk of chunks) if (!socket.destroyed) socket.write(chunk);
    });
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      while (buffer.length >= 6 && buffer.length >= 6 + buffer.readUInt32BE(2)) {
        received.push(buffer[0]!);
        buffer = buffer.subarray(6 + buffer.readUInt32BE(2));
      }
      // Accepted: the association is ours to drop (the server must notice). Rejected or aborted: the
      // server closes next, which 'close' reports.
      if (received[0] === 0x02) finish(false);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
  });
}

/** Whether `bytes` is a whole number of PDUs (each as long as its header says). */
function completePdus(bytes: Buffer): boolean {
  let at = 0;
  while (at + 6 <= bytes.length) at += 6 + bytes.readUInt32BE(at + 2);
  return at === bytes.length;
}

function proposal(rng: Prng): ProposedContext[] {
  const contexts: ProposedContext[] = [
    { id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
    { id: 3, abstractSyntax: CT, transferSyntaxes: ['1.2.840.10008.1.2.1', IMPLICIT_LE] },
  ];
  // Variable items the acceptor must cope with: many contexts, odd ids, long and empty syntaxes.
  const extra = rng.weighted([6, 2, 1, 1]);
  if (extra === 1) {
    for (let i = 0; i < rng.range(1, 40); i++)
      contexts.push({ id: rng.int(256), abstractSyntax: CT, transferSyntaxes: [IMPLICIT_LE] });
  } else if (extra === 2) {
    contexts.push({ id: 5, abstractSyntax: `1.${'2'.repeat(rng.range(60, 3000))}`, transferSyntaxes: [''] });
  } else if (extra === 3) {
    contexts.push({ id: 7, abstractSyntax: '', transferSyntaxes: [] });
  }
  return contexts;
}

/** User information sub-items with hostile contents: role selection, async ops, user identity. */
function extraUserItems(rng: Prng): [number, Buffer][] {
  const items: [number, Buffer][] = [];
  if (rng.chance(0.3)) {
    const uid = Buffer.from(CT);
    const role = Buffer.alloc(2 + uid.length + 2);
    role.writeUInt16BE(rng.chance(0.5) ? uid.length : rng.pick([0xffff, uid.length + 5, 0]), 0);
    uid.copy(role, 2);
    role[2 + uid.length] = 1;
    items.push([0x54, rng.chance(0.7) ? role : role.subarray(0, rng.int(role.length))]);
  }
  if (rng.chance(0.2)) items.push([0x53, rng.bytes(rng.pick([0, 1, 3, 4, 8]))]);
  if (rng.chance(0.3)) {
    const primary = rng.bytes(rng.range(0, 40));
    const identity = Buffer.alloc(4 + primary.length + 2);
    identity[0] = rng.range(0, 6);
    identity[1] = rng.int(2);
    identity.writeUInt16BE(rng.chance(0.6) ? primary.length : rng.int(0x10000), 2);
    primary.copy(identity, 4);
    identity.writeUInt16BE(rng.chance(0.6) ? 0 : rng.int(0x10000), 4 + primary.length);
    items.push([0x58, identity]);
  }
  if (rng.chance(0.1)) items.push([rng.range(0x56, 0xff), rng.bytes(rng.int(64))]);
  return items;
}

/** A-ASSOCIATE-RQ mutated where it hurts: its lengths, item types, AE titles, version; or cut short. */
function mutateAssociate(rng: Prng, pdu: BuiltPdu, ops: string[]): Buffer {
  let bytes = Buffer.from(pdu.bytes);
  const count = rng.weighted([5, 3, 1]) + 1;
  for (let i = 0; i < count; i++) {
    const kind = rng.weighted([10, 4, 2, 2, 3, 3, 2, 2]);
    if (kind === 0 && pdu.lengths.length > 0) {
      const site = rng.pick(pdu.lengths);
      if (site.offset + site.size > bytes.length) continue;
      if (site.size === 4) {
        const v =
          rng.pick([
            0,
            1,
            4,
            0xffffffff,
            0x7fffffff,
            0x00100000,
            bytes.length,
            bytes.length + 1,
            rng.u32(),
          ]) >>> 0;
        bytes.writeUInt32BE(v, site.offset);
        ops.push(`${site.what}=0x${v.toString(16)}`);
      } else {
        const old = bytes.readUInt16BE(site.offset);
        const v = rng.pick([0, 1, 0xffff, old + 1, Math.max(0, old - 1), old + 4, rng.int(0x10000)]) & 0xffff;
        bytes.writeUInt16BE(v, site.offset);
        ops.push(`${site.what} length=${v}`);
      }
    } else if (kind === 1 && pdu.itemTypes.length > 0) {
      const at = rng.pick(pdu.itemTypes);
      const v = rng.pick([
        0x00,
        0x10,
        0x20,
        0x21,
        0x30,
        0x40,
        0x50,
        0x51,
        0x52,
        0x54,
        0x55,
        0x58,
        0xff,
        rng.int(256),
      ]);
      bytes[at] = v;
      ops.push(`item type@${at}=0x${v.toString(16)}`);
    } else if (kind === 2) {
      const v = rng.pick([0, 2, 0xffff, 0x8000]);
      bytes.writeUInt16BE(v, 6);
      ops.push(`protocol version=${v}`);
    } else if (kind === 3) {
      const at = rng.pick([10, 26]);
      rng.bytes(16).copy(bytes, at);
      ops.push(`AE title@${at} random`);
    } else if (kind === 4) {
      const at = rng.int(bytes.length);
      const flips = rng.range(1, 8);
      for (let f = 0; f < flips; f++) {
        const o = Math.min(bytes.length - 1, at + rng.int(16));
        bytes[o]! ^= 1 << rng.int(8);
      }
      ops.push(`bitflips@${at}`);
    } else if (kind === 5) {
      const at = rng.range(6, bytes.length);
      bytes = bytes.subarray(0, at);
      ops.push(`cut@${at}`);
    } else if (kind === 6) {
      const start = rng.range(74, bytes.length);
      const length = Math.min(bytes.length - start, rng.range(1, 40));
      const chunk = bytes.subarray(start, start + length);
      bytes = Buffer.concat([bytes.subarray(0, start), chunk, chunk, bytes.subarray(start + length)]);
      ops.push(`duplicate@${start}+${length}`);
    } else {
      const at = rng.range(74, bytes.length);
      const length = rng.range(1, 40);
      bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + length)]);
      ops.push(`remove@${at}+${length}`);
    }
  }
  // Half the time the PDU length is made to agree with the (changed) body, so the decoder sees it whole.
  if (bytes.length >= 6 && rng.chance(0.5) && !ops.some((op) => op.startsWith('PDU length'))) {
    bytes.writeUInt32BE(bytes.length - 6, 2);
    ops.push('PDU length fixed up');
  }
  return bytes;
}

/** P-DATA-TF with broken PDVs, commands or datasets, for an established association. */
function hostilePData(rng: Prng, ops: string[]): Buffer[] {
  const kind = rng.weighted([3, 3, 2, 2, 2, 2, 1, 1, 2]);
  const echo = cEchoRQ(1);
  switch (kind) {
    case 0: {
      // A command with flipped bits.
      const command = Buffer.from(echo);
      for (let i = 0; i < rng.range(1, 6); i++) command[rng.int(command.length)]! ^= 1 << rng.int(8);
      ops.push('C-ECHO command with bit flips');
      return [buildPData(1, true, true, command)];
    }
    case 1: {
      const pdv = buildPData(
        rng.pick([0, 1, 2, 3, 255]),
        rng.chance(0.7),
        rng.chance(0.7),
        rng.bytes(rng.range(0, 300)),
      );
      ops.push('random PDV');
      return [pdv];
    }
    case 2: {
      // PDV item length disagreeing with the PDU length.
      const pdv = buildPData(1, true, true, echo);
      const v = rng.pick([0, 1, 2, 0xffffffff, echo.length + 3, echo.length + 100]) >>> 0;
      pdv.writeUInt32BE(v, 6);
      ops.push(`PDV length=0x${v.toString(16)}`);
      return [pdv];
    }
    case 3: {
      // A dataset fragment with no command before it, or a command announcing a dataset that never comes.
      ops.push('dataset first / dataset announced then release');
      return rng.chance(0.5)
        ? [buildPData(1, false, true, rng.bytes(20))]
        : [buildPData(3, true, true, cStoreRQ(2, CT, '1.2.3')), buildReleaseRQ()];
    }
    case 4: {
      // Command fragments that never end (the last flag never set).
      const n = rng.range(2, 100);
      ops.push(`${n} command fragments, none last`);
      return Array.from({ length: n }, () => buildPData(1, true, false, rng.bytes(1000)));
    }
    case 5: {
      const type = rng.pick([0x01, 0x02, 0x03, 0x06, 0x08, 0x00, 0xff]);
      ops.push(`PDU type 0x${type.toString(16)} after association`);
      const body = rng.bytes(rng.range(0, 100));
      const header = Buffer.from([type, 0, 0, 0, 0, 0]);
      header.writeUInt32BE(body.length, 2);
      return [Buffer.concat([header, body])];
    }
    case 6: {
      ops.push('A-RELEASE-RQ of the wrong length');
      return [Buffer.from([0x05, 0, 0, 0, 0, 2, 0, 0])];
    }
    case 7: {
      ops.push('P-DATA declaring 4 GB');
      return [Buffer.from([0x04, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])];
    }
    default: {
      // A C-STORE whose dataset is random bytes: a per-message failure, the association goes on.
      ops.push('C-STORE of random bytes');
      return [
        buildPData(3, true, true, cStoreRQ(2, CT, '1.2.3.4')),
        buildPData(3, false, true, rng.bytes(rng.range(1, 500))),
      ];
    }
  }
}

describe('hostile DIMSE peers', { concurrency: false }, () => {
  let gateway: TestGateway;
  const seed = fuzzSeed();

  before(async () => {
    gateway = await startTestGateway({
      dimse: {
        maxAssociations: MAX_ASSOCIATIONS,
        artimTimeoutSeconds: TIMEOUT_SECONDS,
        idleTimeoutSeconds: TIMEOUT_SECONDS,
      },
    });
  });
  after(() => gateway?.stop());

  /** C-ECHO on a fresh association; and all maxAssociations slots can be taken at once. */
  async function assertServing(context: string): Promise<void> {
    // Connections the fuzzer dropped close on the server's side a moment later; allow for that.
    const deadline = Date.now() + (TIMEOUT_SECONDS + 3) * 1000;
    for (;;) {
      const associations = await Promise.all(
        Array.from({ length: MAX_ASSOCIATIONS }, () => RawAssociation.open(gateway.dimsePort)),
      );
      try {
        const answers = await Promise.all(
          associations.map((a) =>
            a.associate({
              called: gateway.aeTitle,
              contexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
            }),
          ),
        );
        if (answers.every((a) => a?.type === 0x02)) {
          // The limit is in force (so all slots free means none leaked): one more is rejected.
          const extra = await RawAssociation.open(gateway.dimsePort);
          const refused = await extra.associate({
            called: gateway.aeTitle,
            contexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
          });
          extra.destroy();
          assert.equal(refused?.type, 0x03, `${context}: association ${MAX_ASSOCIATIONS + 1} is rejected`);
          const echoes = await Promise.all(associations.map((a) => a.cEcho(1)));
          assert.deepEqual(
            echoes.map((e) => e.status),
            Array(MAX_ASSOCIATIONS).fill(0),
            `${context}: C-ECHO`,
          );
          assert.ok(
            (await Promise.all(associations.map((a) => a.release()))).every(Boolean),
            `${context}: release`,
          );
          return;
        }
        if (Date.now() > deadline) {
          assert.fail(
            `${context}: only ${answers.filter((a) => a?.type === 0x02).length} of ${MAX_ASSOCIATIONS} association slots are free (leaked)`,
          );
        }
      } finally {
        for (const a of associations) a.destroy();
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  test(`random bytes, mutated A-ASSOCIATE-RQs and PDUs out of order (${fuzzCases(400)} cases, ${reproduce()})`, async () => {
    const rng = Prng.for(seed, 'dimse-associate');
    const total = fuzzCases(400);
    const outcomes = new Map<string, number>();
    const truncated: Promise<void>[] = [];
    // All cases are made first, in order, so the seed alone decides them (the run is concurrent).
    const cases = Array.from({ length: total }, (_, index) => makeCase(index));
    function makeCase(index: number): { index: number; bytes: Buffer; ops: string[] } {
      const ops: string[] = [];
      let bytes: Buffer;
      const kind = rng.weighted([2, 12, 3, 1]);
      if (kind === 0) {
        bytes = rng.bytes(rng.range(1, 2000));
        ops.push('random bytes');
      } else if (kind === 1) {
        const pdu = buildAssociateRQ({
          called: rng.chance(0.9) ? gateway.aeTitle : 'SOMEONEELSE',
          calling: 'FUZZER',
          contexts: proposal(rng),
          maxPduLength: rng.pick([0, 1, 16384, 0xffffffff]),
          extraUserItems: extraUserItems(rng),
        });
        // A quarter keep their structure: only the variable items (contexts, user items) are hostile.
        if (rng.chance(0.25)) {
          bytes = pdu.bytes;
          ops.push('hostile variable items only');
        } else bytes = mutateAssociate(rng, pdu, ops);
      } else if (kind === 2) {
        // Anything but an A-ASSOCIATE-RQ first (P-DATA included): A-ABORT, connection closed.
        const type = rng.pick([0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, 0x80, 0xff]);
        const body =
          type === 0x04
            ? buildPData(1, true, true, cEchoRQ(1)).subarray(6)
            : rng.bytes(rng.pick([0, 4, 10, 200]));
        bytes = Buffer.concat([Buffer.from([type, 0, 0, 0, 0, 0]), body]);
        bytes.writeUInt32BE(body.length, 2);
        ops.push(`PDU type 0x${type.toString(16)} before association`);
      } else {
        bytes = Buffer.from([0x01, 0, 0xff, 0xff, 0xff, rng.int(256), ...rng.bytes(rng.range(0, 100))]);
        ops.push('A-ASSOCIATE-RQ declaring 4 GB');
      }
      return { index, bytes, ops };
    }
    let next = 0;
    const one = async ({ index, bytes, ops }: { index: number; bytes: Buffer; ops: string[] }) => {
      const label = `case ${index}: ${ops.join(', ')} (${reproduce()})`;
      if (
        !completePdus(bytes) &&
        !ops.includes('A-ASSOCIATE-RQ declaring 4 GB') &&
        bytes[0]! >= 1 &&
        bytes[0]! <= 7
      ) {
        // Cut short: the server cannot tell yet; the ARTIM timer must close it, checked in the batch below.
        truncated.push(
          exchange(gateway.dimsePort, [bytes], (TIMEOUT_SECONDS + 3) * 1000).then((outcome) => {
            assert.ok(outcome.closedByServer, `${label}: a truncated PDU was not dropped by the ARTIM timer`);
          }),
        );
        outcomes.set('truncated', (outcomes.get('truncated') ?? 0) + 1);
        return;
      }
      const outcome = await exchange(gateway.dimsePort, [bytes], 3000);
      const first = outcome.received[0];
      const key =
        first === 0x02
          ? 'accepted'
          : first === 0x03
            ? 'rejected'
            : first === 0x07
              ? 'aborted'
              : outcome.closedByServer
                ? 'closed'
                : 'open';
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      // An accepted association is left to us (the socket is dropped: the server must notice); everything
      // else is answered with A-ASSOCIATE-RJ or A-ABORT, or at least closed.
      assert.ok(
        first === 0x02 || outcome.closedByServer,
        `${label}: neither accepted nor closed (got ${outcome.received})`,
      );
      if (first !== 0x02 && first !== undefined)
        assert.ok([0x03, 0x07].includes(first), `${label}: answered with PDU ${first}`);
      if (ops[0]!.endsWith('before association')) {
        // P-DATA-TF (or anything else) before A-ASSOCIATE-RQ: A-ABORT, connection closed (PS3.8 9.2).
        assert.ok(outcome.closedByServer && first !== 0x02, `${label}: not aborted`);
      }
    };
    const worker = async () => {
      while (next < total) await one(cases[next++]!);
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    await Promise.all(truncated);
    console.log(
      `hostile-dimse associate: ${total} cases, ${[...outcomes].map(([k, n]) => `${k}: ${n}`).join(', ')}`,
    );
    await assertServing(`after the A-ASSOCIATE fuzz (${reproduce()})`);
  });

  test(`malformed P-DATA-TF on established associations (${fuzzCases(200)} cases, ${reproduce()})`, async () => {
    const rng = Prng.for(seed, 'dimse-pdata');
    const total = fuzzCases(200);
    const outcomes = new Map<string, number>();
    const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    /** Associations the server is rightly waiting on (a message not finished): the idle timer must end them. */
    const waiting: Promise<void>[] = [];
    let next = 0;
    const associate = async () => {
      // The slots may all be held by connections the server has not dropped yet: wait for one.
      for (let attempt = 0; ; attempt++) {
        const association = await RawAssociation.open(gateway.dimsePort);
        const answer = await association.associate({
          called: gateway.aeTitle,
          contexts: [
            { id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
            { id: 3, abstractSyntax: CT, transferSyntaxes: [IMPLICIT_LE] },
          ],
        });
        if (answer?.type === 0x02) return association;
        association.destroy();
        assert.ok(attempt < 100, 'no association slot became free');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const cases = Array.from({ length: total }, (_, index) => {
      const ops: string[] = [];
      return { index, chunks: hostilePData(rng, ops), ops };
    });
    const one = async ({ index, chunks, ops }: { index: number; chunks: Buffer[]; ops: string[] }) => {
      const association = await associate();
      const label = `case ${index}: ${ops.join(', ')} (${reproduce()})`;
      const kind = ops[0]!.replace(/0x[0-9a-f]+|\d+/g, 'n');
      for (const chunk of chunks) association.send(chunk);
      const reply = await association.next(500);
      if (!reply && !association.closed) {
        count(`${kind}: left waiting`);
        waiting.push(
          association.waitClosed((TIMEOUT_SECONDS + 3) * 1000).then((closed) => {
            association.destroy();
            assert.ok(closed, `${label}: no answer, and not closed by the idle timer`);
          }),
        );
        return;
      }
      try {
        const closed = await association.waitClosed(reply ? 300 : 0);
        count(`${kind}: ${reply ? `PDU ${reply.type}` : 'nothing'}${closed ? ', closed' : ''}`);
        if (reply?.type === 0x07 || reply?.type === 0x06) {
          assert.ok(await association.waitClosed(2000), `${label}: closed after A-ABORT / A-RELEASE-RP`);
        } else if (!closed) {
          // Still open after a proper answer: it must still work.
          const echo = await association.cEcho(1);
          if (!association.closed) assert.equal(echo.status, 0, `${label}: C-ECHO after`);
        }
      } finally {
        association.destroy();
      }
    };
    const worker = async () => {
      while (next < total) await one(cases[next++]!);
    };
    await Promise.all([worker(), worker(), worker()]);
    await Promise.all(waiting);
    console.log(
      `hostile-dimse P-DATA: ${total} cases, ${[...outcomes].map(([k, n]) => `${k}: ${n}`).join('; ')}`,
    );
    await assertServing(`after the P-DATA fuzz (${reproduce()})`);
  });

  test('endless command fragments are cut off, not buffered', async () => {
    const association = await RawAssociation.open(gateway.dimsePort);
    try {
      const answer = await association.associate({
        called: gateway.aeTitle,
        contexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
      });
      assert.equal(answer?.type, 0x02);
      const fragment = buildPData(1, true, false, Buffer.alloc(16 * 1024, 0x41));
      // Up to 64 MB of one command set, never finished, sent steadily (so the idle timer never fires):
      // the server must abort long before the end instead of buffering it all.
      let sent = 0;
      while (sent < 4096 && !association.closed) {
        for (let i = 0; i < 16; i++, sent++) association.send(fragment);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      assert.ok(association.closed, `the server took ${sent * 16} KiB of one command set without aborting`);
      assert.ok(sent < 1024, `aborted only after ${sent * 16} KiB`);
    } finally {
      association.destroy();
    }
    await assertServing('after endless command fragments');
  });

  test('the server still serves: echoscu, and an A-ABORT mid-association is fine', async (t) => {
    const association = await RawAssociation.open(gateway.dimsePort);
    await association.associate({
      called: gateway.aeTitle,
      contexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
    });
    association.send(buildAbort());
    assert.ok(await association.waitClosed(3000));
    if (!hasTool('echoscu')) {
      if (isCi()) throw new Error('echoscu is missing');
      t.diagnostic('echoscu not installed: checked with the raw client only');
    } else {
      await execFile('echoscu', ['-aec', gateway.aeTitle, '127.0.0.1', String(gateway.dimsePort)]);
    }
    await assertServing('at the end');
  });
});
