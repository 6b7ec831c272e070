/**
 * The DIMSE services the gateway provides, each a thin adapter over the core: C-ECHO, and C-STORE
 * streamed into the ingest pipeline. Statuses come from the shared error table.
 */
import { DimseStatus, toGatewayError } from '../errors.js';
import type { IngestJob, IngestService } from '../ingest/store-instance.js';
import type { AcceptorConnection, Services } from './acceptor.js';
import { CommandField, type Command } from './command-set.js';
import type { IncomingRequest, RequestHandling } from './connection.js';

/** PS3.7 C.4.2: the operation is not one this SCP performs. */
const UNRECOGNIZED_OPERATION = 0x0211;

export interface ServiceContext {
  ingest: IngestService;
}

export function createServices(context: ServiceContext): Services {
  return {
    handle(connection, request) {
      switch (request.command.commandField) {
        case CommandField.CEchoRQ:
          return echo(connection, request);
        case CommandField.CStoreRQ:
          return store(connection, request, context.ingest);
        default:
          return unsupported(connection, request);
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

function echo(connection: AcceptorConnection, request: IncomingRequest): RequestHandling {
  return { run: () => respond(connection, request, { status: DimseStatus.Success }) };
}

function store(
  connection: AcceptorConnection,
  request: IncomingRequest,
  ingest: IngestService,
): RequestHandling {
  const { command, context } = request;
  const job: Promise<IngestJob> = ingest.begin({
    door: 'dimse',
    callingAETitle: connection.callingAETitle,
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

function unsupported(connection: AcceptorConnection, request: IncomingRequest): RequestHandling {
  return {
    dataset: 'buffer',
    run: () => respond(connection, request, { status: UNRECOGNIZED_OPERATION }),
  };
}
