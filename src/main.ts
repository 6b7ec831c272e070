/**
 * Composition root: config -> logger -> core (index + storage + ingest + search) -> HTTP and DIMSE
 * doors, and the graceful close that drains both before the index is closed.
 */
import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import type { GatewayConfig } from './config.js';
import { INDEX_FILE, openCore, sopClassAcceptor, type GatewayCore } from './core.js';
import { DimseServer } from './dimse/dimse-server.js';
import { peerLookup } from './dimse/peers.js';
import { createServices } from './dimse/services.js';
import { buildHttpApp } from './http/app.js';
import type { Logger } from './log.js';
import { instrumentDimseServices } from './observability/dimse-instrumentation.js';
import { GatewayMetrics } from './observability/metrics.js';
import { readinessProbe } from './observability/routes.js';
import { assertSafeBinding } from './auth/startup-check.js';

/** How long SIGTERM waits for requests and associations in flight. */
const DRAIN_MS = 30_000;

export interface RunningGateway {
  core: GatewayCore;
  http: FastifyInstance;
  httpPort: number;
  dimsePort: number;
  dimseTlsPort?: number;
  metrics: GatewayMetrics;
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, log: Logger): Promise<RunningGateway> {
  // loadConfig refuses this already; a config built in code gets the same check.
  if (assertSafeBinding(config.http.host, config.auth, config.auth.insecureNoAuth) === 'insecure') {
    log.warn(
      { http: config.http.host },
      'serving HTTP to the network WITHOUT authentication (--insecure-no-auth): anyone who can reach it can read, store and delete',
    );
  }
  const core = await openCore(config, log);
  let ready = false;
  let http: FastifyInstance | undefined;
  let dimseServer: DimseServer | undefined;
  const audit = core.audit;
  const metrics = new GatewayMetrics({
    index: core.index,
    dataDir: config.data,
    indexPath: join(config.data, INDEX_FILE),
    auditWriteErrors: audit ? () => audit.writeErrors : undefined,
    log,
  });
  core.ingest.onStored((event) => metrics.observeStored(event));
  try {
    http = await buildHttpApp({
      core,
      health: { ready: () => ready },
      observability: {
        metrics,
        audit,
        root: config.http.root,
        ready: readinessProbe({ index: core.index, store: core.store, doors: () => ready, audit, log }),
      },
    });
    dimseServer = new DimseServer({
      config: config.dimse,
      acceptStorage: sopClassAcceptor(config),
      services: () =>
        instrumentDimseServices(
          createServices({
            ingest: core.ingest,
            index: core.index,
            store: core.store,
            peers: peerLookup(config.dimse),
            aeTitle: config.dimse.aeTitle,
            maxPduLength: config.dimse.maxPduLength,
            idleTimeoutMs: config.dimse.idleTimeoutSeconds * 1000,
            caseInsensitivePersonNames: config.qido.caseInsensitivePersonNames,
            audit,
            log,
          }),
          { metrics },
        ),
      log,
    });
    const associations = dimseServer;
    metrics.setAssociationsSource(() => associations.openAssociations);
    const { port: dimsePort, tlsPort } = await dimseServer.listen();
    await http.listen({ port: config.http.port, host: config.http.host });
    const address = http.server.address();
    const httpPort = typeof address === 'object' && address ? address.port : config.http.port;
    ready = true;
    log.info(
      {
        http: `${config.http.host}:${httpPort}`,
        scheme: config.http.tls ? 'https' : 'http',
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
      metrics,
      close: () => {
        closing ??= (async () => {
          ready = false;
          log.info('shutting down: draining HTTP requests and DIMSE associations');
          // Requests get as long as associations to finish; then their connections are cut, so a client
          // that stopped reading cannot hold the shutdown open.
          const cut = setTimeout(() => {
            log.warn('drain time is up: closing the remaining HTTP connections');
            app.server.closeAllConnections();
          }, DRAIN_MS);
          await Promise.all([app.close(), dimse.close(DRAIN_MS)]).finally(() => clearTimeout(cut));
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
