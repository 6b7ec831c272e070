/**
 * `npm run bench [-- options]`: generates a corpus with the project's own generator, starts the gateway
 * (and with --peer orthanc, Orthanc) on temporary storage, runs the phases against each in the same run,
 * and prints and writes the results (bench/results/).
 *
 * Options:
 *   --phases a,b,c      phases to run (default: all); see PHASES below
 *   --instances <n>     small instances per ingest phase (default 1000)
 *   --smoke             tiny sizes, for CI: proves the script runs, measures nothing useful
 *   --peer orthanc      run every phase against Orthanc too and print gateway/Orthanc ratios
 *   --out <dir>         where to write results (default bench/results)
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeInstances } from './corpus.js';
import { cstore, stowBatch, stowSingle } from './phases/ingest.js';
import type { PhaseResult } from './stats.js';
import { startGatewayTarget, type Target } from './targets.js';
import { formatTable } from './report.js';

const MAX_PDU = 65536;

interface Context {
  workDir: string;
  instances: number;
}

interface Phase {
  name: string;
  run(target: Target, context: Context): Promise<PhaseResult>;
}

const PHASES: Phase[] = [
  {
    name: 'stow',
    run: async (target, c) =>
      stowSingle(target, await writeInstances(join(c.workDir, `stow-${target.name}`), c.instances), 8),
  },
  {
    name: 'stow-batch',
    run: async (target, c) =>
      stowBatch(target, await writeInstances(join(c.workDir, `batch-${target.name}`), c.instances), 50),
  },
  {
    name: 'cstore',
    run: async (target, c) =>
      cstore(
        target,
        await writeInstances(join(c.workDir, `cstore1-${target.name}`), c.instances),
        1,
        c.workDir,
        MAX_PDU,
      ),
  },
  {
    name: 'cstore-4',
    run: async (target, c) =>
      cstore(
        target,
        await writeInstances(join(c.workDir, `cstore4-${target.name}`), c.instances),
        4,
        c.workDir,
        MAX_PDU,
      ),
  },
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      phases: { type: 'string' },
      instances: { type: 'string' },
      smoke: { type: 'boolean' },
      peer: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const smoke = values.smoke ?? false;
  const context: Context = {
    workDir: join(tmpdir(), `dicomweb-bench-${process.pid}`),
    instances: Number(values.instances ?? (smoke ? 20 : 1000)),
  };
  const selected = values.phases ? values.phases.split(',') : PHASES.map((p) => p.name);
  for (const name of selected) {
    if (!PHASES.some((p) => p.name === name))
      throw new Error(`unknown phase "${name}"; phases: ${PHASES.map((p) => p.name).join(', ')}`);
  }
  if (values.peer && values.peer !== 'orthanc') throw new Error(`unknown peer "${values.peer}"`);

  await mkdir(context.workDir, { recursive: true });
  const results: PhaseResult[] = [];
  const targets: Target[] = [];
  try {
    targets.push(
      await startGatewayTarget({
        dataDir: join(context.workDir, 'gateway-data'),
        httpPort: 18480,
        dimsePort: 18412,
        maxPduLength: MAX_PDU,
        cli: join(import.meta.dirname, '..', 'dist', 'cli.js'),
      }),
    );
    if (values.peer === 'orthanc') {
      const { startOrthancTarget } = await import('./orthanc.js');
      targets.push(
        await startOrthancTarget({ workDir: join(context.workDir, 'orthanc'), maxPduLength: MAX_PDU }),
      );
    }
    for (const phase of PHASES.filter((p) => selected.includes(p.name))) {
      for (const target of targets) {
        process.stderr.write(`${phase.name} on ${target.name}...\n`);
        results.push(await phase.run(target, context));
      }
    }
  } finally {
    for (const target of targets) await target.stop().catch(() => undefined);
    await rm(context.workDir, { recursive: true, force: true });
  }

  const table = formatTable(results, targets);
  process.stdout.write(`${table}\n`);
  const outDir = values.out ?? join(import.meta.dirname, 'results');
  await mkdir(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const settings = Object.fromEntries(targets.map((t) => [t.name, t.settings]));
  await writeFile(
    join(outDir, `bench-${stamp}.json`),
    JSON.stringify({ settings, context: { ...context, smoke }, results }, null, 2),
  );
  await writeFile(join(outDir, `bench-${stamp}.md`), `${table}\n`);
  process.stderr.write(`results written to ${outDir}/bench-${stamp}.{json,md}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
