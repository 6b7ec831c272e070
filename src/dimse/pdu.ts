/**
 * DICOM Upper Layer PDUs (PS3.8 9.3): decoding and encoding of A-ASSOCIATE-RQ/AC/RJ, P-DATA-TF,
 * A-RELEASE-RQ/RP and A-ABORT. Decoding is strict about lengths: a malformed PDU is a ProtocolError,
 * never an out-of-bounds read.
 */

export const PduType = {
  AssociateRQ: 0x01,
  AssociateAC: 0x02,
  AssociateRJ: 0x03,
  PData: 0x04,
  ReleaseRQ: 0x05,
  ReleaseRP: 0x06,
  Abort: 0x07,
} as const;

export const APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';

/** Presentation context results (PS3.8 Table 9-18). */
export const ContextResult = {
  Acceptance: 0,
  UserRejection: 1,
  NoReason: 2,
  AbstractSyntaxNotSupported: 3,
  TransferSyntaxesNotSupported: 4,
} as const;

/** A-ASSOCIATE-RJ result, source and reason (PS3.8 Table 9-21). */
export const Reject = {
  Permanent: 1,
  Transient: 2,
  SourceUser: 1,
  SourceAcse: 2,
  SourcePresentation: 3,
  /** Source 1 (service user). */
  NoReasonGiven: 1,
  ApplicationContextNotSupported: 2,
  CallingAeNotRecognized: 3,
  CalledAeNotRecognized: 7,
  /** Source 2 (ACSE): protocol version not supported. */
  ProtocolVersionNotSupported: 2,
  /** Source 3 (presentation). */
  TemporaryCongestion: 1,
  LocalLimitExceeded: 2,
} as const;

/** A-ABORT source and reason (PS3.8 Table 9-26). */
export const AbortReason = {
  SourceUser: 0,
  SourceProvider: 2,
  NotSpecified: 0,
  UnrecognizedPdu: 1,
  UnexpectedPdu: 2,
  UnrecognizedPduParameter: 4,
  UnexpectedPduParameter: 5,
  InvalidPduParameter: 6,
} as const;

