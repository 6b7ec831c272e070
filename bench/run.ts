/**
 * `npm run bench [-- options]`: generates a synthetic corpus with the project's own generator, starts the
 * gateway (and with --peer orthanc, Orthanc) on temporary storage, runs the phases against each in the
 * same run with the same client code, and prints and writes the results (bench/results/).
 *
 * `npm run bench -- --help` prints the options (see usage()).
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify, type ParseArgsConfig } from 'node:util';
import { chartPng, chartSvg } from './chart.js';
import { Context, DEFAULT_SIZES, SMOKE_SIZES, type Sizes } from './context.js';
import { writeInstances, type CorpusFile } from './corpus.js';
import { missingDcmtk } from './dcmtk.js';
import { storesPerSecond } from './fsync-floor.js';
import { orthancInstalled, startOrthancTarget, type OrthancMetadataMode } from './orthanc.js';
import { cmovePhase, rssPhase } from './phases/dimse.js';
import { indexWalk, type Skipped } from './phases/index-walk.js';
import {
  alternatingOrder,
  cstore,
  halfOf,
  ingestResult,
  stowBatch,
  stowSingle,
  type IngestKind,
  type IngestStretch,
} from './phases/ingest.js';
import { renderedImagesPhase } from './phases/rendered-images.js';
import { framesPhase, metadataPhase, renderedPhase, retrievePhase } from './phases/wado.js';
import { consoleSummary, markdown, type Report } from './report.js';
import type { PhaseResult } from './stats.js';
import { freePort, startGatewayTarget, type MoveConfig, type Target } from './targets.js';

/** A mistake in the command line: reported in one line with a pointer to --help, without a stack. */
class UsageError extends Error {}
/** A tool the run needs is missing: reported in one line, saying how to install it. */
class SetupError extends Error {}

const MAX_PDU = 65536;
/** Phases whose rates the disk's durable-store pace bounds. */
const INGEST_PHASES = ['stow', 'stow-batch', 'cstore', 'cstore-4', 'rss1g', 'growth'];
/** Phases whose ingest rates a warm-up keeps free of the gateway's start-up (see warmUp): rss1g measures memory. */
const MEASURED_INGEST_PHASES = INGEST_PHASES.filter((name) => name !== 'rss1g');
const execFileAsync = promisify(execFile);

type PhaseOutput = PhaseResult[] | { results: PhaseResult[]; skipped: Skipped[] };

interface PhaseBase {
  name: string;
  /** Needs dcmtk as a whole (phases needing it in part skip that part themselves). */
  dcmtk?: boolean;
}

/** An ingest phase: run by runIngest, the servers alternating over halves of the corpus. */
interface IngestPhase extends PhaseBase {
  ingest: { corpus: string; kind: IngestKind };
}

interface OtherPhase extends PhaseBase {
  run(target: Target, context: Context, selected: string[]): Promise<PhaseOutput>;
}

type Phase = IngestPhase | OtherPhase;

export const PHASES: Phase[] = [
  { name: 'stow', ingest: { corpus: 'stow', kind: stowSingle(8) } },
  { name: 'stow-batch', ingest: { corpus: 'batch', kind: stowBatch(50) } },
  { name: 'cstore', dcmtk: true, ingest: { corpus: 'cstore1', kind: cstore(1) } },
  { name: 'cstore-4', dcmtk: true, ingest: { corpus: 'cstore4', kind: cstore(4) } },
  { name: 'metadata', run: metadataPhase },
  { name: 'frames', run: framesPhase },
  { name: 'rendered', run: renderedPhase },
  { name: 'rendered-images', run: renderedImagesPhase },
  { name: 'retrieve', run: retrievePhase },
  { name: 'cmove', dcmtk: true, run: cmovePhase },
  { name: 'rss1g', run: rssPhase },
  {
    name: 'qido',
    run: (t, c, selected) => indexWalk(t, c, { qido: true, growth: selected.includes('growth') }),
  },
  {
    name: 'growth',
    // Run together with qido when both are selected (one fill of the index serves both).
    run: async (t, c, selected) =>
      selected.includes('qido') ? [] : indexWalk(t, c, { qido: false, growth: true }),
  },
];

/**
 * The command line: each option's parseArgs setting, with what --help says of it (`arg` names its value).
 * One table, so that an option cannot be accepted without being listed, or listed without being accepted.
 */
