/**
 * Operations routes at the server root, beside /health: /ready (can the gateway take work: index and
 * storage writable, both doors listening) and /metrics (Prometheus). Neither shows patient data, and
 * /ready names failed checks by error code only (no paths). Both log at warn level and above only, so
 * probes every few seconds do not fill the request log.
 */
import type { FastifyInstance } from 'fastify';
import type { IndexStore } from '../index/index-store.js';
import type { Logger } from '../log.js';
import type { FileStore } from '../storage/file-store.js';
import type { GatewayMetrics } from './metrics.js';

export interface CheckResult {
  ok: boolean;
  /** Why not: an error code (EROFS, ENOSPC, SQLITE_READONLY, timeout ...). */
  error?: string;
}

export interface ReadyReport {
  ok: boolean;
  checks: Record<string, CheckResult>;
}

export interface OperationsRoutesOptions {
  ready: () => Promise<ReadyReport>;
  metrics: Pick<GatewayMetrics, 'scrape' | 'contentType'>;
}

export function registerOperationsRoutes(app: FastifyInstance, options: OperationsRoutesOptions): void {
  app.get('/ready', { logLevel: 'warn' }, async (_request, reply) => {
    const report = await options.ready();
    return reply
      .code(report.ok ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: report.ok ? 'ready' : 'not ready', checks: report.checks });
  });
  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    const text = await options.metrics.scrape();
    return reply.code(200).header('cache-control', 'no-store').type(options.metrics.contentType).send(text);
  });
}

export interface ReadinessSources {
  index: Pick<IndexStore, 'checkWritable'>;
  store: Pick<FileStore, 'checkWritable'>;
  /** True once both doors listen (the same flag as /health). */
  doors: () => boolean;
  /** The audit log, when enabled: it must be able to write. */
  audit?: { checkWritable(): Promise<void> };
  /** A check that takes longer fails with "timeout" (default 5 s). */
  timeoutMs?: number;
  log?: Logger;
}

/**
 * The /ready probe: runs the checks (concurrent probes share one run), and logs when readiness changes
 * with the full errors, which the HTTP answer leaves out.
 */
export function readinessProbe(sources: ReadinessSources): () => Promise<ReadyReport> {
  const timeoutMs = sources.timeoutMs ?? 5000;
  let running: Promise<ReadyReport> | undefined;
  let wasOk: boolean | undefined;

  const check = async (run: () => void | Promise<void>): Promise<CheckResult & { cause?: unknown }> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error('check timed out'), { code: 'timeout' })),
        timeoutMs,
      );
    });
    try {
      await Promise.race([Promise.resolve().then(run), timeout]);
      return { ok: true };
    } catch (error) {
      return { ok: false, error: errorCode(error), cause: error };
    } finally {
      clearTimeout(timer);
    }
  };

  const run = async (): Promise<ReadyReport> => {
    const entries: [string, () => void | Promise<void>][] = [
      [
        'doors',
        () => {
          if (!sources.doors())
            throw Object.assign(new Error('doors not listening'), { code: 'not listening' });
        },
      ],
      ['index', () => sources.index.checkWritable()],
      ['storage', () => sources.store.checkWritable()],
    ];
    if (sources.audit) {
      const audit = sources.audit;
      entries.push(['audit', () => audit.checkWritable()]);
    }
    const results = await Promise.all(entries.map(([, fn]) => check(fn)));
    const checks: Record<string, CheckResult> = {};
    const failures: Record<string, unknown> = {};
    entries.forEach(([name], i) => {
      const { cause, ...result } = results[i]!;
      checks[name] = result;
      if (!result.ok) failures[name] = cause instanceof Error ? cause.message : String(cause);
    });
    const ok = results.every((r) => r.ok);
    if (ok !== wasOk) {
      if (!ok) sources.log?.warn({ failures }, 'not ready');
      else if (wasOk === false) sources.log?.info('ready again');
      wasOk = ok;
    }
    return { ok, checks };
  };

  return () => {
    running ??= run().finally(() => {
      running = undefined;
    });
    return running;
  };
}

/** A short, path-free reason: the errno or SQLite code, else the error's name. */
function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code !== '') return code;
  if (error instanceof Error) return error.name === 'Error' ? 'failed' : error.name;
  return 'failed';
}
