/**
 * Composition root: config -> logger -> core (index + storage + ingest + search) -> HTTP and DIMSE
 * doors, and the graceful close that drains both before the index is closed.
 */
import type { FastifyInstance } from 'fastify';
import type { GatewayConfig } from './config.js';
import { openCore, sopClassAcceptor, type GatewayCore } from './core.js';
import { DimseServer } from './dimse/dimse-server.js';
import { peerLookup } from './dimse/peers.js';
import { createServices } from './dimse/services.js';
import { buildHttpApp } from './http/app.js';
import type { Logger } from './log.js';

export interface RunningGateway {
  core: GatewayCore;
  http: FastifyInstance;
  httpPort: number;
  dimsePort: number;
  dimseTlsPort?: number;
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, log: Logger): Promise<RunningGateway> {
  const core = await openCore(config, log);
  let ready = false;
  let http: FastifyInstance | undefined;
  let dimseServer: DimseServer | undefined;
  try {
    http = await buildHttpApp({ core, health: { ready: () => ready } });
    dimseServer = new DimseServer({
      config: config.dimse,
      acceptStorage: sopClassAcceptor(config),
      services: () =>
        createServices({
          ingest: core.ingest,
          index: core.index,
          store: core.store,
          peers: peerLookup(config.dimse),
          aeTitle: config.dimse.aeTitle,
          maxPduLength: config.dimse.maxPduLength,
          idleTimeoutMs: config.dimse.idleTimeoutSeconds * 1000,
          caseInsensitivePersonNames: config.qido.caseInsensitivePersonNames,
          log,
        }),
      log,
    });
    const { port: dimsePort, tlsPort } = await dimseServer.listen();
    await http.listen({ port: config.http.port, host: config.http.host });
    const address = http.server.address();
    const httpPort = typeof address === 'object' && address ? address.port : config.http.port;
    ready = true;
    log.info(
      {
        http: `${config.http.host}:${httpPort}`,
        dimse: `${config.dimse.host}:${dimsePort}`,
        aeTitle: config.dimse.aeTitle,
        data: config.data,
      },
      'dicomweb-gateway ready',
    );

    let closing: Promise<void> | undefined;
    const app = http;
    const dimse = dimseServer;
    return {
      core,
      http: app,
      httpPort,
      dimsePort,
      dimseTlsPort: tlsPort,
      close: () => {
        closing ??= (async () => {
          ready = false;
          log.info('shutting down: draining HTTP requests and DIMSE associations');
          await Promise.all([app.close(), dimse.close()]);
          await core.close();
          log.info('shut down cleanly');
        })();
        return closing;
      },
    };
  } catch (error) {
    await http?.close().catch(() => undefined);
    await dimseServer?.close(0).catch(() => undefined);
    await core.close();
    throw error;
  }
}