export class ProtocolError extends Error {
  constructor(
    message: string,
    /** A-ABORT reason to send (PS3.8 Table 9-26). */
    readonly abortReason: number = AbortReason.InvalidPduParameter,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export interface ProposedContext {
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

export interface RoleSelection {
  sopClassUid: string;
  scu: boolean;
  scp: boolean;
}

export interface UserInformation {
  /** Largest P-DATA-TF variable field the sender accepts; 0 means no limit (PS3.8 D.1). */
  maxPduLength: number;
  implementationClassUid: string;
  implementationVersionName?: string;
  asyncOps?: { invoked: number; performed: number };
  roles: RoleSelection[];
  /** User Identity Negotiation (PS3.7 D.3.3.7): type and fields, kept for audit. */
  userIdentity?: { type: number; primary: string; secondary: string; positiveResponseRequested: boolean };
}

export interface AssociateRQ {
  type: typeof PduType.AssociateRQ;
  protocolVersion: number;
  calledAETitle: string;
  callingAETitle: string;
  applicationContext: string;
  contexts: ProposedContext[];
  user: UserInformation;
}

export interface AcceptedContext {
  id: number;
  result: number;
  /** The chosen transfer syntax (meaningless unless accepted). */
  transferSyntax: string;
}

export interface AssociateAC {
  type: typeof PduType.AssociateAC;
  calledAETitle: string;
  callingAETitle: string;
  contexts: AcceptedContext[];
  user: UserInformation;
}

export interface AssociateRJ {
  type: typeof PduType.AssociateRJ;
  result: number;
  source: number;
  reason: number;
}

export interface Pdv {
  contextId: number;
  command: boolean;
  last: boolean;
  data: Buffer;
}

export interface PData {
  type: typeof PduType.PData;
  pdvs: Pdv[];
}

export type Pdu =
  | AssociateRQ
  | AssociateAC
  | AssociateRJ
  | PData
  | { type: typeof PduType.ReleaseRQ }
  | { type: typeof PduType.ReleaseRP }
  | { type: typeof PduType.Abort; source: number; reason: number };

// ---------- decoding ----------

class Cursor {
  offset = 0;
  constructor(readonly buffer: Buffer) {}

  need(n: number, what: string): void {
    if (this.offset + n > this.buffer.length) throw new ProtocolError(`truncated ${what}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buffer.readUInt8(this.offset++);
  }
  u16(what: string): number {
    this.need(2, what);
    const value = this.buffer.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  u32(what: string): number {
    this.need(4, what);
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const value = this.buffer.subarray(this.offset, this.offset + n);
    this.offset += n;
    return value;
  }
  text(n: number, what: string): string {
    return trimText(this.bytes(n, what).toString('latin1'));
  }
  get remaining(): number {
    return this.buffer.length - this.offset;
  }
}

function trimText(text: string): string {
  return text.replace(/^[\s\0]+|[\s\0]+$/g, '');
}

/** Decodes one PDU given its type and its variable field (the bytes after the 6-byte header). */
export function decodePdu(type: number, body: Buffer): Pdu {
  switch (type) {
    case PduType.AssociateRQ:
      return decodeAssociate(body, true) as AssociateRQ;
    case PduType.AssociateAC:
      return decodeAssociate(body, false) as AssociateAC;
    case PduType.AssociateRJ: {
      if (body.length !== 4) throw new ProtocolError('A-ASSOCIATE-RJ of wrong length');
      return { type, result: body[1]!, source: body[2]!, reason: body[3]! };
    }
    case PduType.PData:
      return { type, pdvs: decodePdvs(body) };
    case PduType.ReleaseRQ:
    case PduType.ReleaseRP:
      if (body.length !== 4) throw new ProtocolError('A-RELEASE PDU of wrong length');
      return { type };
    case PduType.Abort:
      if (body.length !== 4) throw new ProtocolError('A-ABORT of wrong length');
      return { type, source: body[2]!, reason: body[3]! };
    default:
      throw new ProtocolError(`unrecognized PDU type 0x${type.toString(16)}`, AbortReason.UnrecognizedPdu);
  }
}

function decodePdvs(body: Buffer): Pdv[] {
  const cursor = new Cursor(body);
  const pdvs: Pdv[] = [];
  while (cursor.remaining > 0) {
    const length = cursor.u32('PDV length');
    if (length < 2) throw new ProtocolError('PDV shorter than its header');
    const contextId = cursor.u8('PDV context');
    const header = cursor.u8('PDV header');
    const data = cursor.bytes(length - 2, 'PDV data');
    pdvs.push({ contextId, command: (header & 1) === 1, last: (header & 2) === 2, data });
  }
  if (pdvs.length === 0) throw new ProtocolError('P-DATA-TF without PDVs');
  return pdvs;
}

function decodeAssociate(body: Buffer, request: boolean): AssociateRQ | AssociateAC {
  const cursor = new Cursor(body);
  const protocolVersion = cursor.u16('protocol version');
  cursor.bytes(2, 'reserved');
  const calledAETitle = cursor.text(16, 'called AE title');
  const callingAETitle = cursor.text(16, 'calling AE title');
  cursor.bytes(32, 'reserved');
  let applicationContext = '';
  const proposed: ProposedContext[] = [];
  const accepted: AcceptedContext[] = [];
  let user: UserInformation | undefined;
  while (cursor.remaining > 0) {
    const itemType = cursor.u8('item type');
    cursor.u8('reserved');
    const length = cursor.u16('item length');
    const item = new Cursor(cursor.bytes(length, 'item'));
    switch (itemType) {
      case 0x10:
        applicationContext = item.text(length, 'application context');
        break;
      case 0x20:
      case 0x21: {
        if (itemType !== (request ? 0x20 : 0x21))
          throw new ProtocolError('presentation context item of the wrong kind');
        const id = item.u8('context id');
        item.u8('reserved');
        const result = item.u8('result');
        item.u8('reserved');
        const syntaxes: [number, string][] = [];
        while (item.remaining > 0) {
          const subType = item.u8('sub-item type');
          item.u8('reserved');
          const subLength = item.u16('sub-item length');
          syntaxes.push([subType, item.text(subLength, 'syntax')]);
        }
        if (request) {
          const abstract = syntaxes.find(([t]) => t === 0x30);
          if (!abstract) throw new ProtocolError(`presentation context ${id} has no abstract syntax`);
          proposed.push({
            id,
            abstractSyntax: abstract[1],
            transferSyntaxes: syntaxes.filter(([t]) => t === 0x40).map(([, s]) => s),
          });
        } else {
          accepted.push({ id, result, transferSyntax: syntaxes.find(([t]) => t === 0x40)?.[1] ?? '' });
        }
        break;
      }
      case 0x50:
        user = decodeUserInformation(item);
        break;
      default:
        // Unknown items are skipped (PS3.8 9.3.1: items of unrecognised type are ignored).
        break;
    }
  }
  if (!user) throw new ProtocolError('association PDU without user information');
  if (request) {
    return {
      type: PduType.AssociateRQ,
      protocolVersion,
      calledAETitle,
      callingAETitle,
      applicationContext,
      contexts: proposed,
      user,
    };
  }
  return { type: PduType.AssociateAC, calledAETitle, callingAETitle, contexts: accepted, user };
}

function decodeUserInformation(item: Cursor): UserInformation {
  const user: UserInformation = { maxPduLength: 0, implementationClassUid: '', roles: [] };
  while (item.remaining > 0) {
    const subType = item.u8('user item type');
    item.u8('reserved');
    const length = item.u16('user item length');
    const sub = new Cursor(item.bytes(length, 'user item'));
    switch (subType) {
      case 0x51:
        user.maxPduLength = sub.u32('maximum length');
        break;
      case 0x52:
        user.implementationClassUid = sub.text(length, 'implementation class UID');
        break;
      case 0x53:
        user.asyncOps = { invoked: sub.u16('ops invoked'), performed: sub.u16('ops performed') };
        break;
      case 0x54: {
        const uidLength = sub.u16('role UID length');
        const sopClassUid = sub.text(uidLength, 'role UID');
        user.roles.push({ sopClassUid, scu: sub.u8('SCU role') === 1, scp: sub.u8('SCP role') === 1 });
        break;
      }
      case 0x55:
        user.implementationVersionName = sub.text(length, 'implementation version');
        break;
      case 0x58: {
        const type = sub.u8('identity type');
        const positiveResponseRequested = sub.u8('identity response') === 1;
        const primary = sub.bytes(sub.u16('identity primary length'), 'identity primary').toString('utf8');
        const secondary =
          sub.remaining >= 2
            ? sub.bytes(sub.u16('identity secondary length'), 'identity secondary').toString('utf8')
            : '';
        user.userIdentity = { type, primary, secondary, positiveResponseRequested };
        break;
      }
      default:
        break;
    }
  }
  return user;
}

// ---------- encoding ----------

function pdu(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(6);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function item(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt8(type, 0);
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

const ascii = (text: string) => Buffer.from(text, 'latin1');

function aeField(title: string): Buffer {
  const field = Buffer.alloc(16, 0x20);
  field.write(title.slice(0, 16), 0, 'latin1');
  return field;
}

function encodeUserInformation(user: UserInformation, request: boolean): Buffer {
  const parts: Buffer[] = [];
  const maxLength = Buffer.alloc(4);
  maxLength.writeUInt32BE(user.maxPduLength, 0);
  parts.push(item(0x51, maxLength), item(0x52, ascii(user.implementationClassUid)));
  if (user.asyncOps) {
    const ops = Buffer.alloc(4);
    ops.writeUInt16BE(user.asyncOps.invoked, 0);
    ops.writeUInt16BE(user.asyncOps.performed, 2);
    parts.push(item(0x53, ops));
  }
  for (const role of user.roles) {
    const uid = ascii(role.sopClassUid);
    const body = Buffer.alloc(2 + uid.length + 2);
    body.writeUInt16BE(uid.length, 0);
    uid.copy(body, 2);
    body.writeUInt8(role.scu ? 1 : 0, 2 + uid.length);
    body.writeUInt8(role.scp ? 1 : 0, 3 + uid.length);
    parts.push(item(0x54, body));
  }
  if (user.implementationVersionName)
    parts.push(item(0x55, ascii(user.implementationVersionName.slice(0, 16))));
  if (request && user.userIdentity) {
    const primary = Buffer.from(user.userIdentity.primary, 'utf8');
    const secondary = Buffer.from(user.userIdentity.secondary, 'utf8');
    const body = Buffer.alloc(2 + 2 + primary.length + 2 + secondary.length);
    body.writeUInt8(user.userIdentity.type, 0);
    body.writeUInt8(user.userIdentity.positiveResponseRequested ? 1 : 0, 1);
    body.writeUInt16BE(primary.length, 2);
    primary.copy(body, 4);
    body.writeUInt16BE(secondary.length, 4 + primary.length);
    secondary.copy(body, 6 + primary.length);
    parts.push(item(0x58, body));
  }
  return item(0x50, Buffer.concat(parts));
}

function associateHeader(called: string, calling: string): Buffer {
  const header = Buffer.alloc(68);
  header.writeUInt16BE(1, 0);
  aeField(called).copy(header, 4);
  aeField(calling).copy(header, 20);
  return header;
}

export function encodeAssociateRQ(
  rq: Omit<AssociateRQ, 'type' | 'protocolVersion' | 'applicationContext'>,
): Buffer {
  const contexts = rq.contexts.map((context) => {
    const head = Buffer.from([context.id, 0, 0, 0]);
    const subItems = [
      item(0x30, ascii(context.abstractSyntax)),
      ...context.transferSyntaxes.map((ts) => item(0x40, ascii(ts))),
    ];
    return item(0x20, Buffer.concat([head, ...subItems]));
  });
  return pdu(
    PduType.AssociateRQ,
    Buffer.concat([
      associateHeader(rq.calledAETitle, rq.callingAETitle),
      item(0x10, ascii(APPLICATION_CONTEXT)),
      ...contexts,
      encodeUserInformation(rq.user, true),
    ]),
  );
}

export function encodeAssociateAC(ac: Omit<AssociateAC, 'type'>): Buffer {
  const contexts = ac.contexts.map((context) => {
    const head = Buffer.from([context.id, 0, context.result, 0]);
    // The transfer syntax sub-item is present even for rejections (PS3.8 9.3.3.2: "not significant").
    return item(0x21, Buffer.concat([head, item(0x40, ascii(context.transferSyntax))]));
  });
  return pdu(
    PduType.AssociateAC,
    Buffer.concat([
      associateHeader(ac.calledAETitle, ac.callingAETitle),
      item(0x10, ascii(APPLICATION_CONTEXT)),
      ...contexts,
      encodeUserInformation(ac.user, false),
    ]),
  );
}

export function encodeAssociateRJ(result: number, source: number, reason: number): Buffer {
  return pdu(PduType.AssociateRJ, Buffer.from([0, result, source, reason]));
}

export function encodeReleaseRQ(): Buffer {
  return pdu(PduType.ReleaseRQ, Buffer.alloc(4));
}

export function encodeReleaseRP(): Buffer {
  return pdu(PduType.ReleaseRP, Buffer.alloc(4));
}

export function encodeAbort(source: number, reason: number): Buffer {
  return pdu(PduType.Abort, Buffer.from([0, 0, source, reason]));
}

/** One P-DATA-TF holding one PDV: the 12 header bytes go in front of the fragment without copying it. */
export function encodePDataHeader(
  contextId: number,
  command: boolean,
  last: boolean,
  fragmentLength: number,
): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt8(PduType.PData, 0);
  header.writeUInt32BE(fragmentLength + 6, 2);
  header.writeUInt32BE(fragmentLength + 2, 6);
  header.writeUInt8(contextId, 10);
  header.writeUInt8((command ? 1 : 0) | (last ? 2 : 0), 11);
  return header;
}
