/** Ingest phases: STOW-RS (one instance per request, or batches) and C-STORE (dcmtk storescu). */
import { readFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { cpuFigures, cpuMeter, type CpuUse } from '../cpu.js';
import type { CorpusFile } from '../corpus.js';
import { split } from '../corpus.js';
import { storescu } from '../dcmtk.js';
import { stow } from '../http.js';
import { MB, summarize, timedPool, type PhaseResult } from '../stats.js';
import { peakRss, resetPeakRss, type Target } from '../targets.js';

const INGEST_GOAL = { metric: 'throughput', ratio: 1.5, text: '≥1.5x Orthanc' } as const;

/** One timed stretch of an ingest phase against one server: part of its corpus, or all of it. */
export interface IngestStretch {
  count: number;
  bytes: number;
  seconds: number;
  /** Per request; empty when the client reports none (storescu). */
  latencies: number[];
  cpu: CpuUse;
  peakRssMb: number;
}

/** An ingest phase: what it sends, and how one stretch of it is measured. */
export interface IngestKind {
  label: string;
  note: string;
  measure(target: Target, context: Context, files: CorpusFile[]): Promise<IngestStretch>;
}

/**
 * With two servers, the ingest phases run their corpus in two halves, in the order A B B A, so that a
 * machine that speeds up or slows down during the phase (this one does, by tens of percent) weighs on
 * both servers alike; one server gets its corpus in one go.
 */
export function alternatingOrder<T>(targets: T[], files: number): { target: T; half: number }[] {
  if (targets.length < 2 || files < 2) return targets.map((target) => ({ target, half: -1 }));
  return [
    ...targets.map((target) => ({ target, half: 0 })),
    ...[...targets].reverse().map((target) => ({ target, half: 1 })),
  ];
}

/** The files of `half` (0 or 1; -1 for all of them). */
export function halfOf<T>(files: T[], half: number): T[] {
  if (half < 0) return files;
  const middle = Math.ceil(files.length / 2);
  return half === 0 ? files.slice(0, middle) : files.slice(middle);
}

/** One row from the stretches of one server: their counts, times and CPU added up, the peak of peaks. */
export function ingestResult(
  phase: string,
  kind: Pick<IngestKind, 'label' | 'note'>,
  target: string,
  stretches: IngestStretch[],
): PhaseResult {
  const sum = (f: (s: IngestStretch) => number) => stretches.reduce((total, s) => total + f(s), 0);
  const count = sum((s) => s.count);
  const seconds = sum((s) => s.seconds);
  const cpu: CpuUse = {
    serverMs: sum((s) => s.cpu.serverMs),
    machineBusyMs: sum((s) => s.cpu.machineBusyMs),
    stealMs: sum((s) => s.cpu.stealMs),
    capacityMs: sum((s) => s.cpu.capacityMs),
  };
  return summarize(
    { phase, label: kind.label, target, unit: 'instances', primary: 'throughput' },
    stretches.flatMap((s) => s.latencies),
    seconds,
    {
      count,
      peakRssMb: Math.max(...stretches.map((s) => s.peakRssMb)),
      cpu: cpuFigures(cpu, count),
      megabytesPerSecond: sum((s) => s.bytes) / MB / seconds,
      goal: INGEST_GOAL,
      note: stretches.length > 1 ? `${kind.note}; in two halves, the servers alternating` : kind.note,
    },
  );
}

/** Times `send` against `target`, with its CPU use and peak RSS. */
async function stretch(
  target: Target,
  context: Context,
  files: CorpusFile[],
  send: () => Promise<{ seconds: number; latencies: number[] }>,
): Promise<IngestStretch> {
  resetPeakRss(target.pid);
  const cpu = cpuMeter(target.pid);
  const { seconds, latencies } = await send();
  const cpuUse = cpu();
  context.stored(target, files.length, new Set(files.map((f) => f.studyInstanceUID)).size);
  return {
    count: files.length,
    bytes: files.reduce((sum, f) => sum + f.bytes, 0),
    seconds,
    latencies,
    cpu: cpuUse,
    peakRssMb: peakRss(target.pid) / MB,
  };
}

/** STOW-RS, one instance per request, from `clients` concurrent clients. */
export function stowSingle(clients: number): IngestKind {
  return {
    label: `STOW 1 instance/request, ${clients} clients`,
    note: 'latency per request',
    async measure(target, context, files) {
      const bodies = await Promise.all(files.map((f) => readFile(f.path)));
      return stretch(target, context, files, () =>
        timedPool(bodies, clients, (bytes) => stow(target.dicomweb, [bytes])),
      );
    },
  };
}

/** STOW-RS, `perRequest` instances per request, one client. */
export function stowBatch(perRequest: number): IngestKind {
  return {
    label: `STOW ${perRequest} instances/request, 1 client`,
    note: `latency per request of ${perRequest}`,
    async measure(target, context, files) {
      const bodies = await Promise.all(files.map((f) => readFile(f.path)));
      const batches = split(bodies, Math.ceil(bodies.length / perRequest));
      return stretch(target, context, files, () =>
        timedPool(batches, 1, (batch) => stow(target.dicomweb, batch)),
      );
    },
  };
}

/**
 * C-STORE with dcmtk storescu over `associations` parallel associations, each sending its share of the
 * files in one association.
 */
export function cstore(associations: number): IngestKind {
  return {
    label: `C-STORE, ${associations} association${associations > 1 ? 's' : ''}`,
    note: 'storescu reports no per-instance times',
    measure: (target, context, files) =>
      stretch(target, context, files, async () => ({
        seconds: await storescu(
          target,
          files.map((f) => f.path),
          associations,
          context.workDir,
          context.maxPduLength,
        ),
        latencies: [],
      })),
  };
}
