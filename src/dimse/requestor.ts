/**
 * The requestor side of an association (the gateway as SCU, for C-MOVE sub-operations): connect, propose
 * presentation contexts, and wait for the accept or reject.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions as TlsOptions } from 'node:tls';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../dicom/file-meta.js';
import {
  DimseConnection,
  type ConnectionOptions,
  type IncomingRequest,
  type RequestHandling,
} from './connection.js';
import {
  AbortReason,
  PduType,
  ProtocolError,
  encodeAssociateRQ,
  type Pdu,
  type ProposedContext,
} from './pdu.js';

export interface AssociationTarget {
  host: string;
  port: number;
  calledAETitle: string;
  callingAETitle: string;
  /** TLS options (PS3.15 B.1); plain TCP when absent. */
  tls?: TlsOptions;
}

export class AssociationRejected extends Error {
  constructor(
    readonly result: number,
    readonly source: number,
    readonly reason: number,
  ) {
    super(`association rejected (result ${result}, source ${source}, reason ${reason})`);
    this.name = 'AssociationRejected';
  }
}

export class RequestorConnection extends DimseConnection {
  private settle: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private proposed = new Map<number, string>();

  private constructor(socket: Socket, options: ConnectionOptions) {
    super(socket, options);
  }

  /** Opens an association; resolves once it is accepted, with the accepted contexts in `contexts`. */
  static async open(
    target: AssociationTarget,
    contexts: ProposedContext[],
    options: ConnectionOptions & { connectTimeoutMs: number },
  ): Promise<RequestorConnection> {
    const socket = target.tls
      ? connectTls({ host: target.host, port: target.port, ...target.tls })
      : connectTcp({ host: target.host, port: target.port });
    const connection = new RequestorConnection(socket, options);
    connection.setIdleTimeout(options.connectTimeoutMs);
    await new Promise<void>((resolve, reject) => {
      socket.once(target.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const accepted = new Promise<void>((resolve, reject) => {
      connection.settle = { resolve, reject };
      socket.once('close', () =>
        reject(new Error(`association with ${target.calledAETitle} closed before it was accepted`)),
      );
    });
    connection.proposed = new Map(contexts.map((c) => [c.id, c.abstractSyntax]));
    connection.write(
      encodeAssociateRQ({
        calledAETitle: target.calledAETitle,
        callingAETitle: target.callingAETitle,
        contexts,
        user: {
          maxPduLength: options.maxPduLength,
          implementationClassUid: IMPLEMENTATION_CLASS_UID,
          implementationVersionName: IMPLEMENTATION_VERSION_NAME,
          roles: [],
        },
      }),
    );
    await accepted;
    return connection;
  }

  protected handleAssociationPdu(pdu: Pdu): void {
    if (!this.settle) throw new ProtocolError('unexpected association PDU', AbortReason.UnexpectedPdu);
    const { resolve, reject } = this.settle;
    this.settle = undefined;
    if (pdu.type === PduType.AssociateAC) {
      this.establish(pdu.contexts, this.proposed, pdu.user.maxPduLength);
      resolve();
    } else if (pdu.type === PduType.AssociateRJ) {
      reject(new AssociationRejected(pdu.result, pdu.source, pdu.reason));
      this.destroy();
    } else {
      throw new ProtocolError(`unexpected PDU type ${pdu.type}`, AbortReason.UnexpectedPdu);
    }
  }

  /** A storage SCU has no services of its own to offer on this association. */
  protected handleRequest(request: IncomingRequest): RequestHandling {
    return {
      dataset: 'buffer',
      run: () =>
        this.sendMessage(request.context.id, {
          commandField: request.command.commandField | 0x8000,
          messageIdBeingRespondedTo: request.command.messageId,
          affectedSopClassUid: request.command.affectedSopClassUid,
          status: 0x0211,
          hasDataset: false,
        }),
    };
  }
}
