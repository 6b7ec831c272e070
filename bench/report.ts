/** The results table: one row per phase and target, with the gateway/peer ratio when a peer ran. */
import type { PhaseResult } from './stats.js';
import type { Target } from './targets.js';

const fmt = (n: number | undefined, digits = 1) =>
  n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits);
const mb = (bytes: number | undefined) =>
  bytes === undefined || Number.isNaN(bytes) ? '-' : (bytes / 1048576).toFixed(0);

export function formatTable(results: PhaseResult[], targets: Target[]): string {
  const lines = [
    '| phase | server | count | throughput/s | MB/s | p50 ms | p95 ms | p99 ms | peak RSS MB | gateway/peer |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    let ratio = '';
    if (r.target === 'gateway') {
      const peer = results.find((p) => p.phase === r.phase && p.target !== 'gateway');
      if (peer) ratio = `${(r.throughput / peer.throughput).toFixed(2)}x throughput`;
      if (peer?.p50 !== undefined && r.p50 !== undefined) ratio += `, ${(r.p50 / peer.p50).toFixed(2)}x p50`;
    }
    lines.push(
      `| ${r.phase} | ${r.target} | ${r.count} | ${fmt(r.throughput)} | ${fmt(r.megabytesPerSecond)} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.p99)} | ${mb(r.peakRss)} | ${ratio} |`,
    );
  }
  const settings = targets.map(
    (t) =>
      `- ${t.name}: ${Object.entries(t.settings)
        .map(([k, v]) => `${k}=${v}`)
        .join('; ')}`,
  );
  return [...lines, '', 'Settings:', ...settings].join('\n');
}
