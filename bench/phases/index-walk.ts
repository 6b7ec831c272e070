/**
 * The phases that need a large index, `qido` and `growth`, walk the index up together: it is filled (tiny
 * one-instance studies through STOW) to each size either phase asks for, in increasing order, and the
 * measurements of that size run there. One fill serves both; a million instances are stored once.
 *
 * - qido: the OHIF study-list mix at each --qido-studies size.
 * - growth: at each checkpoint (the index as the walk finds it, then 10k, 100k, 1M... up to
 *   --growth-instances), the ingest rate through both doors (STOW one instance per request from 8
 *   clients; C-STORE over one association) and the QIDO mix's p95; ingest rates are compared with the
 *   first checkpoint's.
 */
import { join } from 'node:path';
import type { Context } from '../context.js';
import { storescu } from '../dcmtk.js';
import { stow } from '../http.js';
import { latencyStats, MB, summarize, timedPool, type PhaseResult } from '../stats.js';
import { indexFileSizes, peakRss, resetPeakRss, type Target } from '../targets.js';
import { measureQidoMix, qidoAtSize } from './qido.js';

export interface Skipped {
  phase: string;
  label: string;
  target: string;
  reason: string;
}

type Stop = { kind: 'qido'; studies: number } | { kind: 'growth'; instances: number; first: boolean };

const fmt = (n: number) => n.toLocaleString('en-US');

export function growthCheckpoints(start: number, last: number): number[] {
  const points = [start];
  for (let n = 10_000; n < last; n *= 10) if (n > start) points.push(n);
  if (last > start) points.push(last);
  return points;
}

export async function indexWalk(
  target: Target,
  context: Context,
  phases: { qido: boolean; growth: boolean },
): Promise<{ results: PhaseResult[]; skipped: Skipped[] }> {
  const { sizes } = context;
  const inventory = context.inventory(target);
  const results: PhaseResult[] = [];
  const skipped: Skipped[] = [];
  const cap = target.name === 'gateway' ? Infinity : sizes.peerMaxInstances;

  const stops: Stop[] = [];
  if (phases.qido) for (const studies of sizes.qidoStudies) stops.push({ kind: 'qido', studies });
  if (phases.growth) {
    growthCheckpoints(inventory.instances, sizes.growthInstances).forEach((instances, i) =>
      stops.push({ kind: 'growth', instances, first: i === 0 }),
    );
  }
  // Filler studies hold one instance each, so "studies" and "instances" grow together.
  const need = (s: Stop) =>
    s.kind === 'growth' ? s.instances : inventory.instances + Math.max(0, s.studies - inventory.studies);
  stops.sort((a, b) => need(a) - need(b));

  let baseline: { stow: number; cstore?: number; at: number } | undefined;
  for (const stop of stops) {
    // The cap applies to the nominal size asked for (studies for qido, instances for growth).
    if ((stop.kind === 'qido' ? stop.studies : stop.instances) > cap) {
      const label =
        stop.kind === 'qido' ? qidoLabel(stop.studies) : `growth @ ${fmt(stop.instances)} instances`;
      skipped.push({
        phase: stop.kind,
        label,
        target: target.name,
        reason: `above --peer-max-instances ${fmt(cap)}: this size is measured on the gateway only`,
      });
      continue;
    }
    if (stop.kind === 'qido') {
      await context.fill(target, { studies: stop.studies });
      process.stderr.write(`  qido on ${target.name} @ ${fmt(inventory.studies)} studies\n`);
      const result = await qidoAtSize(target, stop.studies, sizes.qidoRepeats, qidoLabel(stop.studies));
      result.details = {
        ...result.details,
        indexStudies: inventory.studies,
        indexInstances: inventory.instances,
      };
      results.push(result);
      continue;
    }
    await context.fill(target, { instances: stop.instances });
    const at = inventory.instances;
    process.stderr.write(`  growth on ${target.name} @ ${fmt(at)} instances\n`);
    const label = stop.first ? `start (${fmt(at)})` : fmt(stop.instances);
    const point = await growthPoint(target, context, label, at);
    baseline ??= { stow: point.stow.throughput, cstore: point.cstore?.throughput, at };
    for (const row of [point.stow, point.cstore]) {
      if (!row) continue;
      const base = row === point.stow ? baseline.stow : baseline.cstore;
      row.details = { ...row.details, vsEmptyIndex: base ? row.throughput / base : undefined };
      if (!stop.first) {
        row.goal = {
          metric: 'vsEmptyIndex',
          min: 0.5,
          text: `≥0.5x the rate at ${fmt(baseline.at)} instances`,
        };
      }
      results.push(row);
    }
    if (point.cstoreSkipped) skipped.push({ ...point.cstoreSkipped, target: target.name });
    results.push(point.qido);
  }
  return { results, skipped };
}

