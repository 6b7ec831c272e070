/**
 * C-FIND SCP (PS3.4 C.4.1) for the Patient Root and Study Root models, on the same query core as QIDO.
 * Matches stream out as pending responses, a page of the index at a time; C-CANCEL stops them.
 * Answers are UTF-8 (Specific Character Set ISO_IR 192) and carry the keys the identifier asked for.
 */
import { lookupTag, tagToHex } from '../dicom/dictionary.js';
import type { DicomJsonDataset } from '../dicom/dicom-json.js';
import { encodeJsonDataset } from '../dicom/json-dataset-writer.js';
import { DimseStatus, toGatewayError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import type { DimseAuditSink } from '../observability/audit-log.js';
import type { QueryLevel } from '../query/attributes.js';
import { projectRows } from '../query/query-result-json.js';
import type { AcceptorConnection } from './acceptor.js';
import { CommandField } from './command-set.js';
import type { IncomingRequest, RequestHandling } from './connection.js';
import { parseIdentifier, readIdentifier } from './query-retrieve.js';

/** PS3.4 C.4.1.1.4: matches continue, but optional keys were not supported for matching. */
const PENDING_UNSUPPORTED_KEYS = 0xff01;
const PAGE = 200;

export interface FindContext {
  index: IndexStore;
  aeTitle: string;
  caseInsensitivePersonNames: boolean;
  audit?: DimseAuditSink;
}

export function findScp(
  connection: AcceptorConnection,
  request: IncomingRequest,
  context: FindContext,
): RequestHandling {
  let cancelled = false;
  const respond = (status: number, identifier?: DicomJsonDataset, errorComment?: string) =>
    connection.sendMessage(
      request.context.id,
      {
        commandField: CommandField.CFindRSP,
        messageIdBeingRespondedTo: request.command.messageId,
        affectedSopClassUid: request.command.affectedSopClassUid,
        status,
        errorComment: errorComment?.slice(0, 64),
        hasDataset: identifier !== undefined,
      },
      identifier
        ? encodeJsonDataset(identifier, request.context.transferSyntax !== '1.2.840.10008.1.2')
        : undefined,
    );
  return {
    dataset: 'buffer',
    cancel: () => {
      cancelled = true;
    },
    run: async (bytes) => {
      let parsed;
      try {
        const identifier = readIdentifier(bytes ?? Buffer.alloc(0), request.context.transferSyntax);
        parsed = parseIdentifier(identifier, request.context.abstractSyntax, {
          fuzzy: false,
          caseInsensitive: context.caseInsensitivePersonNames,
        });
      } catch (error) {
        const failure = toGatewayError(error);
        // PS3.4 C.4.1.1.4: 0xA900 identifier does not match SOP class; 0xC000 unable to process.
        const status = failure.code === 'BAD_REQUEST' ? 0xa900 : 0xc000;
        context.audit?.dimseFind(connection, { status });
        await respond(status, undefined, failure.message);
        return;
      }
      const pending = parsed.unsupportedMatching.length > 0 ? PENDING_UNSUPPORTED_KEYS : DimseStatus.Pending;
      const wanted = new Set(parsed.returnTags.map(tagToHex));
      let matches = 0;
      for (let offset = 0; !cancelled; offset += PAGE) {
        const { rows, more } = context.index.query({
          level: parsed.level,
          scope: {},
          conditions: parsed.conditions,
          limit: PAGE,
          offset,
          withRepresentative: true,
        });
        const results = projectRows(rows, parsed.level, parsed.returnTags, {
          retrieveBase: '',
          metadataOf: (sop) => {
            const text = context.index.getMetadata(sop);
            return text ? (JSON.parse(text) as DicomJsonDataset) : undefined;
          },
        });
        for (const result of results) {
          if (cancelled) break;
          await respond(pending, answer(result, wanted, parsed.level, context.aeTitle));
          matches++;
        }
        if (!more) break;
      }
      const status = cancelled ? DimseStatus.Cancel : DimseStatus.Success;
      context.audit?.dimseFind(connection, {
        level: parsed.level,
        conditions: parsed.conditions,
        status,
        matches,
      });
      await respond(status);
    },
  };
}

/** Exactly the keys asked for, plus the level (PS3.4 C.4.1.2.3.1) and where to retrieve from if asked. */
function answer(
  result: DicomJsonDataset,
  wanted: Set<string>,
  level: QueryLevel,
  aeTitle: string,
): DicomJsonDataset {
  const out: DicomJsonDataset = { '00080052': { vr: 'CS', Value: [level] } };
  for (const tag of wanted) out[tag] = result[tag] ?? { vr: lookupTag(parseInt(tag, 16))?.vr ?? 'UN' };
  if (wanted.has('00080054')) out['00080054'] = { vr: 'AE', Value: [aeTitle] };
  if (wanted.has('00080056')) out['00080056'] = { vr: 'CS', Value: ['ONLINE'] };
  return out;
}
