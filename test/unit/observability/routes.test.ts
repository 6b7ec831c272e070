import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { SqliteIndex } from '../../../src/index/sqlite-index.js';
import { AuditLog } from '../../../src/observability/audit-log.js';
import { GatewayMetrics } from '../../../src/observability/metrics.js';
import {
  readinessProbe,
  registerOperationsRoutes,
  type ReadinessSources,
} from '../../../src/observability/routes.js';
import { FsFileStore } from '../../../src/storage/fs-file-store.js';
import { makeTempDir, removeDir } from '../../helpers/fixtures.js';
import { sampleValue } from './prom-text.js';

function recordingLog(): { log: Logger; lines: { level: string; args: unknown[] }[] } {
  const lines: { level: string; args: unknown[] }[] = [];
  const at =
    (level: string) =>
    (...args: unknown[]) =>
      lines.push({ level, args });
  return { log: { warn: at('warn'), info: at('info'), error: at('error') } as unknown as Logger, lines };
}

async function appWith(sources: ReadinessSources, metrics = new GatewayMetrics({ index: { counts } })) {
  const app = Fastify();
  registerOperationsRoutes(app, { ready: readinessProbe(sources), metrics });
  await app.ready();
  return app;
}

function counts() {
  return { patients: 0, studies: 0, series: 0, instances: 0, bytes: 0 };
}

const fine = { checkWritable: () => undefined };
const fineAsync = { checkWritable: async () => undefined };

describe('/ready', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('ready-');
  });
  after(() => removeDir(dir));

  test('200 when the index and the store can be written and both doors listen', async () => {
    const data = join(dir, 'ok');
    const store = new FsFileStore(data, { fsync: false });
    await store.init();
    const index = new SqliteIndex(join(data, 'index.sqlite'));
    const audit = new AuditLog({ dir: join(data, 'audit') });
    await audit.open();
    const app = await appWith({ index, store, doors: () => true, audit });
    try {
      const response = await app.inject('/ready');
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['cache-control'], 'no-store');
      assert.deepEqual(response.json(), {
        status: 'ready',
        checks: { doors: { ok: true }, index: { ok: true }, storage: { ok: true }, audit: { ok: true } },
      });
    } finally {
      await app.close();
      await store.close();
      await index.close();
      await audit.close();
    }
  });

  test('503 naming the storage when the data directory cannot be written (a real filesystem error)', async () => {
    // Running as root, permissions do not stop writes; a file where the temp directory should be does.
    const data = join(dir, 'broken-store');
    const store = new FsFileStore(data, { fsync: false });
    await store.init();
    await rm(join(data, 'tmp'), { recursive: true });
    await writeFile(join(data, 'tmp'), 'not a directory');
    const { log, lines } = recordingLog();
    const app = await appWith({ index: fine, store, doors: () => true, log });
    try {
      const response = await app.inject('/ready');
      assert.equal(response.statusCode, 503);
      assert.deepEqual(response.json(), {
        status: 'not ready',
        checks: { doors: { ok: true }, index: { ok: true }, storage: { ok: false, error: 'ENOTDIR' } },
      });
      assert.doesNotMatch(response.body, new RegExp(dir), 'no server paths in the answer');
      // The log has the whole story, once per change of state.
      await app.inject('/ready');
      const warnings = lines.filter((l) => l.level === 'warn');
      assert.equal(warnings.length, 1);
      assert.match(JSON.stringify(warnings[0]!.args), /ENOTDIR/);
    } finally {
      await app.close();
      await store.close();
    }
  });

  test('503 naming the index when it cannot be written (a closed SQLite index)', async () => {
    const index = new SqliteIndex(join(dir, 'index.sqlite'));
    await index.close();
    const app = await appWith({ index, store: fineAsync, doors: () => true });
    try {
      const response = await app.inject('/ready');
      assert.equal(response.statusCode, 503);
      assert.deepEqual(response.json().checks.index, { ok: false, error: 'TypeError' });
      assert.equal(response.json().checks.storage.ok, true);
    } finally {
      await app.close();
    }
  });

  test('503 naming the index with its SQLite code', async () => {
    const index = {
      checkWritable: () => {
        throw Object.assign(new Error('attempt to write a readonly database'), { code: 'SQLITE_READONLY' });
      },
    };
    const app = await appWith({ index, store: fineAsync, doors: () => true });
    try {
      const response = await app.inject('/ready');
      assert.equal(response.statusCode, 503);
      assert.deepEqual(response.json().checks.index, { ok: false, error: 'SQLITE_READONLY' });
    } finally {
      await app.close();
    }
  });

  test('503 while the doors are not listening, and when the audit log cannot be written', async () => {
    let listening = false;
    const blocked = join(dir, 'blocked');
    await writeFile(blocked, 'x');
    const audit = new AuditLog({ dir: join(blocked, 'audit') });
    const { log, lines } = recordingLog();
    const app = await appWith({ index: fine, store: fineAsync, doors: () => listening, log });
    const withAudit = await appWith({ index: fine, store: fineAsync, doors: () => true, audit });
    try {
      let response = await app.inject('/ready');
      assert.equal(response.statusCode, 503);
      assert.deepEqual(response.json().checks.doors, { ok: false, error: 'not listening' });
      listening = true;
      response = await app.inject('/ready');
      assert.equal(response.statusCode, 200);
      assert.deepEqual(
        lines.map((l) => l.level),
        ['warn', 'info'],
        'not ready, then ready again',
      );
      response = await withAudit.inject('/ready');
      assert.equal(response.statusCode, 503);
      assert.deepEqual(response.json().checks.audit, { ok: false, error: 'ENOTDIR' });
    } finally {
      await app.close();
      await withAudit.close();
      await audit.close();
    }
  });

  test('a check that hangs fails with "timeout"; concurrent probes share one run', async () => {
    let runs = 0;
    const store = {
      checkWritable: () => {
        runs++;
        return new Promise<void>(() => undefined);
      },
    };
    const probe = readinessProbe({ index: fine, store, doors: () => true, timeoutMs: 50 });
    const [a, b] = await Promise.all([probe(), probe()]);
    assert.equal(runs, 1);
    assert.equal(a, b);
    assert.deepEqual(a.checks.storage, { ok: false, error: 'timeout' });
    assert.equal(a.ok, false);
    await probe();
    assert.equal(runs, 2, 'the next probe runs the checks again');
  });

  test('errors without a code are named by their class, never by their message', async () => {
    const probe = readinessProbe({
      index: {
        checkWritable: () => {
          throw new TypeError('The database connection is not open at /var/lib/secret');
        },
      },
      store: {
        checkWritable: async () => {
          throw new Error('disk says no');
        },
      },
      doors: () => true,
    });
    const report = await probe();
    assert.deepEqual(report.checks.index, { ok: false, error: 'TypeError' });
    assert.deepEqual(report.checks.storage, { ok: false, error: 'failed' });
  });
});

describe('/metrics', () => {
  test('answers the Prometheus text format', async () => {
    const metrics = new GatewayMetrics({
      index: { counts: () => ({ patients: 1, studies: 1, series: 1, instances: 7, bytes: 70 }) },
      defaultMetrics: false,
    });
    const app = await appWith({ index: fine, store: fineAsync, doors: () => true }, metrics);
    try {
      const response = await app.inject('/metrics');
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal(response.headers['cache-control'], 'no-store');
      assert.equal(sampleValue(response.body, 'dicomweb_index_instances'), 7);
    } finally {
      await app.close();
    }
  });
});