const OPTIONS = {
  phases: { type: 'string', arg: 'a,b,c', help: 'phases to run (default: all):' },
  peer: {
    type: 'string',
    arg: 'orthanc',
    help: 'run every phase against Orthanc too and print gateway/Orthanc ratios',
  },
  smoke: { type: 'boolean', help: 'tiny sizes, for CI: proves the script runs, measures nothing useful' },
  instances: {
    type: 'string',
    arg: '<n>',
    help: `instances per ingest phase (default ${DEFAULT_SIZES.instances})`,
  },
  'metadata-instances': {
    type: 'string',
    arg: '<n>',
    help: `instances of the metadata phase's series (default ${DEFAULT_SIZES.metadataInstances})`,
  },
  'qido-studies': {
    type: 'string',
    arg: '<a,b>',
    help: `index sizes (studies) of the qido phase (default ${DEFAULT_SIZES.qidoStudies.join(',')})`,
  },
  'growth-instances': {
    type: 'string',
    arg: '<n>',
    help: `index size of the last growth checkpoint (default ${DEFAULT_SIZES.growthInstances}; 1000000 works)`,
  },
  'peer-max-instances': {
    type: 'string',
    arg: '<n>',
    help: `index sizes above this are measured on the gateway only (default ${DEFAULT_SIZES.peerMaxInstances})`,
  },
  'rss-mb': {
    type: 'string',
    arg: '<n>',
    help: `megabytes ingested per door in rss1g (default ${DEFAULT_SIZES.rssMegabytes})`,
  },
  clients: {
    type: 'string',
    arg: '<n>',
    help: `concurrent clients of frames and rendered (default ${DEFAULT_SIZES.clients}, like a browser)`,
  },
  'fill-clients': {
    type: 'string',
    arg: '<n>',
    help: `concurrent STOW requests (100 instances each) filling the index (default ${DEFAULT_SIZES.fillClients})`,
  },
  'orthanc-metadata': {
    type: 'string',
    arg: '<mode>',
    help: 'DICOMweb plugin metadata mode: Extrapolate (default), Full, MainDicomTags',
  },
  'cpu-prof': {
    type: 'string',
    arg: '<dir>',
    help: 'run the gateway under node --cpu-prof, profile written to <dir> at exit',
  },
  out: { type: 'string', arg: '<dir>', help: 'where to write results (default bench/results)' },
  keep: { type: 'boolean', help: 'keep the temporary data directories (printed at the end)' },
  help: { type: 'boolean', short: 'h', help: 'print this and exit' },
} as const satisfies Record<
  string,
  { type: 'string' | 'boolean'; short?: string; arg?: string; help: string }
>;

/** What --help prints: OPTIONS, with the phase list under --phases. */
function usage(): string {
  const column = 28;
  const names = PHASES.map((p) => p.name);
  const phaseLines: string[] = [];
  for (let i = 0; i < names.length; i += 7) phaseLines.push(names.slice(i, i + 7).join(', '));
  const lines = Object.entries(OPTIONS).flatMap(([name, option]) => {
    const short = 'short' in option ? `-${option.short}, ` : '';
    const arg = 'arg' in option ? ` ${option.arg}` : '';
    const line = `  ${`${short}--${name}${arg}`.padEnd(column - 3)} ${option.help}`;
    if (name !== 'phases') return [line];
    return [line, phaseLines.map((l) => `${' '.repeat(column)}${l}`).join(',\n')];
  });
  return `Usage: npm run bench [-- options]\n\n${lines.join('\n')}\n`;
}

/**
 * Each server ingests a corpus of its own before the first ingest phase, unmeasured: half through STOW
 * (8 clients), half through C-STORE when dcmtk is there. V8 compiles and re-optimises the gateway's
 * JavaScript as it runs, and its cost per instance keeps falling for the first two thousand or so; without
 * this the ingest phases would time a gateway starting up rather than one that has been running.
 */
async function warmUp(targets: Target[], context: Context, dcmtk: boolean): Promise<void> {
  for (const target of targets) {
    process.stderr.write(`warm-up on ${target.name} (not measured)...\n`);
    const files = await writeInstances(
      join(context.workDir, `warmup-${target.name}`),
      context.sizes.warmupInstances,
    );
    const stowShare = dcmtk ? halfOf(files, 0) : files;
    await stowSingle(8).measure(target, context, stowShare);
    if (dcmtk) await cstore(1).measure(target, context, halfOf(files, 1));
  }
}

