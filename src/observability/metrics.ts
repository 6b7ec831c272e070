/**
 * Prometheus metrics (prom-client) on a registry of the gateway's own, never the global one, so
 * several gateways in one process (the tests) do not share counters. Counters move on events (stored
 * instances, refusals, HTTP responses, DIMSE operations); the sizes of the store and the index are
 * read when Prometheus scrapes.
 */
import { stat, statfs } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IndexStore } from '../index/index-store.js';
import type { IngestListener } from '../ingest/store-instance.js';
import type { Logger } from '../log.js';

export type StoredEvent = Parameters<IngestListener>[0];

export interface GatewayMetricsOptions {
  /** Counts and stored bytes, read at scrape time. */
  index: Pick<IndexStore, 'counts'>;
  /** The data directory: free space of its filesystem is reported. */
  dataDir?: string;
  /** The SQLite index file; its size plus its -wal file's is dicomweb_index_size_bytes. */
  indexPath?: string;
  /** Process metrics (CPU, memory, event loop, GC) in the scrape. On by default. */
  defaultMetrics?: boolean;
  /** Audit lines that could not be written so far (AuditLog.writeErrors). */
  auditWriteErrors?: () => number;
  log?: Logger;
}

/** Latencies from a cached metadata answer (milliseconds) to a whole-study retrieval (minutes). */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const DIMSE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
const DOORS = ['stow', 'dimse', 'import'] as const;
const STORE_STATUSES = ['stored', 'replaced', 'duplicate'] as const;
/** Scrapes read the index once; gauges collected in the same scrape share what was read. */
const SNAPSHOT_TTL_MS = 1000;

interface Snapshot {
  counts?: ReturnType<IndexStore['counts']>;
  indexBytes?: number;
  freeBytes?: number;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly stored: Counter<'door' | 'status'>;
  private readonly failures: Counter<'door' | 'reason'>;
  private readonly receivedBytes: Counter<'door'>;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status_class'>;
  private readonly dimseDuration: Histogram<'command'>;
  private associations: () => number = () => 0;
  private snapshotAt = 0;
  private snapshotPromise: Promise<Snapshot> | undefined;
  private warnedAbout = new Set<string>();
  private readonly withProcessMetrics: boolean;

  constructor(private readonly options: GatewayMetricsOptions) {
    const registers = [this.registry];
    this.stored = new Counter({
      name: 'dicomweb_instances_stored_total',
      help: 'Instances stored, by door (stow, dimse, import) and status (stored, replaced, duplicate).',
      labelNames: ['door', 'status'],
      registers,
    });
    for (const door of DOORS) for (const status of STORE_STATUSES) this.stored.inc({ door, status }, 0);
    this.failures = new Counter({
      name: 'dicomweb_ingest_failures_total',
      help: 'Instances refused, by door and reason (the gateway error code, e.g. INVALID_DICOM).',
      labelNames: ['door', 'reason'],
      registers,
    });
    this.receivedBytes = new Counter({
      name: 'dicomweb_received_bytes_total',
      help: 'Bytes of instances received, stored or not, by door.',
      labelNames: ['door'],
      registers,
    });
    for (const door of DOORS) this.receivedBytes.inc({ door }, 0);
    this.httpDuration = new Histogram({
      name: 'dicomweb_http_request_duration_seconds',
      help: 'HTTP request duration until the response was sent, by method, route template and status class.',
      labelNames: ['method', 'route', 'status_class'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.dimseDuration = new Histogram({
      name: 'dicomweb_dimse_operation_duration_seconds',
      help: 'DIMSE operation duration (C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET), including sub-operations.',
      labelNames: ['command'],
      buckets: DIMSE_BUCKETS,
      registers,
    });

    const associationCount = () => this.associationCount();
    const snapshot = () => this.snapshot();
    new Gauge({
      name: 'dicomweb_dimse_open_associations',
      help: 'DIMSE associations open now (both ports).',
      registers,
      collect() {
        this.set(associationCount());
      },
    });
    const fromSnapshot = (name: string, help: string, read: (s: Snapshot) => number | undefined) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const value = read(await snapshot());
          if (value !== undefined) this.set(value);
        },
      });
    fromSnapshot('dicomweb_storage_bytes', 'Bytes of the stored instance files.', (s) => s.counts?.bytes);
    fromSnapshot(
      'dicomweb_storage_free_bytes',
      'Bytes available to the gateway on the filesystem of the data directory.',
      (s) => s.freeBytes,
    );
    fromSnapshot('dicomweb_index_instances', 'Instances in the index.', (s) => s.counts?.instances);
    fromSnapshot('dicomweb_index_series', 'Series in the index.', (s) => s.counts?.series);
    fromSnapshot('dicomweb_index_studies', 'Studies in the index.', (s) => s.counts?.studies);
    fromSnapshot('dicomweb_index_patients', 'Patients in the index.', (s) => s.counts?.patients);
    fromSnapshot(
      'dicomweb_index_size_bytes',
      'Size of the SQLite index: the database file and its write-ahead log.',
      (s) => s.indexBytes,
    );
    if (options.auditWriteErrors) {
      const source = options.auditWriteErrors;
      let seen = 0;
      new Counter({
        name: 'dicomweb_audit_write_errors_total',
        help: 'Audit log lines that could not be written.',
        registers,
        collect() {
          const now = source();
          if (now > seen) this.inc(now - seen);
          seen = now;
        },
      });
    }
    this.withProcessMetrics = options.defaultMetrics ?? true;
  }

