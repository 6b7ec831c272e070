/**
 * The benchmark's smoke run (tiny corpus, gateway only), so bench/ cannot rot: every phase runs and
 * reports numbers. No timing is asserted. Phases needing dcmtk may skip on a developer machine without
 * it (the bench then says why); with CI set the bench itself fails instead.
 */
import assert from 'node:assert/strict';
import { execFile as execFileCallback } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { isCi } from '../helpers/dcmtk.js';
import { makeTempDir, removeDir } from '../helpers/fixtures.js';
import { PROJECT_ROOT } from '../helpers/gateway.js';

const execFile = promisify(execFileCallback);

const ALL_PHASES = [
  'stow',
  'stow-batch',
  'cstore',
  'cstore-4',
  'metadata',
  'frames',
  'rendered',
  'rendered-images',
  'retrieve',
  'cmove',
  'rss1g',
  'qido',
  'growth',
];

interface Result {
  phase: string;
  label: string;
  target: string;
  count: number;
  seconds: number;
  throughput: number;
  p50?: number;
  peakRssMb?: number;
}

interface BenchReport {
  smoke: boolean;
  phases: string[];
  results: Result[];
  skipped: { phase: string; label: string; target: string; reason: string }[];
  settings: Record<string, Record<string, string>>;
}

let out: string;
before(async () => {
  out = await makeTempDir('bench-smoke-');
});
after(() => removeDir(out));

test('npm run bench -- --smoke runs every phase and writes JSON, Markdown and a chart', async () => {
  // The equivalent of `npm run bench -- --smoke --out <dir>` after the build npm test has done.
  const { stdout } = await execFile(
    process.execPath,
    ['--import', 'tsx', join('bench', 'run.ts'), '--smoke', '--out', out],
    { cwd: PROJECT_ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 180_000 },
  );
  assert.match(stdout, /\| phase \| measurement \| gateway \|/);

  const report = JSON.parse(await readFile(join(out, 'latest.json'), 'utf8')) as BenchReport;
  assert.equal(report.smoke, true);
  assert.deepEqual(report.phases, ALL_PHASES);
  assert.ok(report.settings.gateway?.fsync, 'the gateway fairness settings are stated');
  assert.match(
    report.settings.gateway?.memory ?? '',
    /MALLOC_ARENA_MAX=\d+/,
    'the allocator settings are the ones npm start sets',
  );
  assert.match(report.settings.client?.warmup ?? '', /4 instances .* not measured/, 'the warm-up is stated');

  for (const phase of ALL_PHASES) {
    const rows = report.results.filter((r) => r.phase === phase && r.target === 'gateway');
    const skipped = report.skipped.filter((s) => s.phase === phase);
    if (rows.length === 0) {
      assert.ok(skipped.length > 0, `phase ${phase} has neither results nor a reason to skip`);
      assert.ok(!isCi(), `phase ${phase} skipped with CI set: ${skipped[0]!.reason}`);
      continue;
    }
    for (const r of rows) {
      for (const [name, value] of Object.entries({
        count: r.count,
        seconds: r.seconds,
        throughput: r.throughput,
        peakRssMb: r.peakRssMb,
      })) {
        assert.ok(
          typeof value === 'number' && Number.isFinite(value) && value > 0,
          `${phase} / ${r.label}: ${name} is ${value}`,
        );
      }
    }
  }
  for (const s of report.skipped) assert.ok(s.reason.length > 0);
  if (isCi()) assert.deepEqual(report.skipped, []);

  const markdown = await readFile(join(out, 'latest.md'), 'utf8');
  assert.match(markdown, /## Settings \(fairness\)/);
  const png = await readFile(join(out, 'latest.png'));
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
});

/** Runs the bench script with these arguments; resolves to its exit code and output, whatever the code. */
async function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFile(
      process.execPath,
      ['--import', 'tsx', join('bench', 'run.ts'), ...args],
      {
        cwd: PROJECT_ROOT,
        timeout: 60_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

test('npm run bench -- --help lists every phase and option, and starts nothing', async () => {
  const { code, stdout } = await bench(['--help']);
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: npm run bench/);
  for (const phase of ALL_PHASES) assert.match(stdout, new RegExp(`\\b${phase}\\b`), `phase ${phase} listed`);
  for (const option of ['--phases', '--peer', '--smoke', '--instances', '--cpu-prof', '--out', '--keep']) {
    assert.ok(stdout.includes(option), `${option} listed`);
  }
  assert.deepEqual(await bench(['-h']).then((r) => [r.code, r.stdout]), [0, stdout]);
});

test('a mistake on the bench command line is one line naming it and exit code 2, not a stack trace', async () => {
  for (const [args, said] of [
    [['--bogus'], /Unknown option '--bogus'/],
    [['--phases', 'stow,nope'], /unknown phase "nope"; phases: stow, stow-batch/],
    [['--instances', 'many'], /--instances must be a positive integer, not "many"/],
    [['--instances'], /argument missing/],
    [['--peer', 'dcm4chee'], /unknown peer "dcm4chee"/],
  ] as const) {
    const { code, stdout, stderr } = await bench([...args]);
    assert.equal(code, 2, `${args.join(' ')}: exit code`);
    assert.match(stderr, said, `${args.join(' ')}: says what is wrong`);
    assert.match(stderr, /npm run bench -- --help lists the options/);
    assert.doesNotMatch(stderr, /^\s+at /m, `${args.join(' ')}: no stack trace`);
    assert.equal(stdout, '');
  }
});