/** An ingest phase on every server, each on its own copy of the corpus, in the order alternatingOrder gives. */
async function runIngest(
  phase: string,
  ingest: { corpus: string; kind: IngestKind },
  targets: Target[],
  context: Context,
): Promise<PhaseResult[]> {
  const corpora = new Map<Target, CorpusFile[]>();
  for (const target of targets) {
    corpora.set(
      target,
      await writeInstances(join(context.workDir, `${ingest.corpus}-${target.name}`), context.sizes.instances),
    );
  }
  const stretches = new Map<Target, IngestStretch[]>(targets.map((t) => [t, []]));
  for (const { target, half } of alternatingOrder(targets, context.sizes.instances)) {
    process.stderr.write(`${phase} on ${target.name}${half < 0 ? '' : `, half ${half + 1} of 2`}...\n`);
    const stretch = await ingest.kind.measure(target, context, halfOf(corpora.get(target)!, half));
    stretches.get(target)!.push(stretch);
    process.stderr.write(`  ${stretch.seconds.toFixed(1)} s\n`);
  }
  return targets.map((target) => ingestResult(phase, ingest.kind, target.name, stretches.get(target)!));
}

function isCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replaceAll('_', ''));
  if (!Number.isInteger(n) || n <= 0) {
    throw new UsageError(`--${name} must be a positive integer, not "${value}"`);
  }
  return n;
}

function sizesFrom(values: Record<string, string | boolean | undefined>): Sizes {
  const base = values.smoke ? SMOKE_SIZES : DEFAULT_SIZES;
  const str = (k: string) => values[k] as string | undefined;
  const sizes: Sizes = {
    ...base,
    instances: positive('instances', str('instances'), base.instances),
    metadataInstances: positive('metadata-instances', str('metadata-instances'), base.metadataInstances),
    growthInstances: positive('growth-instances', str('growth-instances'), base.growthInstances),
    peerMaxInstances: positive('peer-max-instances', str('peer-max-instances'), base.peerMaxInstances),
    rssMegabytes: positive('rss-mb', str('rss-mb'), base.rssMegabytes),
    clients: positive('clients', str('clients'), base.clients),
    fillClients: positive('fill-clients', str('fill-clients'), base.fillClients),
  };
  const qido = str('qido-studies');
  if (qido) sizes.qidoStudies = qido.split(',').map((s) => positive('qido-studies', s, 0));
  return sizes;
}