  /** The Content-Type of `scrape()`'s text (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The metrics in the Prometheus text format, with sizes read now. */
  scrape(): Promise<string> {
    this.snapshotPromise = undefined;
    const registry = this.withProcessMetrics
      ? Registry.merge([processRegistry(), this.registry])
      : this.registry;
    return registry.metrics();
  }

  /** Where the number of open DIMSE associations comes from (the DIMSE server, once it exists). */
  setAssociationsSource(source: () => number): void {
    this.associations = source;
  }

  /** An IngestService listener: `ingest.onStored((event) => metrics.observeStored(event))`. Never throws. */
  observeStored(event: StoredEvent): void {
    try {
      const door = event.door;
      this.receivedBytes.inc({ door }, event.outcome.bytes);
      if (event.outcome.ok) this.stored.inc({ door, status: event.outcome.status });
      else this.failures.inc({ door, reason: event.outcome.error.code });
    } catch (error) {
      this.warnOnce('observe', error);
    }
  }

  /** One HTTP response; `route` is the route template (never the URL, which holds UIDs). */
  observeHttp(method: string, route: string, statusCode: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status_class: statusClass(statusCode) }, seconds);
  }

  /** One DIMSE operation, by command name (C-STORE ...). */
  observeDimseOperation(command: string, seconds: number): void {
    this.dimseDuration.observe({ command }, seconds);
  }

  /**
   * Times every HTTP request (onResponse). Install before the routes are registered: fastify gives
   * routes the hooks their plugin had when they were added.
   */
  installHttpHooks(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      // Routes are labelled by template ("/dicom-web/studies/:study"); a request that matched no route
      // is "unmatched", so scanners probing random URLs cannot create label values.
      const route = request.routeOptions.url ?? 'unmatched';
      this.observeHttp(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    });
  }

  private associationCount(): number {
    try {
      return this.associations();
    } catch (error) {
      this.warnOnce('associations', error);
      return 0;
    }
  }

  private snapshot(): Promise<Snapshot> {
    const now = Date.now();
    if (!this.snapshotPromise || now - this.snapshotAt > SNAPSHOT_TTL_MS) {
      this.snapshotAt = now;
      this.snapshotPromise = this.readSnapshot();
    }
    return this.snapshotPromise;
  }

  private async readSnapshot(): Promise<Snapshot> {
    const snapshot: Snapshot = {};
    try {
      snapshot.counts = this.options.index.counts();
    } catch (error) {
      this.warnOnce('counts', error);
    }
    const { indexPath, dataDir } = this.options;
    if (indexPath) {
      const sizes = await Promise.all(
        [indexPath, `${indexPath}-wal`].map((path) =>
          stat(path).then(
            (s) => s.size,
            () => 0,
          ),
        ),
      );
      snapshot.indexBytes = sizes.reduce((a, b) => a + b, 0);
    }
    if (dataDir) {
      try {
        const fs = await statfs(dataDir);
        snapshot.freeBytes = fs.bavail * fs.bsize;
      } catch (error) {
        this.warnOnce('statfs', error);
      }
    }
    return snapshot;
  }

  private warnOnce(what: string, error: unknown): void {
    if (this.warnedAbout.has(what)) return;
    this.warnedAbout.add(what);
    this.options.log?.warn({ err: error, metric: what }, 'a metric could not be read');
  }
}

let sharedProcessRegistry: Registry | undefined;

/**
 * The process metrics (CPU, memory, event loop lag, GC), collected once per process on a registry of
 * their own (not prom-client's global one): each collectDefaultMetrics call starts an event-loop monitor
 * and a GC observer that are never stopped, and a process has one set of these numbers however many
 * gateways it runs (tests start dozens).
 */
function processRegistry(): Registry {
  if (!sharedProcessRegistry) {
    sharedProcessRegistry = new Registry();
    collectDefaultMetrics({ register: sharedProcessRegistry });
  }
  return sharedProcessRegistry;
}

export function statusClass(statusCode: number): string {
  return statusCode >= 100 && statusCode < 600 ? `${Math.floor(statusCode / 100)}xx` : 'other';
}
