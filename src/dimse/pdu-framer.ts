/**
 * Cuts a TCP byte stream into PDUs (PS3.8 9.3.1: type, reserved, 32-bit length, variable field). Each
 * PDU is copied once into a buffer of its declared size; a declared size over the limit is refused before
 * anything is buffered, so a hostile length field cannot make the gateway allocate gigabytes.
 */
import { AbortReason, PduType, ProtocolError } from './pdu.js';

export interface RawPdu {
  type: number;
  body: Buffer;
}

/** A-ASSOCIATE and other control PDUs are small; only P-DATA-TF may be as large as the negotiated maximum. */
const MAX_CONTROL_PDU = 1024 * 1024;

export class PduFramer {
  private header = Buffer.alloc(6);
  private headerFilled = 0;
  private body: Buffer | undefined;
  private bodyFilled = 0;
  private type = 0;

  /** @param maxPDataLength largest P-DATA-TF variable field accepted (our announced maximum). */
  constructor(public maxPDataLength: number) {}

  push(chunk: Buffer): RawPdu[] {
    const out: RawPdu[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (!this.body) {
        const take = Math.min(6 - this.headerFilled, chunk.length - at);
        chunk.copy(this.header, this.headerFilled, at, at + take);
        this.headerFilled += take;
        at += take;
        if (this.headerFilled < 6) break;
        this.type = this.header[0]!;
        const length = this.header.readUInt32BE(2);
        if (this.type < PduType.AssociateRQ || this.type > PduType.Abort) {
          throw new ProtocolError(
            `unrecognized PDU type 0x${this.type.toString(16)}`,
            AbortReason.UnrecognizedPdu,
          );
        }
        const limit = this.type === PduType.PData ? this.maxPDataLength : MAX_CONTROL_PDU;
        if (length > limit) {
          throw new ProtocolError(
            `PDU of ${length} bytes is over the limit of ${limit}`,
            AbortReason.InvalidPduParameter,
          );
        }
        this.body = Buffer.allocUnsafe(length);
        this.bodyFilled = 0;
      }
      const take = Math.min(this.body.length - this.bodyFilled, chunk.length - at);
      chunk.copy(this.body, this.bodyFilled, at, at + take);
      this.bodyFilled += take;
      at += take;
      if (this.bodyFilled === this.body.length) {
        out.push({ type: this.type, body: this.body });
        this.body = undefined;
        this.headerFilled = 0;
      }
    }
    return out;
  }
}