export function qidoLabel(studies: number): string {
  return `QIDO OHIF study-list mix @ ${fmt(studies)} studies`;
}

async function growthPoint(
  target: Target,
  context: Context,
  label: string,
  indexInstances: number,
): Promise<{
  stow: PhaseResult;
  cstore?: PhaseResult;
  qido: PhaseResult;
  cstoreSkipped?: Omit<Skipped, 'target'>;
}> {
  const { sizes } = context;
  const inventory = context.inventory(target);
  const sample = sizes.growthSample;
  const take = (n: number) => {
    const first = inventory.filler;
    inventory.filler += n;
    return Array.from({ length: n }, (_, i) => context.tiny.instance(first + i).bytes);
  };

  // STOW, one instance per request, 8 clients.
  const stowParts = take(sample);
  resetPeakRss(target.pid);
  const stowRun = await timedPool(stowParts, 8, (bytes) => stow(target.dicomweb, [bytes]));
  context.stored(target, sample, sample);
  const stowResult: PhaseResult = {
    phase: 'growth',
    label: `growth: STOW 1/request, 8 clients @ ${label} instances`,
    target: target.name,
    unit: 'instances',
    count: sample,
    seconds: stowRun.seconds,
    throughput: sample / stowRun.seconds,
    ...latencyStats(stowRun.latencies),
    peakRssMb: peakRss(target.pid) / MB,
    primary: 'throughput',
    details: { indexInstances },
  };

  // C-STORE, one association.
  let cstoreResult: PhaseResult | undefined;
  let cstoreSkipped: Omit<Skipped, 'target'> | undefined;
  const cstoreLabel = `growth: C-STORE 1 association @ ${label} instances`;
  if (context.missingDcmtk.length === 0) {
    const parts = take(sample);
    const dir = join(context.workDir, `growth-${target.name}-${indexInstances}`);
    const paths = await context.writeFiles(dir, sample, (i) => parts[i]!);
    resetPeakRss(target.pid);
    const seconds = await storescu(target, paths, 1, context.workDir, context.maxPduLength);
    context.stored(target, sample, sample);
    // The files stay for the work directory's removal (see storesPerSecond's keepFiles).
    cstoreResult = {
      phase: 'growth',
      label: cstoreLabel,
      target: target.name,
      unit: 'instances',
      count: sample,
      seconds,
      throughput: sample / seconds,
      peakRssMb: peakRss(target.pid) / MB,
      primary: 'throughput',
      details: { indexInstances },
    };
  } else {
    cstoreSkipped = {
      phase: 'growth',
      label: cstoreLabel,
      reason: `dcmtk missing (${context.missingDcmtk.join(', ')})`,
    };
  }

  // The index files after this checkpoint's ingest (a write-ahead log that only grows shows here).
  const files = indexFileSizes(target);
  for (const row of [stowResult, cstoreResult]) if (row) row.details = { ...row.details, ...files };

  // The QIDO mix.
  resetPeakRss(target.pid);
  const mix = await measureQidoMix(target, Math.max(3, Math.ceil(sizes.qidoRepeats / 2)));
  const qido = summarize(
    {
      phase: 'growth',
      label: `growth: QIDO OHIF mix @ ${label} instances`,
      target: target.name,
      unit: 'queries',
      primary: 'p95',
    },
    mix.latencies,
    mix.seconds,
    {
      peakRssMb: peakRss(target.pid) / MB,
      goal: { metric: 'p95', max: 50, text: 'p95 < 50 ms (issue: at 1M instances)' },
      details: { indexInstances, ...files, perKind: mix.perKind },
    },
  );
  return { stow: stowResult, cstore: cstoreResult, qido, cstoreSkipped };
}
