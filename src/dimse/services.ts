/**
 * The DIMSE services the gateway provides, each a thin adapter over the core: C-ECHO; C-STORE streamed
 * into the ingest pipeline; C-FIND, C-MOVE and C-GET over the index. Statuses come from the shared
 * error table; each request is checked against what the association's peer may do.
 */
import { DimseStatus, ERROR_TABLE, toGatewayError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import type { IngestJob, IngestService } from '../ingest/store-instance.js';
import type { Logger } from '../log.js';
import type { DimseAuditSink } from '../observability/audit-log.js';
import type { FileStore } from '../storage/file-store.js';
import type { AcceptorConnection, Permission, Services } from './acceptor.js';
import { CommandField, type Command } from './command-set.js';
import type { IncomingRequest, RequestHandling } from './connection.js';
import { findScp } from './find-scp.js';
import type { DicomPeerLookup } from './peers.js';
import { retrieveScp } from './retrieve-scp.js';

/** PS3.7 C.4.2: the operation is not one this SCP performs. */
const UNRECOGNIZED_OPERATION = 0x0211;

export interface ServiceContext {
  ingest: IngestService;
  index: IndexStore;
  store: FileStore;
  peers: DicomPeerLookup;
  aeTitle: string;
  maxPduLength: number;
  idleTimeoutMs: number;
  caseInsensitivePersonNames: boolean;
  /** C-FIND, C-MOVE and C-GET are audited here; C-STORE through the ingest listener. */
  audit?: DimseAuditSink;
  log: Logger;
}

const PERMISSION: Partial<Record<number, Permission>> = {
  [CommandField.CStoreRQ]: 'store',
  [CommandField.CFindRQ]: 'find',
  [CommandField.CMoveRQ]: 'move',
  [CommandField.CGetRQ]: 'get',
};

export function createServices(context: ServiceContext): Services {
  // Lines the services (and the ingest pipeline, for a C-STORE) write name the association: one child
  // logger per association, made on its first operation.
  const logs = new WeakMap<AcceptorConnection, Logger>();
  const associationLog = (connection: AcceptorConnection): Logger => {
    let log = logs.get(connection);
    if (!log) {
      log = context.log.child({
        associationId: connection.associationId,
        callingAE: connection.callingAETitle,
      });
      logs.set(connection, log);
    }
    return log;
  };
  return {
    handle(connection, request) {
      const field = request.command.commandField;
      const needed = PERMISSION[field];
      if (needed && !connection.permissions.has(needed)) {
        return refuse(
          connection,
          request,
          ERROR_TABLE.FORBIDDEN.dimse,
          `${connection.callingAETitle} may not ${needed}`,
        );
      }
      switch (field) {
        case CommandField.CEchoRQ:
          return { run: () => respond(connection, request, { status: DimseStatus.Success }) };
        case CommandField.CStoreRQ:
          return store(connection, request, context.ingest, associationLog(connection));
        case CommandField.CFindRQ:
          return findScp(connection, request, context);
        case CommandField.CMoveRQ:
        case CommandField.CGetRQ:
          return retrieveScp(connection, request, {
            ...context,
            log: associationLog(connection),
          });
        default:
          return refuse(connection, request, UNRECOGNIZED_OPERATION, 'operation not supported');
      }
    },
  };
}

function respond(
  connection: AcceptorConnection,
  request: IncomingRequest,
  fields: Partial<Command>,
): Promise<void> {
  return connection.sendMessage(request.context.id, {
    commandField: request.command.commandField | 0x8000,
    messageIdBeingRespondedTo: request.command.messageId,
    affectedSopClassUid: request.command.affectedSopClassUid,
    hasDataset: false,
    ...fields,
  });
}

function refuse(
  connection: AcceptorConnection,
  request: IncomingRequest,
  status: number,
  why: string,
): RequestHandling {
  return {
    dataset: 'buffer',
    run: () => respond(connection, request, { status, errorComment: why.slice(0, 64) }),
  };
}

function store(
  connection: AcceptorConnection,
  request: IncomingRequest,
  ingest: IngestService,
  log: Logger,
): RequestHandling {
  const { command, context } = request;
  const job: Promise<IngestJob> = ingest.begin({
    door: 'dimse',
    callingAETitle: connection.callingAETitle,
    // Who sent it, for the audit trail (the calling AE title is callingAETitle).
    origin: { associationId: connection.associationId, address: connection.remoteAddress },
    log,
    // storescu and modalities send the next instance only once this one is answered: the audit line
    // and the counters follow the answer.
    notifyAfterAnswer: true,
    dataset: {
      sopClassUid: command.affectedSopClassUid ?? '',
      sopInstanceUid: command.affectedSopInstanceUid ?? '',
      transferSyntaxUid: context.transferSyntax,
    },
  });
  // Failing to open the temp file is reported in the response, not thrown at the connection.
  job.catch(() => undefined);
  let received: IngestJob | undefined;
  return {
    dataset: {
      write: (fragment) =>
        received ? received.write(fragment) : job.then((j) => (received = j).write(fragment)),
      end: () => undefined,
      abort: () => void job.then((j) => j.abort()).catch(() => undefined),
    },
    run: async () => {
      let status: number = DimseStatus.Success;
      let errorComment: string | undefined;
      try {
        const outcome = await (await job).finish();
        if (!outcome.ok) {
          status = outcome.error.dimseStatus;
          errorComment = outcome.error.message;
        }
      } catch (error) {
        const failure = toGatewayError(error);
        status = failure.dimseStatus;
        errorComment = failure.message;
      }
      await respond(connection, request, {
        affectedSopInstanceUid: command.affectedSopInstanceUid,
        status,
        // LO: at most 64 characters (PS3.7 C.4).
        errorComment: errorComment?.slice(0, 64),
      });
    },
  };
}