async function main(): Promise<void> {
  const { values } = parseCommandLine({ options: OPTIONS });
  if (values.help) {
    process.stdout.write(usage());
    return;
  }
  const smoke = values.smoke ?? false;
  const sizes = sizesFrom(values);
  const selected = values.phases ? values.phases.split(',') : PHASES.map((p) => p.name);
  for (const name of selected) {
    if (!PHASES.some((p) => p.name === name)) {
      throw new UsageError(`unknown phase "${name}"; phases: ${PHASES.map((p) => p.name).join(', ')}`);
    }
  }
  if (values.peer && values.peer !== 'orthanc') throw new UsageError(`unknown peer "${values.peer}"`);
  if (values.peer && !orthancInstalled()) {
    throw new SetupError(
      '--peer orthanc: Orthanc is not installed (apt-get install -y orthanc orthanc-dicomweb)',
    );
  }
  const metadataMode = (values['orthanc-metadata'] ?? 'Extrapolate') as OrthancMetadataMode;
  if (!['Extrapolate', 'Full', 'MainDicomTags'].includes(metadataMode)) {
    throw new UsageError(`--orthanc-metadata must be Extrapolate, Full or MainDicomTags`);
  }
  const missing = missingDcmtk();
  const needDcmtk = selected.filter((name) =>
    ['cstore', 'cstore-4', 'cmove', 'rss1g', 'growth'].includes(name),
  );
  if (missing.length && needDcmtk.length && isCi()) {
    throw new SetupError(`dcmtk missing (${missing.join(', ')}) and CI is set: apt-get install -y dcmtk`);
  }

  const workDir = join(os.tmpdir(), `dicomweb-bench-${process.pid}`);
  const move: MoveConfig = {
    destination: { aeTitle: 'BENCHSCP', host: '127.0.0.1', port: await freePort() },
    requester: 'BENCHSCU',
  };
  const context = new Context(workDir, sizes, MAX_PDU, missing, move);
  const results: PhaseResult[] = [];
  const skipped: Skipped[] = [];
  const targets: Target[] = [];
  const startedAt = new Date();
  const loadBefore = os.loadavg()[0]!.toFixed(2);
  /** Fairness settings of each server started in this run. */
  const settings: Record<string, Record<string, string>> = {};
  const running: Target[] = [];
  const stopAll = async () => {
    for (const target of running.splice(0)) await target.stop().catch(() => undefined);
  };
  const start = async (target: Promise<Target>) => {
    const started = await target;
    running.push(started);
    targets.push(started);
    settings[started.name] = started.settings;
  };
  const removeWorkDir = async () => {
    if (values.keep) process.stderr.write(`work directory kept: ${workDir}\n`);
    else {
      process.stderr.write(`removing ${workDir}...\n`);
      // rm -rf: fs.rm takes hours over the million files of a growth run, rm(1) minutes.
      await execFileAsync('rm', ['-rf', workDir]).catch(() => rm(workDir, { recursive: true, force: true }));
    }
  };
  process.once('SIGINT', () => {
    process.stderr.write('interrupted: stopping the servers\n');
    void stopAll()
      .then(removeWorkDir)
      .finally(() => process.exit(130));
  });

  await mkdir(workDir, { recursive: true });
  // The disk's own pace for one durable store after another (bench/fsync-floor.ts), measured where the
  // servers store: a single C-STORE association can go no faster, whatever the server. Only runs that
  // ingest need it.
  const ingests = selected.some((name) => INGEST_PHASES.includes(name));
  const warmsUp = selected.some((name) => MEASURED_INGEST_PHASES.includes(name));
  const diskFloor =
    smoke || !ingests
      ? undefined
      : {
          // Its files go with the work directory at the end: deleted now, they would slow file creation.
          fileOnly: await storesPerSecond(workDir, 1, false, { keepFiles: true }),
          withDirectory: await storesPerSecond(workDir, 1, true, { keepFiles: true }),
        };
  try {
    await start(
      startGatewayTarget({
        dataDir: join(workDir, 'gateway-data'),
        httpPort: await freePort(),
        dimsePort: await freePort(),
        maxPduLength: MAX_PDU,
        move,
        cli: join(import.meta.dirname, '..', 'dist', 'cli.js'),
        cpuProfileDir: values['cpu-prof'],
      }),
    );
    if (values.peer === 'orthanc') {
      await start(
        startOrthancTarget({ workDir: join(workDir, 'orthanc'), maxPduLength: MAX_PDU, metadataMode, move }),
      );
    }
    if (warmsUp) await warmUp(targets, context, missing.length === 0);
    for (const phase of PHASES.filter((p) => selected.includes(p.name))) {
      if (phase.dcmtk && missing.length) {
        for (const target of targets) {
          skipped.push({
            phase: phase.name,
            label: phase.name,
            target: target.name,
            reason: `dcmtk missing (${missing.join(', ')}); apt-get install -y dcmtk`,
          });
        }
        continue;
      }
      if ('ingest' in phase) {
        results.push(...(await runIngest(phase.name, phase.ingest, targets, context)));
        continue;
      }
      for (const target of targets) {
        process.stderr.write(`${phase.name} on ${target.name}...\n`);
        const started = performance.now();
        const output = await phase.run(target, context, selected);
        const list = Array.isArray(output) ? output : output.results;
        if (!Array.isArray(output)) skipped.push(...output.skipped);
        results.push(...list);
        process.stderr.write(`  ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
      }
    }
  } catch (error) {
    await stopAll();
    await removeWorkDir();
    throw error;
  }
  await stopAll();
  for (const s of skipped) process.stderr.write(`skipped ${s.label} on ${s.target}: ${s.reason}\n`);

  const cpus = os.cpus();
  const orthanc = values.peer === 'orthanc';
  const report: Report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    smoke,
    phases: PHASES.map((p) => p.name).filter((name) => selected.includes(name)),
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model.trim() ?? '?',
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()}`,
      node: process.version,
      loadBefore,
      loadAfter: os.loadavg()[0]!.toFixed(2),
      ...(diskFloor && {
        diskSerialStoresPerSecond: `${diskFloor.withDirectory.toFixed(0)} (9 KB file and its directory fsynced), ${diskFloor.fileOnly.toFixed(0)} (file only)`,
      }),
    },
    sizes: { ...sizes, maxPduLength: MAX_PDU, orthancMetadata: orthanc ? metadataMode : undefined },
    settings: {
      client: {
        http: 'one client code for both servers: node:http keep-alive agent, TCP_NODELAY, no Accept-Encoding (no compression on loopback)',
        dimse: `dcmtk storescu / movescu / storescp with TCP_NODELAY=1, --max-pdu ${MAX_PDU}, proposing Explicit VR Little Endian (-xe)`,
        corpus:
          'the same synthetic instances (same UIDs and bytes) for both servers, from test/helpers/dicom-generator.ts templates',
        ...(warmsUp && {
          warmup: `before the first ingest phase each server ingests ${sizes.warmupInstances} instances of its own, not measured (half STOW with 8 clients, half C-STORE), so that the gateway's start-up (V8 compiling and re-optimising its JavaScript, which takes about two thousand instances) is not timed as ingest`,
        }),
        ...(orthanc && {
          order:
            'ingest phases: the corpus of each server in two halves, run gateway, Orthanc, Orthanc, gateway, so that the machine speeding up or slowing down weighs on both alike',
        }),
        qido: 'OHIF 3 study-list requests: limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060%2C00080090%2C00100030',
      },
      ...settings,
    },
    results,
    skipped,
    notes: context.notes,
  };
  if (orthanc) {
    report.notes.push(
      'Orthanc 1.10 / DICOMweb 1.7 does not split an includefield value whose commas are percent-encoded (%2C, as OHIF sends them): its study results lack StudyDescription and Modality, so it returns less than the gateway for the same QIDO request.',
      `Orthanc's metadata mode ${metadataMode}: ` +
        (metadataMode === 'Extrapolate'
          ? "main DICOM tags from its index plus the pixel-module tags OHIF needs, read from a few instances (the plugin version's fastest mode that still lets OHIF display a series; 'MainDicomTags' lacks Rows/Columns/SOPClassUID)."
          : metadataMode === 'Full'
            ? 'every instance file is read for each request (complete metadata, like the gateway).'
            : 'main DICOM tags only: OHIF cannot display a series from it (no Rows, Columns, SOPClassUID).'),
    );
  }
  report.notes.push(...qidoMismatches(results));
  if (sizes.growthInstances > sizes.peerMaxInstances && orthanc && selected.includes('growth')) {
    report.notes.push(
      `Growth checkpoints above ${sizes.peerMaxInstances.toLocaleString('en-US')} instances are measured on the gateway only (--peer-max-instances).`,
    );
  }

  process.stdout.write(`${consoleSummary(report)}\n`);
  const outDir = values.out ?? join(import.meta.dirname, 'results');
  await mkdir(outDir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const title = `dicomweb-gateway${orthanc ? ' vs Orthanc' : ''}, ${startedAt.toISOString().slice(0, 16)}${smoke ? ' (smoke)' : ''}`;
  const svg = chartSvg(results, title);
  const png = await chartPng(svg);
  const json = JSON.stringify(report, null, 2);
  for (const name of [`bench-${stamp}`, 'latest']) {
    await writeFile(join(outDir, `${name}.json`), `${json}\n`);
    await writeFile(join(outDir, `${name}.svg`), svg);
    await writeFile(join(outDir, `${name}.png`), png);
    await writeFile(join(outDir, `${name}.md`), markdown(report, `${name}.png`));
  }
  process.stderr.write(`results written to ${outDir}/bench-${stamp}.{json,md,png,svg} and latest.*\n`);
  // Last: after a growth run it holds a million files, which take minutes to remove.
  await removeWorkDir();
}

/** QIDO searches whose result counts differ between servers: their timings do not compare like for like. */
function qidoMismatches(results: PhaseResult[]): string[] {
  const notes: string[] = [];
  type PerKind = Record<string, { results: number }>;
  for (const r of results) {
    const perKind = r.details?.perKind as PerKind | undefined;
    if (r.target !== 'gateway' || !perKind) continue;
    const peer = results.find((p) => p.target !== 'gateway' && p.label === r.label);
    const peerKinds = peer?.details?.perKind as PerKind | undefined;
    if (!peerKinds) continue;
    for (const [kind, k] of Object.entries(perKind)) {
      const other = peerKinds[kind]?.results;
      if (other !== undefined && other !== k.results) {
        notes.push(`${r.label}, ${kind}: the gateway found ${k.results} studies, ${peer!.target} ${other}.`);
      }
    }
  }
  return notes;
}

/** parseArgs, with its complaints (an unknown option, a missing value) turned into usage errors. */
function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      throw new UsageError((error as Error).message);
    }
    throw error;
  }
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`bench: ${error.message}\n(npm run bench -- --help lists the options)`);
    process.exit(2);
  }
  console.error(error instanceof SetupError ? `bench: ${error.message}` : error);
  process.exit(1);
});
