/**
 * A raw DICOM upper-layer client for hostile-input tests: builds PDUs byte by byte (independently of the
 * gateway's src/dimse), records where their length fields are so a fuzzer can hit them, and runs a
 * minimal association (A-ASSOCIATE, C-STORE with arbitrary dataset bytes, A-RELEASE) over a socket.
 */
import { connect, type Socket } from 'node:net';

export const VERIFICATION = '1.2.840.10008.1.1';
export const APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';
export const IMPLICIT_LE = '1.2.840.10008.1.2';

/** A length field inside a PDU: where, how wide (big endian, as everything in PS3.8). */
export interface LengthSite {
  offset: number;
  size: 2 | 4;
  what: string;
}

export interface BuiltPdu {
  bytes: Buffer;
  lengths: LengthSite[];
  /** Offsets where an item (or sub-item) type byte is. */
  itemTypes: number[];
}

export interface ProposedContext {
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

const ascii = (text: string) => Buffer.from(text, 'latin1');

function aeTitle(title: string): Buffer {
  const out = Buffer.alloc(16, 0x20);
  out.write(title.slice(0, 16), 0, 'latin1');
  return out;
}

/** Builds an item tree and tracks the offsets of its length fields and type bytes. */
class PduBuilder {
  private chunks: Buffer[] = [];
  private size = 0;
  readonly lengths: LengthSite[] = [];
  readonly itemTypes: number[] = [];

  raw(bytes: Buffer): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  /** An item: type, reserved, 16-bit length, then whatever `body` writes. */
  item(type: number, what: string, body: (b: PduBuilder) => void): void {
    this.itemTypes.push(this.size);
    const header = Buffer.from([type, 0, 0, 0]);
    const lengthAt = this.size + 2;
    this.lengths.push({ offset: lengthAt, size: 2, what });
    this.raw(header);
    const start = this.size;
    body(this);
    header.writeUInt16BE(this.size - start, 2);
  }

