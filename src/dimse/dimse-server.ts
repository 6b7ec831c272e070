/**
 * The DIMSE listener: a TCP server whose connections each get a GatewayScp. Kept here rather than in
 * dcmjs-dimse's Server so the gateway controls the bind address, connection tracking and draining.
 */
import dimse from 'dcmjs-dimse';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import { createScpClass, type GatewayScpInstance, type ScpContext } from './scp.js';

export interface DimseServerOptions extends Omit<
  ScpContext,
  'onAssociation' | 'refuseNewAssociations' | 'log'
> {
  host: string;
  port: number;
  maxPduLength: number;
  log: Logger;
}

export class DimseServer {
  private server: Server | undefined;
  private readonly connections = new Set<GatewayScpInstance>();
  private readonly associations = new Set<GatewayScpInstance>();
  private closing = false;

  constructor(private readonly options: DimseServerOptions) {}

  get openAssociations(): number {
    return this.associations.size;
  }

  async listen(): Promise<number> {
    dimse.Implementation.setMaxPduLength(this.options.maxPduLength);
    const ScpClass = createScpClass({
      ...this.options,
      log: this.options.log.child({ door: 'dimse' }),
      onAssociation: (scp, open) => {
        if (open) this.associations.add(scp);
        else this.associations.delete(scp);
      },
      refuseNewAssociations: () => this.closing,
    });
    const server = createServer((socket: Socket) => {
      const scp = new ScpClass(socket, {
        associationTimeout: 30_000,
        pduTimeout: 120_000,
        connectTimeout: 300_000,
      });
      this.connections.add(scp);
      scp.on('networkError', () => socket.destroy());
      void scp.closed.then(() => this.connections.delete(scp));
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
