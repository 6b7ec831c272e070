/**
 * C-MOVE and C-GET SCP (PS3.4 C.4.2, C.4.3): the instances an identifier names go out as C-STORE
 * sub-operations, to a registered destination over a new association (C-MOVE) or back over the
 * requester's own association (C-GET). Pending responses report the counts after each sub-operation;
 * the final status is success, 0xB000 when some failed, 0xFE00 when cancelled, 0xA801 for an unknown
 * destination.
 */
import { encodeJsonDataset } from '../dicom/json-dataset-writer.js';
import type { DicomPeerLookup } from './peers.js';
import { DimseStatus, toGatewayError } from '../errors.js';
import type { IndexStore, StoredInstanceRef } from '../index/index-store.js';
import type { Logger } from '../log.js';
import type { DimseAuditSink } from '../observability/audit-log.js';
import type { FileStore } from '../storage/file-store.js';
import type { AcceptorConnection } from './acceptor.js';
import { CommandField, type Command } from './command-set.js';
import type { DimseConnection, IncomingRequest, RequestHandling } from './connection.js';
import type { ProposedContext } from './pdu.js';
import { instancesFor, parseIdentifier, readIdentifier, type ParsedIdentifier } from './query-retrieve.js';
import { RequestorConnection, type AssociationTarget } from './requestor.js';
import { sendInstances, type SubOperationCounts } from './store-suboperations.js';

export interface RetrieveContext {
  index: IndexStore;
  store: FileStore;
  aeTitle: string;
  peers: DicomPeerLookup;
  maxPduLength: number;
  idleTimeoutMs: number;
  caseInsensitivePersonNames: boolean;
  audit?: DimseAuditSink;
  log: Logger;
}

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
/** PS3.4 C.4.2.1.5: unable to perform sub-operations. */
const UNABLE_TO_PERFORM = 0xa702;
const UNKNOWN_DESTINATION = 0xa801;

