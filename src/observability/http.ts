/**
 * Everything observability adds to the HTTP app, in the order fastify needs: the X-Request-ID echo and
 * the hooks before any route is registered (routes take the hooks their plugin has when they are
 * added), then the /ready and /metrics routes.
 */
import type { FastifyInstance } from 'fastify';
import { httpAuditHook, type AuditLog } from './audit-log.js';
import { installRequestIdHeader } from './context.js';
import type { GatewayMetrics } from './metrics.js';
import { registerOperationsRoutes, type ReadyReport } from './routes.js';

export interface HttpObservability {
  metrics: GatewayMetrics;
  ready: () => Promise<ReadyReport>;
  /** Absent when audit.enabled is false. */
  audit?: AuditLog;
  /** The DICOMweb prefix (config http.root). */
  root: string;
}

export function installHttpObservability(app: FastifyInstance, options: HttpObservability): void {
  installRequestIdHeader(app);
  options.metrics.installHttpHooks(app);
  if (options.audit) httpAuditHook(app, options.audit, { root: options.root });
  registerOperationsRoutes(app, { ready: options.ready, metrics: options.metrics });
}
