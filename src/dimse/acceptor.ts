/**
 * The acceptor side of an association: the ARTIM timer until an A-ASSOCIATE-RQ arrives, AE title
 * checks, presentation context negotiation, then requests dispatched to the services.
 */
import type { Socket } from 'node:net';
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
  Reject,
  encodeAssociateAC,
  encodeAssociateRJ,
  type AssociateRQ,
  type Pdu,
  type RoleSelection,
} from './pdu.js';
import { negotiatePresentationContexts, type NegotiationPolicy } from './presentation-contexts.js';

/** What the requestor may do on this association; services check it again per request. */
export type Permission = 'store' | 'find' | 'move' | 'get';

export type AssociationDecision =
  | { reject: { result: number; source: number; reason: number; why: string } }
  | {
      reject?: undefined;
      negotiation: NegotiationPolicy;
      permissions: Set<Permission>;
      /** SCP/SCU role selection answers for the proposed roles (C-GET asks us to be SCU of storage). */
      roles(proposed: RoleSelection[]): RoleSelection[];
    };

export interface AcceptorPolicy {
  /** Decides on the association (AE titles, peers, limits) and what it may negotiate. */
  admit(rq: AssociateRQ, remote: { address: string; tls: boolean }): Promise<AssociationDecision>;
}

export interface Services {
  handle(connection: AcceptorConnection, request: IncomingRequest): RequestHandling;
}

export interface AcceptorOptions extends ConnectionOptions {
  /** Time allowed between connecting and the A-ASSOCIATE-RQ, and after a reject (PS3.8 9.1.5). */
  artimTimeoutMs: number;
  policy: AcceptorPolicy;
  services: Services;
  /** The number in this association's log lines, for the audit trail. */
  associationId?: number;
}

export class AcceptorConnection extends DimseConnection {
  callingAETitle = '';
  calledAETitle = '';
  permissions = new Set<Permission>();
  /** Storage SOP classes for which the requestor accepted the SCP role from us (C-GET sub-operations). */
  readonly scuRoles = new Set<string>();
  readonly associationId: number | undefined;

  constructor(
    socket: Socket,
    private readonly acceptor: AcceptorOptions,
  ) {
    super(socket, acceptor);
    this.associationId = acceptor.associationId;
    this.setIdleTimeout(acceptor.artimTimeoutMs);
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  get isTls(): boolean {
    return 'encrypted' in this.socket && (this.socket as { encrypted?: boolean }).encrypted === true;
  }

  protected async handleAssociationPdu(pdu: Pdu): Promise<void> {
    if (pdu.type !== PduType.AssociateRQ || this.state !== 'awaiting-association') {
      throw new ProtocolError(`unexpected PDU type ${pdu.type}`, AbortReason.UnexpectedPdu);
    }
    this.callingAETitle = pdu.callingAETitle;
    this.calledAETitle = pdu.calledAETitle;
    // Every later line of this association names its calling AE.
    this.log = this.log.child({ callingAE: pdu.callingAETitle });
    const log = this.log;
    if (!(pdu.protocolVersion & 1)) {
      this.rejectAssociation(Reject.Permanent, Reject.SourceAcse, Reject.ProtocolVersionNotSupported);
      return;
    }
    const decision = await this.acceptor.policy.admit(pdu, { address: this.remoteAddress, tls: this.isTls });
    if (decision.reject) {
      log.warn({ calledAE: pdu.calledAETitle, why: decision.reject.why }, 'association rejected');
      this.rejectAssociation(decision.reject.result, decision.reject.source, decision.reject.reason);
      return;
    }
    this.permissions = decision.permissions;
    const accepted = negotiatePresentationContexts(pdu.contexts, decision.negotiation);
    const roles = decision.roles(pdu.user.roles);
    for (const role of roles) if (role.scp) this.scuRoles.add(role.sopClassUid);
    this.write(
      encodeAssociateAC({
        calledAETitle: pdu.calledAETitle,
        callingAETitle: pdu.callingAETitle,
        contexts: accepted,
        user: {
          maxPduLength: this.options.maxPduLength,
          implementationClassUid: IMPLEMENTATION_CLASS_UID,
          implementationVersionName: IMPLEMENTATION_VERSION_NAME,
          roles,
        },
      }),
    );
    this.establish(
      accepted,
      new Map(pdu.contexts.map((c) => [c.id, c.abstractSyntax])),
      pdu.user.maxPduLength,
    );
    log.info(
      {
        calledAE: pdu.calledAETitle,
        accepted: accepted.filter((c) => c.result === 0).length,
        proposed: pdu.contexts.length,
      },
      'association accepted',
    );
    this.emit('established');
  }

  private rejectAssociation(result: number, source: number, reason: number): void {
    this.write(encodeAssociateRJ(result, source, reason));
    // The requestor closes the transport; if it does not, the ARTIM timer does (PS3.8 9.2 Sta13).
    this.setIdleTimeout(this.acceptor.artimTimeoutMs);
    this.socket.end();
  }

  protected handleRequest(request: IncomingRequest): RequestHandling {
    return this.acceptor.services.handle(this, request);
  }
}
