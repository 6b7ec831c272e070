/** The command line as users run it: start-up contract, config validation, SIGTERM, import. */
import assert from 'node:assert/strict';
import { execFile as execFileCallback, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { buildInstance } from '../helpers/dicom-generator.js';
import { multipartRelated, qido } from '../helpers/dicomweb-client.js';
import { makeTempDir, removeDir, writeInstance } from '../helpers/fixtures.js';
import { CLI, PROJECT_ROOT, spawnGateway } from '../helpers/gateway.js';

const execFile = promisify(execFileCallback);

/** Runs the CLI to completion; never throws on a non-zero exit. */
async function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

describe('start-up contract', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('cli-');
  });
  after(() => removeDir(dir));

  test('npx dicomweb-gateway resolves the bin entry', async () => {
    const { stdout } = await execFile('npx', ['--no-install', 'dicomweb-gateway', '--help'], {
      cwd: PROJECT_ROOT,
    });
    assert.match(stdout, /Usage: dicomweb-gateway <command>/);
  });

  test('serve with flags answers /health with 200 and stops cleanly on SIGTERM', async () => {
    const data = join(dir, 'health');
    const gateway = await spawnGateway(['--data', data, '--ae-title', 'MYGATEWAY']);
    const health = await fetch(`${gateway.httpUrl}/health`);
    assert.equal(health.status, 200);
    assert.match(gateway.output(), /"aeTitle":"MYGATEWAY"/);
    gateway.child.kill('SIGTERM');
    const { code } = await gateway.exited;
    assert.equal(code, 0);
    assert.match(gateway.output(), /shut down cleanly/);
    // The index was closed with a checkpoint: no write-ahead log is left over.
    const wal = join(data, 'index.sqlite-wal');
    assert.ok(!existsSync(wal) || statSync(wal).size === 0);
  });

  test('environment variables configure the same keys', async () => {
    const data = join(dir, 'env');
    const gateway = await spawnGateway([], { DICOMWEB_DATA: data, DICOMWEB_AE_TITLE: 'ENVGATEWAY' });
    assert.match(gateway.output(), /"aeTitle":"ENVGATEWAY"/);
    assert.ok(existsSync(join(data, 'index.sqlite')));
    gateway.child.kill('SIGTERM');
    await gateway.exited;
  });

  test('a config file is validated at start-up with the bad key named', async () => {
    const cases: [object, RegExp][] = [
      [{ http: { port: 'eighty' } }, /config key "http\.port" must be integer/],
      [{ dimse: { aeTitle: 'THIS_TITLE_IS_FAR_TOO_LONG' } }, /config key "dimse\.aeTitle"/],
      [
        { dimse: { allowedCallingAETitles: ['OK', 'BAD\\AE'] } },
        /config key "dimse\.allowedCallingAETitles\.1"/,
      ],
      [{ dimse: { colour: 'blue' } }, /unknown config key "dimse\.colour"/],
      [{ storage: {} }, /unknown config key "storage"/],
    ];
    for (const [content, message] of cases) {
      const file = join(dir, 'bad.json');
      await writeFile(file, JSON.stringify(content));
      const { code, stderr } = await run(['serve', '--config', file]);
      assert.equal(code, 2, JSON.stringify(content));
      assert.match(stderr, message);
    }
    const { code, stderr } = await run(['serve'], { DICOMWEB_HTTP_PORT: 'x80' });
    assert.equal(code, 2);
    assert.match(stderr, /DICOMWEB_HTTP_PORT must be an integer/);
  });

  test('SIGTERM lets an upload in progress finish before exiting', async () => {
    const data = join(dir, 'drain');
    const gateway = await spawnGateway(['--data', data]);
    const instance = buildInstance({ image: { rows: 256, columns: 256 } });
    const { body, contentType } = multipartRelated([instance.bytes]);
    const half = body.length >> 1;
    let release!: () => void;
    const halfSent = new Promise<void>((resolve) => (release = resolve));
    async function* slowBody() {
      yield body.subarray(0, half);
      release();
      await new Promise((resolve) => setTimeout(resolve, 500));
      yield body.subarray(half);
    }
    const upload = fetch(`${gateway.dicomweb}/studies`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: ReadableStream.from(slowBody()),
      duplex: 'half',
    } as RequestInit);
    await halfSent;
    await new Promise((resolve) => setTimeout(resolve, 100));
    gateway.child.kill('SIGTERM');
    const response = await upload;
    assert.equal(response.status, 200);
    assert.equal((await gateway.exited).code, 0);
    const restarted = await spawnGateway(['--data', data]);
    assert.equal(
      (await qido(`${restarted.dicomweb}/instances?SOPInstanceUID=${instance.sopInstanceUID}`)).length,
      1,
    );
    restarted.child.kill('SIGTERM');
    await restarted.exited;
  });
});

describe('import', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('cli-import-');
  });
  after(() => removeDir(dir));

  test('imports a folder, reports stored/duplicates/failed, exits non-zero on failures', async () => {
    const source = join(dir, 'source');
    const data = join(dir, 'data');
    await mkdir(join(source, 'sub'), { recursive: true });
    const written = [
      await writeInstance(source, {}),
      await writeInstance(join(source, 'sub'), {}),
      await writeInstance(source, {}),
    ];
    await writeFile(join(source, 'notes.txt'), 'not DICOM at all');

    const first = await run(['import', source, '--data', data]);
    assert.equal(first.code, 1);
    assert.match(first.stdout, /stored 3, duplicates 0, failed 1 \(of 4 files\)/);
    assert.match(first.stdout, /failed: .*notes\.txt: not a DICOM file/);

    const second = await run(['import', source, '--data', data]);
    assert.match(second.stdout, /stored 0, duplicates 3, failed 1/);

    const onlyGood = await run(['import', written[0]!.path, '--data', data]);
    assert.equal(onlyGood.code, 0);

    const gateway = await spawnGateway(['--data', data]);
    try {
      for (const instance of written) {
        assert.equal(
          (await qido(`${gateway.dicomweb}/instances?SOPInstanceUID=${instance.sopInstanceUID}`)).length,
          1,
        );
      }
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
  });

  test('a bare dataset without Part 10 header is imported with a header written by the gateway', async (t) => {
    const { hasTool } = await import('../helpers/dcmtk.js');
    if (!hasTool('dcmconv')) {
      t.skip('dcmconv is missing');
      return;
    }
    await mkdir(join(dir, 'bare-src'));
    const source = await writeInstance(join(dir, 'bare-src'), {});
    const bare = join(dir, 'bare.dcm');
    await execFile('dcmconv', ['-F', '+ti', source.path, bare]);
    const data = join(dir, 'bare-data');
    const result = await run(['import', bare, '--data', data]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /stored 1/);
  });

  test('unknown commands and missing paths are usage errors', async () => {
    assert.equal((await run(['frobnicate'])).code, 2);
    assert.equal((await run(['import'])).code, 2);
    const spawned = spawn(process.execPath, [CLI, '--help']);
    const code = await new Promise((resolve) => spawned.on('exit', resolve));
    assert.equal(code, 0);
  });
});
