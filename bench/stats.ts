/** Latency statistics and the shape every phase reports. */

export interface PhaseResult {
  phase: string;
  target: string;
  /** Operations done (instances stored, queries answered, frames fetched...). */
  count: number;
  seconds: number;
  /** Operations per second. */
  throughput: number;
  /** Optional second throughput figure, e.g. MB/s. */
  megabytesPerSecond?: number;
  /** Per-operation latencies in milliseconds (empty when the tool measures only totals). */
  p50?: number;
  p95?: number;
  p99?: number;
  /** Peak resident memory of the server during the phase, in bytes. */
  peakRss?: number;
  note?: string;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(
  phase: string,
  target: string,
  latenciesMs: number[],
  seconds: number,
  extra: Partial<PhaseResult> = {},
): PhaseResult {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const count = extra.count ?? latenciesMs.length;
  return {
    phase,
    target,
    count,
    seconds,
    throughput: count / seconds,
    p50: sorted.length ? percentile(sorted, 50) : undefined,
    p95: sorted.length ? percentile(sorted, 95) : undefined,
    p99: sorted.length ? percentile(sorted, 99) : undefined,
    ...extra,
  };
}

/** Runs `task` for items with `concurrency` workers, timing each call. */
export async function timedPool<T>(
  items: T[],
  concurrency: number,
  task: (item: T) => Promise<void>,
): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        const t0 = performance.now();
        await task(item);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}
