import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { register as globalRegister } from 'prom-client';
import type { AcceptorConnection, Services } from '../../../src/dimse/acceptor.js';
import { CommandField } from '../../../src/dimse/command-set.js';
import type { IncomingRequest } from '../../../src/dimse/connection.js';
import { GatewayError } from '../../../src/errors.js';
import type { IndexStore } from '../../../src/index/index-store.js';
import { instrumentDimseServices } from '../../../src/observability/dimse-instrumentation.js';
import { GatewayMetrics, statusClass, type StoredEvent } from '../../../src/observability/metrics.js';
import { makeTempDir, removeDir } from '../../helpers/fixtures.js';
import { parseSamples, sampleValue } from './prom-text.js';

type Counts = ReturnType<IndexStore['counts']>;
const COUNTS: Counts = { patients: 1, studies: 2, series: 3, instances: 4, bytes: 5000 };
const index = (counts: () => Counts = () => COUNTS) => ({ counts });

const instance = {
  sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
  sopInstanceUid: '1.2.3.4.5',
  studyInstanceUid: '1.2.3',
  seriesInstanceUid: '1.2.3.4',
};
const stored = (door: StoredEvent['door'], status: 'stored' | 'replaced' | 'duplicate', bytes = 100) =>
  ({ door, outcome: { ok: true, status, instance, bytes } }) satisfies StoredEvent;
const refused = (door: StoredEvent['door'], code: 'INVALID_DICOM' | 'DUPLICATE_CONFLICT', bytes = 10) =>
  ({
    door,
    outcome: { ok: false, error: new GatewayError(code, 'no'), instance: {}, bytes },
  }) satisfies StoredEvent;

