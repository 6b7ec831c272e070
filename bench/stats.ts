/** Latency statistics and the shape every phase reports. */
import type { CpuFigures } from './cpu.js';

/** A figure a phase is judged on; the ratio column and the goals use it. */
export type Metric = 'throughput' | 'megabytesPerSecond' | 'p50' | 'p95' | 'firstMs' | 'peakRssMb';

/** Metrics where more is better; for the others (latencies, memory) less is better. */
export const HIGHER_IS_BETTER: Record<Metric, boolean> = {
  throughput: true,
  megabytesPerSecond: true,
  p50: false,
  p95: false,
  firstMs: false,
  peakRssMb: false,
};

/**
 * A performance goal of issue 7: either a gateway/peer ratio (at least `ratio` for higher-is-better
 * metrics, at most `ratio` for the others), or an absolute bound on the gateway's own figure.
 */
export interface Goal {
  metric: Metric | 'vsEmptyIndex';
  ratio?: number;
  max?: number;
  min?: number;
  text: string;
}

export interface PhaseResult {
  /** Phase name as given to --phases. */
  phase: string;
  /** What was measured, e.g. "QIDO OHIF study list @ 100,000 studies"; rows of two servers share it. */
  label: string;
  target: string;
  /** Operations done (instances stored, queries answered, frames fetched...). */
  count: number;
  /** What `count` counts. */
  unit: string;
  seconds: number;
  /** Operations per second. */
  throughput: number;
  megabytesPerSecond?: number;
  /** Per-operation latencies in milliseconds (absent when the tool measures only totals). */
  p50?: number;
  p95?: number;
  p99?: number;
  /** The first (cold) request, in milliseconds. */
  firstMs?: number;
  /** Peak resident memory of the server during the phase, in MB (2^20 bytes). */
  peakRssMb?: number;
  /** CPU time per operation (server and whole machine) and how busy the cores were. */
  cpu?: CpuFigures;
  /** The figure the gateway/peer ratio is computed on. */
  primary: Metric;
  goal?: Goal;
  /** Other figures (per-query latencies, result counts, attributes per instance...). */
  details?: Record<string, unknown>;
  note?: string;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface Latencies {
  p50?: number;
  p95?: number;
  p99?: number;
}

export function latencyStats(latenciesMs: number[]): Latencies {
  if (latenciesMs.length === 0) return {};
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
}

export function summarize(
  base: Pick<PhaseResult, 'phase' | 'label' | 'target' | 'unit' | 'primary'>,
  latenciesMs: number[],
  seconds: number,
  extra: Partial<PhaseResult> = {},
): PhaseResult {
  const count = extra.count ?? latenciesMs.length;
  return {
    ...base,
    count,
    seconds,
    throughput: count / seconds,
    ...latencyStats(latenciesMs),
    ...extra,
  };
}

/** Runs `task` for items with `concurrency` workers, timing each call. */
export async function timedPool<T>(
  items: T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        const t0 = performance.now();
        await task(items[index]!, index);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

/** Runs `task(i)` for i in [0, count) with `concurrency` workers (no per-call timing). */
export async function pool(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

export const MB = 1024 * 1024;
