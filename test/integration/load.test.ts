/**
 * Sustained mixed load on one gateway process: 16 STOW clients, 4 C-STORE associations and 8 readers for
 * LOAD_SECONDS (60 by default). No request may fail, every acknowledged instance must be indexed and
 * retrievable afterwards, and `verify` must find the store consistent. Throughput and the server's peak
 * RSS are reported as diagnostics, never asserted (performance is measured by the benchmark).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { makeTempDir, removeDir } from '../helpers/fixtures.js';
import { CLI, spawnGateway } from '../helpers/gateway.js';
import { checkAcknowledged, runTraffic } from '../helpers/traffic.js';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);

test(`${SECONDS} s of 16 STOW clients, 4 C-STORE associations and 8 readers: zero errors`, async (t) => {
  const dataDir = await makeTempDir('gw-load-');
  const workDir = await makeTempDir('gw-load-files-');
  t.after(() => Promise.all([removeDir(dataDir), removeDir(workDir)]));
  const gateway = await spawnGateway(['--data', dataDir], {});
  try {
    const started = Date.now();
    const result = await runTraffic({
      dicomweb: gateway.dicomweb,
      dimsePort: gateway.dimsePort,
      workDir,
      stowClients: 16,
      cstoreAssociations: 4,
      readers: 8,
      stop: () => Date.now() - started > SECONDS * 1000,
    });
    const elapsed = (Date.now() - started) / 1000;
    const rss = gateway.peakRss();
    const byDoor = (door: string) => result.acknowledged.filter((a) => a.door === door).length;
    t.diagnostic(
      `stored ${byDoor('stow')} by STOW and ${byDoor('dimse')} by C-STORE, ${result.reads} reads in ${elapsed.toFixed(1)} s ` +
        `(${(result.acknowledged.length / elapsed).toFixed(0)} instances/s, ${(result.reads / elapsed).toFixed(0)} reads/s); ` +
        `server peak RSS ${(rss / 1024 / 1024).toFixed(0)} MB`,
    );
    assert.deepEqual(result.errors.slice(0, 10), [], `${result.errors.length} errors`);
    assert.ok(byDoor('stow') > 0 && byDoor('dimse') > 0, 'both doors stored');
    assert.deepEqual(await checkAcknowledged(gateway.dicomweb, result.acknowledged, 200), []);
  } finally {
    gateway.child.kill('SIGTERM');
    await gateway.exited;
  }
  const verify = await promisify(execFile)(process.execPath, [CLI, 'verify', '--data', dataDir]).catch(
    (error: { code: number; stdout: string }) => error,
  );
  assert.equal('code' in verify ? verify.code : 0, 0, `verify: ${verify.stdout}`);
});