describe('GatewayMetrics', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('metrics-');
  });
  after(() => removeDir(dir));

  test('stored and refused instances move their counters, by door, status and reason', async () => {
    const metrics = new GatewayMetrics({ index: index(), defaultMetrics: false });
    let text = await metrics.scrape();
    // Every door and status is there from the start, so rate() has a zero to start from.
    for (const door of ['stow', 'dimse', 'import'])
      for (const status of ['stored', 'replaced', 'duplicate'])
        assert.equal(sampleValue(text, 'dicomweb_instances_stored_total', { door, status }), 0);

    metrics.observeStored(stored('stow', 'stored', 1000));
    metrics.observeStored(stored('stow', 'stored', 1000));
    metrics.observeStored(stored('dimse', 'duplicate', 500));
    metrics.observeStored(stored('import', 'replaced', 200));
    metrics.observeStored(refused('dimse', 'INVALID_DICOM', 7));
    metrics.observeStored(refused('stow', 'DUPLICATE_CONFLICT', 3));
    text = await metrics.scrape();
    const stores = (door: string, status: string) =>
      sampleValue(text, 'dicomweb_instances_stored_total', { door, status });
    assert.equal(stores('stow', 'stored'), 2);
    assert.equal(stores('dimse', 'duplicate'), 1);
    assert.equal(stores('import', 'replaced'), 1);
    assert.equal(stores('dimse', 'stored'), 0);
    const failures = (door: string, reason: string) =>
      sampleValue(text, 'dicomweb_ingest_failures_total', { door, reason });
    assert.equal(failures('dimse', 'INVALID_DICOM'), 1);
    assert.equal(failures('stow', 'DUPLICATE_CONFLICT'), 1);
    assert.equal(sampleValue(text, 'dicomweb_received_bytes_total', { door: 'stow' }), 2003);
    assert.equal(sampleValue(text, 'dicomweb_received_bytes_total', { door: 'dimse' }), 507);
  });

  test('observeStored never throws at the ingest pipeline', () => {
    const metrics = new GatewayMetrics({ index: index(), defaultMetrics: false });
    assert.doesNotThrow(() =>
      metrics.observeStored({ door: 'stow', outcome: null } as unknown as StoredEvent),
    );
  });

  test('each gateway has its own registry; nothing goes to the global one', async () => {
    const a = new GatewayMetrics({ index: index(), defaultMetrics: false });
    const b = new GatewayMetrics({ index: index(), defaultMetrics: false });
    a.observeStored(stored('stow', 'stored'));
    assert.equal(
      sampleValue(await a.scrape(), 'dicomweb_instances_stored_total', { door: 'stow', status: 'stored' }),
      1,
    );
    assert.equal(
      sampleValue(await b.scrape(), 'dicomweb_instances_stored_total', { door: 'stow', status: 'stored' }),
      0,
    );
    assert.doesNotMatch(await globalRegister.metrics(), /dicomweb_|process_cpu/);
    // The gateway's registry holds its own metrics; the process metrics join them in the scrape.
    assert.doesNotMatch(await a.registry.metrics(), /process_cpu/);
  });

  test('the scrape is valid Prometheus text with HELP and TYPE for every metric', async () => {
    const metrics = new GatewayMetrics({ index: index(), dataDir: dir, defaultMetrics: true });
    metrics.observeHttp('GET', '/dicom-web/studies', 200, 0.012);
    metrics.observeDimseOperation('C-STORE', 0.3);
    const text = await metrics.scrape();
    assert.equal(metrics.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    const samples = parseSamples(text); // throws on any malformed line
    assert.ok(samples.length > 20);
    for (const name of [
      'dicomweb_instances_stored_total',
      'dicomweb_ingest_failures_total',
      'dicomweb_http_request_duration_seconds',
      'dicomweb_dimse_operation_duration_seconds',
      'dicomweb_dimse_open_associations',
      'dicomweb_storage_bytes',
      'dicomweb_storage_free_bytes',
      'dicomweb_index_instances',
      'dicomweb_index_studies',
      'dicomweb_index_size_bytes',
    ]) {
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), name);
      assert.match(text, new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, 'm'), name);
    }
    // Process metrics, collected once per process and scraped with every gateway's.
    assert.ok(sampleValue(text, 'process_cpu_user_seconds_total') !== undefined);
    const other = await new GatewayMetrics({ index: index() }).scrape();
    assert.ok(sampleValue(other, 'process_cpu_user_seconds_total') !== undefined);
    assert.ok(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds'));
    // A histogram: cumulative buckets ending in +Inf, a sum and a count.
    const labels = { method: 'GET', route: '/dicom-web/studies', status_class: '2xx' };
    assert.equal(
      sampleValue(text, 'dicomweb_http_request_duration_seconds_bucket', { ...labels, le: '0.01' }),
      0,
    );
    assert.equal(
      sampleValue(text, 'dicomweb_http_request_duration_seconds_bucket', { ...labels, le: '0.025' }),
      1,
    );
    assert.equal(
      sampleValue(text, 'dicomweb_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' }),
      1,
    );
    assert.equal(sampleValue(text, 'dicomweb_http_request_duration_seconds_count', labels), 1);
    assert.equal(sampleValue(text, 'dicomweb_http_request_duration_seconds_sum', labels), 0.012);
    assert.equal(
      sampleValue(text, 'dicomweb_dimse_operation_duration_seconds_count', { command: 'C-STORE' }),
      1,
    );
  });

  test('sizes are read at scrape time: index counts, index file and WAL, free space, associations', async () => {
    const indexPath = join(dir, 'index.sqlite');
    await writeFile(indexPath, Buffer.alloc(4096));
    await writeFile(`${indexPath}-wal`, Buffer.alloc(1000));
    let counts = COUNTS;
    let calls = 0;
    let open = 3;
    const metrics = new GatewayMetrics({
      index: index(() => {
        calls++;
        return counts;
      }),
      dataDir: dir,
      indexPath,
      defaultMetrics: false,
    });
    metrics.setAssociationsSource(() => open);
    let text = await metrics.scrape();
    assert.equal(calls, 1, 'one index read per scrape, shared by the gauges');
    assert.equal(sampleValue(text, 'dicomweb_index_instances'), 4);
    assert.equal(sampleValue(text, 'dicomweb_index_studies'), 2);
    assert.equal(sampleValue(text, 'dicomweb_index_series'), 3);
    assert.equal(sampleValue(text, 'dicomweb_index_patients'), 1);
    assert.equal(sampleValue(text, 'dicomweb_storage_bytes'), 5000);
    assert.equal(sampleValue(text, 'dicomweb_index_size_bytes'), 5096);
    assert.ok(sampleValue(text, 'dicomweb_storage_free_bytes')! > 0);
    assert.equal(sampleValue(text, 'dicomweb_dimse_open_associations'), 3);

    counts = { ...COUNTS, instances: 10, bytes: 9999 };
    open = 0;
    await writeFile(`${indexPath}-wal`, Buffer.alloc(0));
    text = await metrics.scrape();
    assert.equal(calls, 2);
    assert.equal(sampleValue(text, 'dicomweb_index_instances'), 10);
    assert.equal(sampleValue(text, 'dicomweb_storage_bytes'), 9999);
    assert.equal(sampleValue(text, 'dicomweb_index_size_bytes'), 4096);
    assert.equal(sampleValue(text, 'dicomweb_dimse_open_associations'), 0);
  });

  test('an index that cannot be read leaves the scrape working, and is logged once', async () => {
    const warnings: unknown[] = [];
    const log = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as import('pino').Logger;
    const metrics = new GatewayMetrics({
      index: index(() => {
        throw new TypeError('The database connection is not open');
      }),
      defaultMetrics: false,
      log,
    });
    metrics.setAssociationsSource(() => {
      throw new Error('gone');
    });
    const text = await metrics.scrape();
    await metrics.scrape();
    assert.equal(sampleValue(text, 'dicomweb_index_instances'), 0);
    assert.equal(sampleValue(text, 'dicomweb_dimse_open_associations'), 0);
    assert.equal(warnings.length, 2, 'one warning per source, not per scrape');
  });

  test('audit write errors are counted from their source', async () => {
    let errors = 0;
    const metrics = new GatewayMetrics({
      index: index(),
      defaultMetrics: false,
      auditWriteErrors: () => errors,
    });
    assert.equal(sampleValue(await metrics.scrape(), 'dicomweb_audit_write_errors_total'), 0);
    errors = 3;
    assert.equal(sampleValue(await metrics.scrape(), 'dicomweb_audit_write_errors_total'), 3);
    errors = 4;
    assert.equal(sampleValue(await metrics.scrape(), 'dicomweb_audit_write_errors_total'), 4);
  });

  test('status classes', () => {
    assert.equal(statusClass(200), '2xx');
    assert.equal(statusClass(206), '2xx');
    assert.equal(statusClass(404), '4xx');
    assert.equal(statusClass(503), '5xx');
    assert.equal(statusClass(0), 'other');
  });
});

