/**
 * The DIMSE adapter: an Scp per connection (dcmjs-dimse creates one per socket, so the gateway's
 * services reach it through the closure of createScpClass). It checks AE titles, negotiates contexts,
 * answers C-ECHO, and streams C-STORE datasets into the ingest pipeline.
 */
import dimse from 'dcmjs-dimse';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { DimseStatus, toGatewayError } from '../errors.js';
import type { IngestService } from '../ingest/store-instance.js';
import type { Logger } from '../log.js';
import { negotiatePresentationContexts, type NegotiationPolicy } from './presentation-contexts.js';
import { StoreWritable } from './store-writable.js';

const { Scp, Dataset } = dimse;
const { CEchoResponse, CStoreResponse } = dimse.responses;
const { RejectResult, RejectSource, RejectReason } = dimse.constants;

type Association = InstanceType<typeof dimse.association.Association>;
type PresentationContext = InstanceType<typeof dimse.association.PresentationContext>;
type CStoreRequest = InstanceType<typeof dimse.requests.CStoreRequest>;
type CEchoRequest = InstanceType<typeof dimse.requests.CEchoRequest>;

export interface ScpContext {
  aeTitle: string;
  /** Empty: any calling AE title may associate. */
  allowedCallingAETitles: string[];
  checkCalledAETitle: boolean;
  negotiation: NegotiationPolicy;
  ingest: IngestService;
  log: Logger;
  /** Connection bookkeeping for draining and limits. */
  onAssociation: (scp: GatewayScpInstance, open: boolean) => void;
  /** Refuse new associations (shutting down or at the limit). */
  refuseNewAssociations: () => boolean;
}

export interface GatewayScpInstance {
  readonly busy: boolean;
  readonly closed: Promise<void>;
  destroy(): void;
}

let associationCounter = 0;

export function createScpClass(context: ScpContext) {
  return class GatewayScp extends Scp implements GatewayScpInstance {
    private association: Association | undefined;
    private readonly log: Logger;
    private readonly storeOutcomes = new WeakMap<object, StoreWritable>();
    private readonly openWritables = new Set<StoreWritable>();
    readonly closed: Promise<void>;

    constructor(socket: Socket, opts?: Record<string, unknown>) {
      super(socket, opts);
      // Without it every C-STORE response waits on the peer's delayed ACK (~40 ms).
      socket.setNoDelay(true);
      this.log = context.log.child({
        associationId: ++associationCounter,
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
      });
      this.closed = new Promise((resolve) => this.once('close', () => resolve()));
      void this.closed.then(() => this.onClose());
    }

    get busy(): boolean {
      return this.openWritables.size > 0;
    }

    destroy(): void {
      (this as unknown as { socket: Socket }).socket.destroy();
    }

    override associationRequested(association: Association): void {
      this.association = association;
      const calling = association.getCallingAeTitle().trim();
      const called = association.getCalledAeTitle().trim();
      const log = this.log.child({ callingAE: calling, calledAE: called });
      if (context.refuseNewAssociations()) {
        log.warn('association refused: not accepting new associations');
        this.sendAssociationReject(
          RejectResult.Transient,
          RejectSource.ServiceProviderPresentation,
          RejectReason.TemporaryCongestion,
        );
        return;
      }
      if (context.allowedCallingAETitles.length > 0 && !context.allowedCallingAETitles.includes(calling)) {
        log.warn('association rejected: calling AE title not recognized');
        this.sendAssociationReject(
          RejectResult.Permanent,
          RejectSource.ServiceUser,
          RejectReason.CallingAeNotRecognized,
        );
        return;
      }
      if (context.checkCalledAETitle && called !== context.aeTitle) {
        log.warn('association rejected: called AE title not recognized');
        this.sendAssociationReject(
          RejectResult.Permanent,
          RejectSource.ServiceUser,
          RejectReason.CalledAeNotRecognized,
        );
        return;
      }
      const accepted = negotiatePresentationContexts(association, context.negotiation);
      this.sendAssociationAccept();
      context.onAssociation(this, true);
      log.info({ acceptedContexts: accepted }, 'association accepted');
    }

    override associationReleaseRequested(): void {
      this.sendAssociationReleaseResponse();
    }

    override cEchoRequest(
      request: CEchoRequest,
      callback: (response: InstanceType<typeof CEchoResponse>) => void,
    ): void {
      const response = CEchoResponse.fromRequest(request);
      response.setStatus(DimseStatus.Success);
      callback(response);
    }

    override createStoreWritableStream(context_: PresentationContext, request: CStoreRequest): Writable {
      const socket = (this as unknown as { socket: Socket }).socket;
      const job = context.ingest.begin({
        door: 'dimse',
        callingAETitle: this.association?.getCallingAeTitle().trim(),
        dataset: {
          sopClassUid: request.getAffectedSopClassUid(),
          sopInstanceUid: request.getAffectedSopInstanceUid(),
          transferSyntaxUid: context_.getAcceptedTransferSyntaxUid() ?? '',
        },
      });
      const writable = new StoreWritable(job, socket);
      this.storeOutcomes.set(request, writable);
      this.openWritables.add(writable);
      return writable;
    }

    override createDatasetFromStoreWritableStream(
      _writable: Writable,
      _context: PresentationContext,
      callback: (dataset: InstanceType<typeof Dataset>) => void,
    ): void {
      // The dataset is on disk, not in memory; the C-STORE handler reads the outcome instead.
      callback(new Dataset({}));
    }

    override cStoreRequest(
      request: CStoreRequest,
      callback: (response: InstanceType<typeof CStoreResponse>) => void,
    ): void {
      const writable = this.storeOutcomes.get(request);
      const response = CStoreResponse.fromRequest(request);
      if (!writable) {
        response.setStatus(0x0110);
        callback(response);
        return;
      }
      writable.outcome
        .then(
          (outcome) => {
            if (outcome.ok) {
              response.setStatus(DimseStatus.Success);
            } else {
              response.setStatus(outcome.error.dimseStatus);
              response.setErrorComment(outcome.error.message.slice(0, 64));
            }
          },
          (error: unknown) => {
            const failure = toGatewayError(error);
            response.setStatus(failure.dimseStatus);
            response.setErrorComment(failure.message.slice(0, 64));
          },
        )
        .finally(() => {
          this.openWritables.delete(writable);
          callback(response);
        });
    }

    override cCancelRequest(): void {
      // Nothing long-running to cancel on this association yet.
    }

    override abort(): void {
      // After an A-ABORT the transport is done (PS3.8 7.3.1); peers wait for us to close it.
      this.log.info('association aborted by the peer');
      this.destroy();
    }

    private onClose(): void {
      for (const writable of this.openWritables) void writable.discard();
      this.openWritables.clear();
      if (this.association) context.onAssociation(this, false);
    }
  };
}
