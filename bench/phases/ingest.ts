/** Ingest phases: STOW-RS (one instance per request, or batches) and C-STORE (dcmtk storescu). */
import { readFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { cpuFigures, cpuMeter } from '../cpu.js';
import type { CorpusFile } from '../corpus.js';
import { split } from '../corpus.js';
import { storescu } from '../dcmtk.js';
import { stow } from '../http.js';
import { MB, summarize, timedPool, type PhaseResult } from '../stats.js';
import { peakRss, resetPeakRss, type Target } from '../targets.js';

const INGEST_GOAL = { metric: 'throughput', ratio: 1.5, text: '≥1.5x Orthanc' } as const;

/** STOW-RS, one instance per request, from `clients` concurrent clients. */
export async function stowSingle(
  phase: string,
  target: Target,
  context: Context,
  files: CorpusFile[],
  clients: number,
): Promise<PhaseResult> {
  const bodies = await Promise.all(files.map((f) => readFile(f.path)));
  resetPeakRss(target.pid);
  const cpu = cpuMeter(target.pid);
  const { latencies, seconds } = await timedPool(bodies, clients, (bytes) => stow(target.dicomweb, [bytes]));
  const cpuUse = cpu();
  context.stored(target, files.length, new Set(files.map((f) => f.studyInstanceUID)).size);
  return summarize(
    {
      phase,
      label: `STOW 1 instance/request, ${clients} clients`,
      target: target.name,
      unit: 'instances',
      primary: 'throughput',
    },
    latencies,
    seconds,
    {
      peakRssMb: peakRss(target.pid) / MB,
      cpu: cpuFigures(cpuUse, files.length),
      megabytesPerSecond: bodies.reduce((sum, b) => sum + b.length, 0) / MB / seconds,
      goal: INGEST_GOAL,
      note: 'latency per request',
    },
  );
}

/** STOW-RS, `perRequest` instances per request, one client. */
export async function stowBatch(
  phase: string,
  target: Target,
  context: Context,
  files: CorpusFile[],
  perRequest: number,
): Promise<PhaseResult> {
  const bodies = await Promise.all(files.map((f) => readFile(f.path)));
  const batches = split(bodies, Math.ceil(bodies.length / perRequest));
  resetPeakRss(target.pid);
  const cpu = cpuMeter(target.pid);
  const { latencies, seconds } = await timedPool(batches, 1, (batch) => stow(target.dicomweb, batch));
  const cpuUse = cpu();
  context.stored(target, files.length, new Set(files.map((f) => f.studyInstanceUID)).size);
  return summarize(
    {
      phase,
      label: `STOW ${perRequest} instances/request, 1 client`,
      target: target.name,
      unit: 'instances',
      primary: 'throughput',
    },
    latencies,
    seconds,
    {
      count: bodies.length,
      peakRssMb: peakRss(target.pid) / MB,
      cpu: cpuFigures(cpuUse, files.length),
      megabytesPerSecond: bodies.reduce((sum, b) => sum + b.length, 0) / MB / seconds,
      goal: INGEST_GOAL,
      note: `latency per request of ${perRequest}`,
    },
  );
}

/**
 * C-STORE with dcmtk storescu over `associations` parallel associations, each sending its share of the
 * files in one association.
 */
export async function cstore(
  phase: string,
  target: Target,
  context: Context,
  files: CorpusFile[],
  associations: number,
): Promise<PhaseResult> {
  resetPeakRss(target.pid);
  const cpu = cpuMeter(target.pid);
  const seconds = await storescu(
    target,
    files.map((f) => f.path),
    associations,
    context.workDir,
    context.maxPduLength,
  );
  const cpuUse = cpu();
  context.stored(target, files.length, new Set(files.map((f) => f.studyInstanceUID)).size);
  return summarize(
    {
      phase,
      label: `C-STORE, ${associations} association${associations > 1 ? 's' : ''}`,
      target: target.name,
      unit: 'instances',
      primary: 'throughput',
    },
    [],
    seconds,
    {
      count: files.length,
      peakRssMb: peakRss(target.pid) / MB,
      cpu: cpuFigures(cpuUse, files.length),
      megabytesPerSecond: files.reduce((sum, f) => sum + f.bytes, 0) / MB / seconds,
      goal: INGEST_GOAL,
      note: 'storescu reports no per-instance times',
    },
  );
}