  build(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export interface AssociateOptions {
  called?: string;
  calling?: string;
  contexts: ProposedContext[];
  maxPduLength?: number;
  /** Extra user-information sub-items (type, value). */
  extraUserItems?: [number, Buffer][];
}

/** A-ASSOCIATE-RQ (PS3.8 9.3.2) with the offsets of every length field. */
export function buildAssociateRQ(options: AssociateOptions): BuiltPdu {
  const b = new PduBuilder();
  const header = Buffer.alloc(6);
  header[0] = 0x01;
  b.raw(header);
  b.lengths.push({ offset: 2, size: 4, what: 'PDU length' });
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(1, 0);
  aeTitle(options.called ?? 'DICOMWEB').copy(fixed, 4);
  aeTitle(options.calling ?? 'FUZZER').copy(fixed, 20);
  b.raw(fixed);
  b.item(0x10, 'application context', (i) => i.raw(ascii(APPLICATION_CONTEXT)));
  for (const context of options.contexts) {
    b.item(0x20, `presentation context ${context.id}`, (i) => {
      i.raw(Buffer.from([context.id, 0, 0, 0]));
      i.item(0x30, 'abstract syntax', (s) => s.raw(ascii(context.abstractSyntax)));
      for (const ts of context.transferSyntaxes) i.item(0x40, 'transfer syntax', (s) => s.raw(ascii(ts)));
    });
  }
  b.item(0x50, 'user information', (u) => {
    const max = Buffer.alloc(4);
    max.writeUInt32BE(options.maxPduLength ?? 65536, 0);
    u.item(0x51, 'maximum length', (s) => s.raw(max));
    u.item(0x52, 'implementation class UID', (s) => s.raw(ascii('1.2.826.0.1.3680043.9.7433.1.1')));
    u.item(0x55, 'implementation version', (s) => s.raw(ascii('RAWFUZZ_1')));
    for (const [type, value] of options.extraUserItems ?? [])
      u.item(type, `user item ${type}`, (s) => s.raw(value));
  });
  const bytes = b.build();
  bytes.writeUInt32BE(bytes.length - 6, 2);
  return { bytes, lengths: b.lengths, itemTypes: b.itemTypes };
}

/** One P-DATA-TF with one PDV. */
export function buildPData(contextId: number, command: boolean, last: boolean, data: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x04;
  header.writeUInt32BE(data.length + 6, 2);
  header.writeUInt32BE(data.length + 2, 6);
  header[10] = contextId;
  header[11] = (command ? 1 : 0) | (last ? 2 : 0);
  return Buffer.concat([header, data]);
}

export function buildReleaseRQ(): Buffer {
  return Buffer.from([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
}

export function buildAbort(): Buffer {
  return Buffer.from([0x07, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
}

/** Command set elements, Implicit VR Little Endian, with the group length first. */
function commandSet(elements: [number, 'UI' | 'US' | 'UL', string | number][]): Buffer {
  const parts: Buffer[] = [];
  for (const [tag, vr, value] of elements) {
    let v: Buffer;
    if (vr === 'UI') {
      v = ascii(String(value));
      if (v.length % 2) v = Buffer.concat([v, Buffer.from([0])]);
    } else if (vr === 'US') {
      v = Buffer.alloc(2);
      v.writeUInt16LE(Number(value), 0);
    } else {
      v = Buffer.alloc(4);
      v.writeUInt32LE(Number(value), 0);
    }
    const h = Buffer.alloc(8);
    h.writeUInt16LE(tag >>> 16, 0);
    h.writeUInt16LE(tag & 0xffff, 2);
    h.writeUInt32LE(v.length, 4);
    parts.push(h, v);
  }
  const body = Buffer.concat(parts);
  const groupLength = Buffer.alloc(12);
  groupLength.writeUInt32LE(0x00000000, 0);
  groupLength.writeUInt32LE(4, 4);
  groupLength.writeUInt32LE(body.length, 8);
  return Buffer.concat([groupLength, body]);
}

export function cEchoRQ(messageId: number): Buffer {
  return commandSet([
    [0x00000002, 'UI', VERIFICATION],
    [0x00000100, 'US', 0x0030],
    [0x00000110, 'US', messageId],
    [0x00000800, 'US', 0x0101],
  ]);
}

export function cStoreRQ(messageId: number, sopClassUid: string, sopInstanceUid: string): Buffer {
  return commandSet([
    [0x00000002, 'UI', sopClassUid],
    [0x00000100, 'US', 0x0001],
    [0x00000110, 'US', messageId],
    [0x00000700, 'US', 0],
    [0x00000800, 'US', 0x0000],
    [0x00001000, 'UI', sopInstanceUid],
  ]);
}

/** Reads a US element of an Implicit VR Little Endian command set. */
export function commandUS(command: Buffer, tag: number): number | undefined {
  for (let at = 0; at + 8 <= command.length;) {
    const t = ((command.readUInt16LE(at) << 16) | command.readUInt16LE(at + 2)) >>> 0;
    const length = command.readUInt32LE(at + 4);
    if (t === tag && length === 2 && at + 10 <= command.length) return command.readUInt16LE(at + 8);
    at += 8 + length;
  }
  return undefined;
}

export interface ReceivedPdu {
  type: number;
  body: Buffer;
}

/** A socket that hands out whole PDUs, and tells when the server closed it. */
export class RawAssociation {
  private buffer = Buffer.alloc(0);
  private readonly waiters: (() => void)[] = [];
  closed = false;
  readonly closedPromise: Promise<void>;
  private readonly socket: Socket;
  /** Accepted presentation context ids and their transfer syntax, after associate(). */
  readonly accepted = new Map<number, string>();
  private messageId = 1;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawAssociation> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.setNoDelay(true);
      socket.once('connect', () => resolve(new RawAssociation(socket)));
      socket.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** The next PDU, or undefined if the server closed the connection first (or the time ran out). */
  async next(timeoutMs = 5000): Promise<ReceivedPdu | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buffer.length >= 6) {
        const length = this.buffer.readUInt32BE(2);
        if (this.buffer.length >= 6 + length) {
          const pdu = { type: this.buffer[0]!, body: this.buffer.subarray(6, 6 + length) };
          this.buffer = this.buffer.subarray(6 + length);
          return pdu;
        }
      }
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the server to close the connection; false if it is still open after the timeout. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    if (this.closed) return true;
    await Promise.race([this.closedPromise, new Promise((r) => setTimeout(r, timeoutMs))]);
    return this.closed;
  }

  /** Sends an A-ASSOCIATE-RQ and reads the answer; fills `accepted` on an A-ASSOCIATE-AC. */
  async associate(options: AssociateOptions): Promise<ReceivedPdu | undefined> {
    this.send(buildAssociateRQ(options).bytes);
    const answer = await this.next();
    if (answer?.type === 0x02) {
      // Items after the 68 fixed bytes; presentation context results are items 0x21.
      for (let at = 68; at + 4 <= answer.body.length;) {
        const type = answer.body[at]!;
        const length = answer.body.readUInt16BE(at + 2);
        if (type === 0x21) {
          const id = answer.body[at + 4]!;
          const result = answer.body[at + 6]!;
          const tsLength = answer.body.readUInt16BE(at + 10);
          const ts = answer.body.toString('latin1', at + 12, at + 12 + tsLength).replace(/[\0 ]+$/, '');
          if (result === 0) this.accepted.set(id, ts);
        }
        at += 4 + length;
      }
    }
    return answer;
  }

  /** Sends a command (and dataset, in PDVs of at most `maxPdv` bytes) and returns the response status. */
  async request(
    contextId: number,
    command: Buffer,
    dataset?: Buffer,
    maxPdv = 16 * 1024,
  ): Promise<{ status: number | undefined; pdu: ReceivedPdu | undefined }> {
    this.send(buildPData(contextId, true, true, command));
    if (dataset) {
      if (dataset.length === 0) this.send(buildPData(contextId, false, true, dataset));
      for (let at = 0; at < dataset.length; at += maxPdv) {
        const piece = dataset.subarray(at, at + maxPdv);
        this.send(buildPData(contextId, false, at + maxPdv >= dataset.length, piece));
      }
    }
    // A response may come in several PDVs; the status is in the command, which is small.
    const pdu = await this.next(30_000);
    if (!pdu || pdu.type !== 0x04) return { status: undefined, pdu };
    // P-DATA-TF: item length (4), context id, header, command bytes.
    const command2 = pdu.body.subarray(6, 4 + pdu.body.readUInt32BE(0));
    return { status: commandUS(command2, 0x00000900), pdu };
  }

  /** C-STORE with the dataset in PDVs of at most `maxPdv` bytes (small ones split headers across PDUs). */
  cStore(contextId: number, sopClassUid: string, sopInstanceUid: string, dataset: Buffer, maxPdv?: number) {
    return this.request(contextId, cStoreRQ(this.messageId++, sopClassUid, sopInstanceUid), dataset, maxPdv);
  }

  cEcho(contextId: number) {
    return this.request(contextId, cEchoRQ(this.messageId++));
  }

  /** A-RELEASE-RQ, waits for the RP and the close. */
  async release(): Promise<boolean> {
    this.send(buildReleaseRQ());
    const answer = await this.next();
    this.socket.end();
    return answer?.type === 0x06;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
