/**
 * The DIMSE listener: a TCP server whose connections each become an AcceptorConnection. It owns the
 * association policy (AE titles, limits) and draining on shutdown.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import { AcceptorConnection, type AcceptorPolicy, type Services } from './acceptor.js';
import { Reject, type AssociateRQ } from './pdu.js';
import type { NegotiationPolicy } from './presentation-contexts.js';

export interface DimseServerOptions {
  host: string;
  port: number;
  aeTitle: string;
  /** Calling AE titles allowed to associate; empty means any. */
  allowedCallingAETitles: string[];
  checkCalledAETitle: boolean;
  maxPduLength: number;
  maxAssociations: number;
  artimTimeoutMs: number;
  idleTimeoutMs: number;
  negotiation: NegotiationPolicy;
  services: Services;
  log: Logger;
}

let associationCounter = 0;

export class DimseServer {
  private server: Server | undefined;
  private readonly connections = new Set<AcceptorConnection>();
  private closing = false;

  constructor(private readonly options: DimseServerOptions) {}

  get openAssociations(): number {
    return this.connections.size;
  }

  private admit(rq: AssociateRQ): ReturnType<AcceptorPolicy['admit']> {
    const { options } = this;
    if (this.closing) {
      return {
        reject: {
          result: Reject.Transient,
          source: Reject.SourcePresentation,
          reason: Reject.TemporaryCongestion,
          why: 'shutting down',
        },
      };
    }
    if (
      options.allowedCallingAETitles.length > 0 &&
      !options.allowedCallingAETitles.includes(rq.callingAETitle)
    ) {
      return {
        reject: {
          result: Reject.Permanent,
          source: Reject.SourceUser,
          reason: Reject.CallingAeNotRecognized,
          why: 'calling AE title not recognized',
        },
      };
    }
    if (options.checkCalledAETitle && rq.calledAETitle !== options.aeTitle) {
      return {
        reject: {
          result: Reject.Permanent,
          source: Reject.SourceUser,
          reason: Reject.CalledAeNotRecognized,
          why: 'called AE title not recognized',
        },
      };
    }
    return {};
  }

  async listen(): Promise<number> {
    const log = this.options.log.child({ door: 'dimse' });
    const policy: AcceptorPolicy = {
      aeTitle: this.options.aeTitle,
      admit: (rq) => this.admit(rq),
      negotiation: this.options.negotiation,
    };
    const server = createServer((socket: Socket) => {
      const connectionLog = log.child({
        associationId: ++associationCounter,
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
      });
      if (this.connections.size >= this.options.maxAssociations) {
        // Over the limit: answer the request with a transient reject rather than silence (PS3.8 9.3.4).
        connectionLog.warn({ limit: this.options.maxAssociations }, 'association limit reached');
      }
      const connection = new AcceptorConnection(socket, {
        maxPduLength: this.options.maxPduLength,
        idleTimeoutMs: this.options.idleTimeoutMs,
        artimTimeoutMs: this.options.artimTimeoutMs,
        log: connectionLog,
        services: this.options.services,
        policy:
          this.connections.size >= this.options.maxAssociations
            ? {
                ...policy,
                admit: () => ({
                  reject: {
                    result: Reject.Transient,
                    source: Reject.SourcePresentation,
                    reason: Reject.LocalLimitExceeded,
                    why: 'association limit reached',
                  },
                }),
              }
            : policy,
      });
      this.connections.add(connection);
      void connection.closed.then(() => this.connections.delete(connection));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  /** Stops accepting, lets associations with work in flight finish (up to the grace period), then cuts the rest. */
  async close(graceMs = 30_000): Promise<void> {
    this.closing = true;
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && [...this.connections].some((c) => c.busy)) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const connection of this.connections) connection.destroy();
    await Promise.all([...this.connections].map((c) => c.closed));
    await closed;
  }
}