describe('HTTP request durations', () => {
  let app: FastifyInstance;
  let metrics: GatewayMetrics;
  before(async () => {
    metrics = new GatewayMetrics({ index: index(), defaultMetrics: false });
    app = Fastify();
    metrics.installHttpHooks(app);
    await app.register(
      async (dicomweb) => {
        dicomweb.get('/studies/:study/series', async () => []);
        dicomweb.get('/studies/:study/series/:series/instances/:instance/bulkdata/*', async () => 'x');
        dicomweb.post('/studies', async (_request, reply) => reply.code(409).send({}));
      },
      { prefix: '/dicom-web' },
    );
    await app.ready();
  });
  after(() => app.close());

  test('are labelled by route template, never by the URL with its UIDs', async () => {
    const study = '1.2.826.0.1.3680043.2.1125.1';
    for (let i = 0; i < 3; i++)
      await app.inject(`/dicom-web/studies/${study}.${i}/series?PatientID=SECRET${i}`);
    await app.inject(`/dicom-web/studies/${study}/series/1.2/instances/1.2.3/bulkdata/7fe00010`);
    await app.inject({ method: 'POST', url: '/dicom-web/studies' });
    await app.inject(`/dicom-web/nothing/${study}`);
    await app.inject(`/random-${study}`);
    const text = await metrics.scrape();
    const count = (labels: Record<string, string>) =>
      sampleValue(text, 'dicomweb_http_request_duration_seconds_count', labels);
    assert.equal(count({ method: 'GET', route: '/dicom-web/studies/:study/series', status_class: '2xx' }), 3);
    assert.equal(
      count({
        method: 'GET',
        route: '/dicom-web/studies/:study/series/:series/instances/:instance/bulkdata/*',
        status_class: '2xx',
      }),
      1,
    );
    assert.equal(count({ method: 'POST', route: '/dicom-web/studies', status_class: '4xx' }), 1);
    assert.equal(count({ method: 'GET', route: 'unmatched', status_class: '4xx' }), 2);
    assert.doesNotMatch(text, /1\.2\.826|SECRET|random/);
  });
});

describe('DIMSE operation durations', () => {
  test('instrumented services time each operation by command, and pass everything else through', async () => {
    const metrics = new GatewayMetrics({ index: index(), defaultMetrics: false });
    const seen: string[] = [];
    const consumer = { write: () => undefined, end: () => undefined, abort: () => undefined };
    const services: Services = {
      handle: (_connection, request) => ({
        dataset: request.command.commandField === CommandField.CStoreRQ ? consumer : undefined,
        cancel: () => seen.push('cancel'),
        run: async () => {
          seen.push(`run ${request.command.commandField}`);
        },
      }),
    };
    const wrapped = instrumentDimseServices(services, { metrics });
    const connection = { callingAETitle: 'MODALITY', remoteAddress: '10.0.0.5' } as AcceptorConnection;
    const request = (commandField: number) =>
      ({
        context: { id: 1, abstractSyntax: '', transferSyntax: '' },
        command: { commandField },
      }) as IncomingRequest;
    const store = wrapped.handle(connection, request(CommandField.CStoreRQ));
    assert.equal(store.dataset, consumer);
    await store.run();
    store.cancel?.();
    await wrapped.handle(connection, request(CommandField.CFindRQ)).run();
    await wrapped.handle(connection, request(CommandField.CEchoRQ)).run();
    assert.deepEqual(seen, ['run 1', 'cancel', 'run 32', 'run 48']);
    const text = await metrics.scrape();
    for (const command of ['C-STORE', 'C-FIND', 'C-ECHO'])
      assert.equal(sampleValue(text, 'dicomweb_dimse_operation_duration_seconds_count', { command }), 1);
  });
});
