/**
 * Disk full: the data root on a small tmpfs. Uploads past the space get 507 (STOW) and 0xA700 (C-STORE),
 * nothing is half-stored, what was acknowledged stays retrievable, and once space is freed the gateway
 * stores again without a restart.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildInstance, newUid, type BuiltInstance } from '../helpers/dicom-generator.js';
import { isCi } from '../helpers/dcmtk.js';
import { items, qido, stow, value } from '../helpers/dicomweb-client.js';
import { storeFiles } from '../helpers/dimse-client.js';
import { makeTempDir, removeDir } from '../helpers/fixtures.js';
import { CLI, spawnGateway, type GatewayProcess } from '../helpers/gateway.js';
import { listStoredFiles } from '../helpers/stored-files.js';

const TMPFS_BYTES = 48 * 1024 * 1024;
const BALLAST_BYTES = 8 * 1024 * 1024;

let mountPoint: string;
let mounted = false;
let skipReason: string | undefined;

before(async () => {
  mountPoint = await makeTempDir('gw-diskfull-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'tmpfs', mountPoint], {
      stdio: 'pipe',
    });
    mounted = true;
  } catch (error) {
    skipReason = `cannot mount a tmpfs (needs root): ${(error as Error).message.split('\n')[0]}`;
    if (isCi()) throw new Error(`${skipReason}; CI runs as root and must run this test`, { cause: error });
  }
});

after(async () => {
  if (mounted) execFileSync('umount', ['-l', mountPoint]);
  await removeDir(mountPoint);
});

/** ~1 MB instances (512x512 16-bit, pixel data that does not compress). */
function bigInstance(study: string): BuiltInstance {
  return buildInstance({ studyInstanceUID: study, image: { rows: 512, columns: 512, pattern: 'noise' } });
}

/**
 * Temp files holding bytes: the marker of a stored file is fine (kept until its index row is durable,
 * about a second), and so is an empty one.
 */
async function partialUploads(dataDir: string): Promise<string[]> {
  const names = await readdir(join(dataDir, 'tmp')).catch(() => [] as string[]);
  const stored = new Set(await listStoredFiles(dataDir));
  const partial: string[] = [];
  for (const name of names) {
    // `<key, URI-encoded>+<digest>.placing`
    const markerOf = name.endsWith('.placing')
      ? decodeURIComponent(name.slice(0, -'.placing'.length).replace(/\+[0-9a-f]{16}$/, ''))
      : '';
    if (stored.has(markerOf)) continue;
    if ((await stat(join(dataDir, 'tmp', name))).size > 0) partial.push(name);
  }
  return partial;
}

test('a full disk gives 507 and 0xA700, keeps acknowledged data, and recovers when space is freed', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const dataDir = join(mountPoint, 'data');
  await mkdir(dataDir);
  // Ballast the test removes later to free space.
  const ballast = join(mountPoint, 'ballast');
  await writeFile(ballast, Buffer.alloc(BALLAST_BYTES, 1));

  const gateway: GatewayProcess = await spawnGateway(['--data', dataDir]);
  try {
    const study = newUid();
    const acknowledged = new Set<string>();
    let stowFull = 0;
    for (let i = 0; i < 80 && stowFull < 3; i++) {
      const instance = bigInstance(study);
      const { status, json } = await stow(gateway.dicomweb, [instance.bytes]);
      if (status === 200) acknowledged.add(instance.sopInstanceUID);
      else {
        assert.equal(status, 507, `STOW ${i}: ${JSON.stringify(json)}`);
        const [failed] = items(json, '00081198');
        assert.equal(value(failed, '00081197'), 0xa700, 'FailureReason: out of resources');
        stowFull++;
      }
    }
    assert.equal(stowFull, 3, 'the disk filled up');
    assert.ok(acknowledged.size > 10, `stored ${acknowledged.size} before the disk was full`);

    // C-STORE on the full disk: out of resources, not a dropped association.
    const files = join(await makeTempDir('gw-diskfull-files-'), '');
    t.after(() => removeDir(files));
    const pushed: BuiltInstance[] = [];
    const paths: string[] = [];
    for (let i = 0; i < 3; i++) {
      const instance = bigInstance(study);
      pushed.push(instance);
      paths.push(join(files, `${i}.dcm`));
      await writeFile(paths[i]!, instance.bytes);
    }
    const results = await storeFiles(gateway.dimsePort, paths);
    assert.deepEqual(
      results.map((r) => r.status),
      [0xa700, 0xa700, 0xa700],
    );

    assert.deepEqual(await partialUploads(dataDir), [], 'no partial upload is left in tmp/');
    const indexed = await qido(`${gateway.dicomweb}/studies/${study}/instances?limit=1000`);
    assert.equal(indexed.length, acknowledged.size, 'exactly the acknowledged instances are indexed');
    assert.equal((await fetch(`${gateway.httpUrl}/health`)).status, 200);

    // Space comes back: both doors store again without a restart.
    await rm(ballast);
    const again = bigInstance(study);
    assert.equal((await stow(gateway.dicomweb, [again.bytes])).status, 200);
    const retry = await storeFiles(gateway.dimsePort, paths.slice(0, 1));
    assert.deepEqual(
      retry.map((r) => r.status),
      [0],
    );
    const retrieved = await fetch(
      `${gateway.dicomweb}/studies/${study}/series/${again.seriesInstanceUID}/instances/${again.sopInstanceUID}`,
      { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } },
    );
    assert.equal(retrieved.status, 200);
    assert.ok(Buffer.from(await retrieved.arrayBuffer()).includes(Buffer.from(again.sopInstanceUID)));
  } finally {
    gateway.child.kill('SIGTERM');
    await gateway.exited;
  }

  // With the gateway stopped, the store is consistent.
  const verify = execFileSync(process.execPath, [CLI, 'verify', '--data', dataDir], { encoding: 'utf8' });
  assert.match(verify, /no problems/i);
});
