/**
 * DIMSE command sets (PS3.7 E.1): group 0000 elements, always Implicit VR Little Endian, with the
 * Command Group Length first. Only the fields the C-services use are modelled.
 */
import { ProtocolError } from './pdu.js';

export const CommandField = {
  CStoreRQ: 0x0001,
  CStoreRSP: 0x8001,
  CGetRQ: 0x0010,
  CGetRSP: 0x8010,
  CFindRQ: 0x0020,
  CFindRSP: 0x8020,
  CMoveRQ: 0x0021,
  CMoveRSP: 0x8021,
  CEchoRQ: 0x0030,
  CEchoRSP: 0x8030,
  CCancelRQ: 0x0fff,
} as const;

/** Command Data Set Type value meaning "no dataset follows" (PS3.7 E.1-1). */
export const NO_DATASET = 0x0101;

export interface Command {
  commandField: number;
  messageId?: number;
  messageIdBeingRespondedTo?: number;
  affectedSopClassUid?: string;
  requestedSopClassUid?: string;
  affectedSopInstanceUid?: string;
  requestedSopInstanceUid?: string;
  priority?: number;
  hasDataset: boolean;
  status?: number;
  errorComment?: string;
  moveDestination?: string;
  remaining?: number;
  completed?: number;
  failed?: number;
  warning?: number;
  moveOriginatorAETitle?: string;
  moveOriginatorMessageId?: number;
}

type Kind = 'UI' | 'US' | 'AE' | 'LO';

const FIELDS: [tag: number, key: keyof Command, kind: Kind][] = [
  [0x00000002, 'affectedSopClassUid', 'UI'],
  [0x00000003, 'requestedSopClassUid', 'UI'],
  [0x00000100, 'commandField', 'US'],
  [0x00000110, 'messageId', 'US'],
  [0x00000120, 'messageIdBeingRespondedTo', 'US'],
  [0x00000600, 'moveDestination', 'AE'],
  [0x00000700, 'priority', 'US'],
  [0x00000900, 'status', 'US'],
  [0x00000902, 'errorComment', 'LO'],
  [0x00001000, 'affectedSopInstanceUid', 'UI'],
  [0x00001001, 'requestedSopInstanceUid', 'UI'],
  [0x00001020, 'remaining', 'US'],
  [0x00001021, 'completed', 'US'],
  [0x00001022, 'failed', 'US'],
  [0x00001023, 'warning', 'US'],
  [0x00001030, 'moveOriginatorAETitle', 'AE'],
  [0x00001031, 'moveOriginatorMessageId', 'US'],
];

const BY_TAG = new Map(FIELDS.map(([tag, key, kind]) => [tag, { key, kind }]));
const DATA_SET_TYPE = 0x00000800;

export function decodeCommand(bytes: Buffer): Command {
  const command: Record<string, unknown> = { hasDataset: false };
  let at = 0;
  let sawDatasetType = false;
  while (at < bytes.length) {
    if (at + 8 > bytes.length) throw new ProtocolError('truncated command element');
    const tag = ((bytes.readUInt16LE(at) << 16) | bytes.readUInt16LE(at + 2)) >>> 0;
    const length = bytes.readUInt32LE(at + 4);
    at += 8;
    if (at + length > bytes.length) throw new ProtocolError('command element overruns the command set');
    if (tag >>> 16 !== 0) throw new ProtocolError('command set element outside group 0000');
    const value = bytes.subarray(at, at + length);
    at += length;
    if (tag === DATA_SET_TYPE) {
      if (length !== 2) throw new ProtocolError('bad Command Data Set Type');
      command.hasDataset = value.readUInt16LE(0) !== NO_DATASET;
      sawDatasetType = true;
      continue;
    }
    const field = BY_TAG.get(tag);
    if (!field) continue;
    if (field.kind === 'US') {
      if (length !== 2) throw new ProtocolError(`bad length for ${field.key}`);
      command[field.key] = value.readUInt16LE(0);
    } else {
      command[field.key] = value.toString('latin1').replace(/^[\s\0]+|[\s\0]+$/g, '');
    }
  }
  if (command.commandField === undefined || !sawDatasetType) {
    throw new ProtocolError('command set without Command Field or Command Data Set Type');
  }
  return command as unknown as Command;
}

export function encodeCommand(command: Command): Buffer {
  const elements: Buffer[] = [];
  const entries: [number, Buffer][] = [];
  for (const [tag, key, kind] of FIELDS) {
    const value = command[key];
    if (value === undefined) continue;
    entries.push([tag, encodeValue(value as string | number, kind)]);
  }
  const datasetType = Buffer.alloc(2);
  datasetType.writeUInt16LE(command.hasDataset ? 0x0000 : NO_DATASET, 0);
  entries.push([DATA_SET_TYPE, datasetType]);
  entries.sort((a, b) => a[0] - b[0]);
  for (const [tag, value] of entries) elements.push(element(tag, value));
  const body = Buffer.concat(elements);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(body.length, 0);
  return Buffer.concat([element(0x00000000, groupLength), body]);
}

function encodeValue(value: string | number, kind: Kind): Buffer {
  if (kind === 'US') {
    const out = Buffer.alloc(2);
    out.writeUInt16LE(Number(value) & 0xffff, 0);
    return out;
  }
  const text = Buffer.from(String(value), 'latin1');
  if (text.length % 2 === 0) return text;
  return Buffer.concat([text, Buffer.from([kind === 'UI' ? 0 : 0x20])]);
}

function element(tag: number, value: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  header.writeUInt32LE(value.length, 4);
  return Buffer.concat([header, value]);
}
