/**
 * The DIMSE listeners: plain TCP, and DICOM TLS (PS3.15 B.1) on a second port when configured. Each
 * connection becomes an AcceptorConnection under the association policy; the server counts them for the
 * association limit and drains them on shutdown.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { GatewayConfig } from '../config.js';
import type { Logger } from '../log.js';
import { AcceptorConnection, type Services } from './acceptor.js';
import { AssociationPolicy } from './association-policy.js';

export interface DimseServerOptions {
  config: GatewayConfig['dimse'];
  acceptStorage: (sopClassUid: string) => boolean;
  services: (policy: AssociationPolicy) => Services;
  log: Logger;
}

let associationCounter = 0;

export class DimseServer {
  private readonly servers: Server[] = [];
  private readonly connections = new Set<AcceptorConnection>();
  private closing = false;
  readonly policy: AssociationPolicy;
  private readonly services: Services;
  private readonly log: Logger;

  constructor(private readonly options: DimseServerOptions) {
    this.log = options.log.child({ door: 'dimse' });
    this.policy = new AssociationPolicy({
      aeTitle: options.config.aeTitle,
      checkCalledAETitle: options.config.checkCalledAETitle,
      allowedCallingAETitles: options.config.allowedCallingAETitles,
      storePolicy: options.config.storePolicy,
      peers: options.config.peers,
      acceptStorage: options.acceptStorage,
      refusing: () =>
        this.closing
          ? 'shutting down'
          : this.connections.size > this.options.config.maxAssociations
            ? 'association limit reached'
            : undefined,
      log: this.log,
    });
    this.services = options.services(this.policy);
  }

  get openAssociations(): number {
    return this.connections.size;
  }

  private accept(socket: Socket): void {
    const { config } = this.options;
    const associationId = ++associationCounter;
    const connection = new AcceptorConnection(socket, {
      maxPduLength: config.maxPduLength,
      idleTimeoutMs: config.idleTimeoutSeconds * 1000,
      artimTimeoutMs: config.artimTimeoutSeconds * 1000,
      log: this.log.child({
        associationId,
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
      }),
      services: this.services,
      policy: this.policy,
      associationId,
    });
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
  }

  /** Listens on the DIMSE port (and the TLS port); returns the ports bound. */
  async listen(): Promise<{ port: number; tlsPort?: number }> {
    const { config } = this.options;
    const port = await this.bind(
      createServer((socket) => this.accept(socket)),
      config.port,
    );
    if (!config.tls) return { port };
    const tlsServer = createTlsServer(
      {
        key: readFileSync(config.tls.key),
        cert: readFileSync(config.tls.cert),
        ca: config.tls.ca ? readFileSync(config.tls.ca) : undefined,
        requestCert: config.tls.requireClientCertificate,
        rejectUnauthorized: config.tls.requireClientCertificate,
        minVersion: 'TLSv1.2',
      },
      (socket) => this.accept(socket),
    );
    tlsServer.on('tlsClientError', (error) => this.log.warn({ err: error.message }, 'TLS handshake failed'));
    const tlsPort = await this.bind(tlsServer, config.tls.port);
    return { port, tlsPort };
  }

  private async bind(server: Server, port: number): Promise<number> {
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.options.config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  /** Stops accepting, lets associations with work in flight finish (up to the grace period), then cuts the rest. */
  async close(graceMs = 30_000): Promise<void> {
    this.closing = true;
    const closed = Promise.all(
      this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && [...this.connections].some((c) => c.busy)) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const connection of this.connections) connection.destroy();
    await Promise.all([...this.connections].map((c) => c.closed));
    await closed;
  }
}