export function retrieveScp(
  connection: AcceptorConnection,
  request: IncomingRequest,
  context: RetrieveContext,
): RequestHandling {
  const move = request.command.commandField === CommandField.CMoveRQ;
  let cancelled = false;
  const responseField = move ? CommandField.CMoveRSP : CommandField.CGetRSP;
  const respond = (fields: Partial<Command>, failed?: string[]) =>
    connection.sendMessage(
      request.context.id,
      {
        commandField: responseField,
        messageIdBeingRespondedTo: request.command.messageId,
        affectedSopClassUid: request.command.affectedSopClassUid,
        hasDataset: failed !== undefined,
        ...fields,
      },
      failed
        ? encodeJsonDataset(
            { '00080058': { vr: 'UI', Value: failed } },
            request.context.transferSyntax !== IMPLICIT_LE,
          )
        : undefined,
    );

  const operation = move ? ('C-MOVE' as const) : ('C-GET' as const);
  const destination = move ? request.command.moveDestination : undefined;
  const audit = (
    status: number,
    refs: StoredInstanceRef[] = [],
    parsed?: ParsedIdentifier,
    failedSopInstanceUids?: string[],
  ) =>
    context.audit?.dimseRetrieve(connection, {
      operation,
      destination,
      level: parsed?.level,
      conditions: parsed?.conditions,
      instances: refs,
      failedSopInstanceUids,
      status,
    });

  return {
    dataset: 'buffer',
    cancel: () => {
      cancelled = true;
    },
    run: async (bytes) => {
      let refs: StoredInstanceRef[];
      let parsed: ParsedIdentifier;
      try {
        parsed = parseIdentifier(
          readIdentifier(bytes ?? Buffer.alloc(0), request.context.transferSyntax),
          request.context.abstractSyntax,
          {
            fuzzy: false,
            caseInsensitive: context.caseInsensitivePersonNames,
          },
        );
        refs = instancesFor(context.index, parsed);
      } catch (error) {
        const failure = toGatewayError(error);
        const status = failure.code === 'BAD_REQUEST' ? 0xa900 : 0xc000;
        audit(status);
        await respond({ status, errorComment: failure.message.slice(0, 64) });
        return;
      }

      let target: DimseConnection = connection;
      if (move) {
        const destination = context.peers.destination(request.command.moveDestination ?? '');
        if (!destination) {
          context.log.warn(
            { destination: request.command.moveDestination },
            'C-MOVE to an unknown destination',
          );
          audit(UNKNOWN_DESTINATION, [], parsed);
          await respond({ status: UNKNOWN_DESTINATION, errorComment: 'move destination unknown' });
          return;
        }
        try {
          target = await openToDestination(destination, refs, context);
        } catch (error) {
          context.log.warn(
            { err: (error as Error).message, destination: destination.calledAETitle },
            'cannot associate with the move destination',
          );
          audit(
            UNABLE_TO_PERFORM,
            refs,
            parsed,
            refs.map((r) => r.sopInstanceUid),
          );
          await respond(
            {
              status: UNABLE_TO_PERFORM,
              remaining: 0,
              completed: 0,
              failed: refs.length,
              warning: 0,
              errorComment: 'cannot associate with the destination',
            },
            refs.map((r) => r.sopInstanceUid),
          );
          return;
        }
      }

      let counts: SubOperationCounts & { cancelled: boolean };
      try {
        counts = await sendInstances(target, refs, context.store, context.log, {
          moveOriginator: move
            ? { aeTitle: connection.callingAETitle, messageId: request.command.messageId ?? 0 }
            : undefined,
          cancelled: () => cancelled,
          // C-GET sub-operations only go on storage contexts the requester accepted our SCU role for.
          allowedContext: move ? undefined : (c) => connection.scuRoles.has(c.abstractSyntax),
          onProgress: (progress) =>
            progress.remaining > 0
              ? respond({
                  status: DimseStatus.Pending,
                  remaining: progress.remaining,
                  completed: progress.completed,
                  failed: progress.failed,
                  warning: progress.warning,
                })
              : undefined,
        });
      } finally {
        if (target !== connection) await target.release().catch(() => target.destroy());
      }

      const status = counts.cancelled
        ? DimseStatus.Cancel
        : counts.failed > 0 || counts.warning > 0
          ? counts.completed + counts.warning > 0 || counts.failed < refs.length
            ? DimseStatus.WarningSubOperations
            : UNABLE_TO_PERFORM
          : DimseStatus.Success;
      audit(status, refs, parsed, counts.failedSopInstanceUids);
      await respond(
        {
          status,
          // A final response carries remaining only when cancelled (PS3.4 C.4.2.1.5).
          remaining: counts.cancelled ? counts.remaining : undefined,
          completed: counts.completed,
          failed: counts.failed,
          warning: counts.warning,
        },
        counts.failedSopInstanceUids.length > 0 ? counts.failedSopInstanceUids : undefined,
      );
    },
  };
}

/**
 * An association to the C-MOVE destination proposing, per SOP class, each stored transfer syntax on its
 * own context (so the destination can take them as stored) and Explicit/Implicit VR Little Endian as the
 * fallback we can always transcode to.
 */
async function openToDestination(
  destination: AssociationTarget,
  refs: StoredInstanceRef[],
  context: RetrieveContext,
): Promise<RequestorConnection> {
  const wanted = new Map<string, Set<string>>();
  for (const ref of refs) {
    const syntaxes = wanted.get(ref.sopClassUid) ?? new Set<string>();
    syntaxes.add(ref.storage.transferSyntaxUid);
    wanted.set(ref.sopClassUid, syntaxes);
  }
  const contexts: ProposedContext[] = [];
  let id = 1;
  for (const [sopClass, syntaxes] of wanted) {
    for (const ts of syntaxes) {
      if (ts === EXPLICIT_LE || ts === IMPLICIT_LE) continue;
      contexts.push({ id, abstractSyntax: sopClass, transferSyntaxes: [ts] });
      id += 2;
    }
    contexts.push({ id, abstractSyntax: sopClass, transferSyntaxes: [EXPLICIT_LE, IMPLICIT_LE] });
    id += 2;
  }
  if (id > 255)
    throw new Error('too many SOP class and transfer syntax combinations for one association (128 contexts)');
  const connection = await RequestorConnection.open(destination, contexts, {
    maxPduLength: context.maxPduLength,
    idleTimeoutMs: context.idleTimeoutMs,
    connectTimeoutMs: 30_000,
    log: context.log.child({ moveDestination: destination.calledAETitle }),
  });
  if (![...connection.contexts.values()].length) {
    connection.abort();
    throw new Error('the destination accepted no presentation context');
  }
  return connection;
}
