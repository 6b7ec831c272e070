/**
 * Results as Markdown: the side-by-side table (gateway, Orthanc, ratio, goal), every figure, QIDO per
 * query kind, the growth curve, skipped measurements and every fairness setting.
 */
import type { Skipped } from './phases/index-walk.js';
import { HIGHER_IS_BETTER, type Goal, type Metric, type PhaseResult } from './stats.js';

export interface Report {
  startedAt: string;
  finishedAt: string;
  command: string;
  smoke: boolean;
  /** The phases that ran (each has results, or skipped entries saying why). */
  phases: string[];
  machine: Record<string, string | number>;
  sizes: Record<string, unknown>;
  /** Settings that matter for fairness: the client's, then each server's. */
  settings: Record<string, Record<string, string>>;
  results: PhaseResult[];
  skipped: Skipped[];
  notes: string[];
}

const num = (n: number | undefined, digits = 1): string =>
  n === undefined || !Number.isFinite(n)
    ? '-'
    : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function metricValue(r: PhaseResult, metric: Metric | 'vsEmptyIndex'): number | undefined {
  if (metric === 'vsEmptyIndex') return r.details?.vsEmptyIndex as number | undefined;
  return r[metric];
}

export function formatMetric(r: PhaseResult, metric: Metric = r.primary): string {
  const v = metricValue(r, metric);
  switch (metric) {
    case 'throughput':
      return `${num(v, v !== undefined && v < 100 ? 1 : 0)} ${r.unit}/s`;
    case 'megabytesPerSecond':
      return `${num(v)} MB/s`;
    case 'p50':
    case 'p95':
      return `${metric} ${num(v)} ms`;
    case 'firstMs':
      return `${num(v)} ms`;
    case 'peakRssMb':
      return `${num(v, 0)} MB`;
  }
}

/** "gateway/peer" of the primary metric, and whether that favours the gateway. */
export function ratio(r: PhaseResult, peer: PhaseResult | undefined): number | undefined {
  if (!peer) return undefined;
  const a = metricValue(r, r.primary);
  const b = metricValue(peer, r.primary);
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}

/** Whether the gateway's row meets its goal: true, false, or undefined when it cannot be judged. */
export function goalMet(r: PhaseResult, peer: PhaseResult | undefined): boolean | undefined {
  const goal: Goal | undefined = r.goal;
  if (!goal) return undefined;
  if (goal.ratio !== undefined) {
    if (!peer || goal.metric === 'vsEmptyIndex') return undefined;
    const a = metricValue(r, goal.metric);
    const b = metricValue(peer, goal.metric);
    if (a === undefined || b === undefined || b <= 0) return undefined;
    return HIGHER_IS_BETTER[goal.metric] ? a / b >= goal.ratio : a / b <= goal.ratio;
  }
  const v = metricValue(r, goal.metric);
  if (v === undefined) return undefined;
  if (goal.max !== undefined && !(v < goal.max)) return false;
  if (goal.min !== undefined && !(v >= goal.min)) return false;
  return true;
}

function goalCell(r: PhaseResult, peer: PhaseResult | undefined): string {
  if (!r.goal) return '';
  const met = goalMet(r, peer);
  return `${r.goal.text} ${met === undefined ? '(n/a)' : met ? '**met**' : '**not met**'}`;
}

/** Rows of the gateway, each with the peer's row of the same measurement. */
export function pairs(results: PhaseResult[]): { gateway: PhaseResult; peer?: PhaseResult }[] {
  return results
    .filter((r) => r.target === 'gateway')
    .map((gateway) => ({
      gateway,
      peer: results.find((p) => p.target !== 'gateway' && p.label === gateway.label),
    }));
}

export function comparisonTable(results: PhaseResult[], withPeer: boolean): string {
  const lines = withPeer
    ? [
        '| phase | measurement | gateway | Orthanc | gateway/Orthanc | goal (issue 7) |',
        '|---|---|---:|---:|---:|---|',
      ]
    : ['| phase | measurement | gateway | goal (issue 7) |', '|---|---|---:|---|'];
  for (const { gateway, peer } of pairs(results)) {
    const cells = [gateway.phase, gateway.label, formatMetric(gateway)];
    if (withPeer) {
      const q = ratio(gateway, peer);
      const better =
        q === undefined ? '' : (HIGHER_IS_BETTER[gateway.primary] ? q >= 1 : q <= 1) ? ' ✓' : ' ✗';
      cells.push(peer ? formatMetric(peer) : '-', q === undefined ? '-' : `${num(q, 2)}x${better}`);
    }
    cells.push(goalCell(gateway, peer));
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export function figuresTable(results: PhaseResult[]): string {
  const lines = [
    '| measurement | server | count | per s | MB/s | first ms | p50 ms | p95 ms | p99 ms | peak RSS MB |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.label} | ${r.target} | ${r.count} ${r.unit} | ${num(r.throughput)} | ${num(r.megabytesPerSecond)} | ${num(r.firstMs)} | ${num(r.p50)} | ${num(r.p95)} | ${num(r.p99)} | ${num(r.peakRssMb, 0)} |`,
    );
  }
  return lines.join('\n');
}

type PerKind = Record<string, { p50?: number; p95?: number; results: number }>;

export function qidoTable(results: PhaseResult[]): string {
  const rows = results.filter((r) => r.phase === 'qido' && r.details?.perKind);
  if (rows.length === 0) return '';
  const lines = ['| index | query | server | results | p50 ms | p95 ms |', '|---|---|---|---:|---:|---:|'];
  for (const r of rows) {
    for (const [kind, k] of Object.entries(r.details!.perKind as PerKind)) {
      lines.push(
        `| ${Number(r.details!.indexStudies).toLocaleString('en-US')} studies | ${kind} | ${r.target} | ${k.results} | ${num(k.p50)} | ${num(k.p95)} |`,
      );
    }
  }
  return lines.join('\n');
}

export function growthTable(results: PhaseResult[]): string {
  const rows = results.filter((r) => r.phase === 'growth');
  if (rows.length === 0) return '';
  const points = new Map<string, { at: number; target: string; row: Record<string, PhaseResult> }>();
  for (const r of rows) {
    const at = Number(r.details?.indexInstances);
    const key = `${r.target}@${at}`;
    const kind = r.label.includes('STOW') ? 'stow' : r.label.includes('C-STORE') ? 'cstore' : 'qido';
    const point = points.get(key) ?? { at, target: r.target, row: {} };
    point.row[kind] = r;
    points.set(key, point);
  }
  const lines = [
    '| index instances | server | STOW/s | vs first | C-STORE/s | vs first | QIDO p50 ms | QIDO p95 ms | index MB | WAL MB |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const p of [...points.values()].sort((a, b) => a.target.localeCompare(b.target) || a.at - b.at)) {
    const vs = (r?: PhaseResult) => num(r?.details?.vsEmptyIndex as number | undefined, 2);
    lines.push(
      `| ${p.at.toLocaleString('en-US')} | ${p.target} | ${num(p.row.stow?.throughput, 0)} | ${vs(p.row.stow)} | ${num(p.row.cstore?.throughput, 0)} | ${vs(p.row.cstore)} | ${num(p.row.qido?.p50)} | ${num(p.row.qido?.p95)} | ${num(p.row.qido?.details?.dbMb as number | undefined, 0)} | ${num(p.row.qido?.details?.walMb as number | undefined, 0)} |`,
    );
  }
  return lines.join('\n');
}

function settingsList(settings: Report['settings']): string {
  return Object.entries(settings)
    .map(
      ([who, s]) =>
        `- **${who}**\n${Object.entries(s)
          .map(([k, v]) => `  - ${k}: ${v}`)
          .join('\n')}`,
    )
    .join('\n');
}

export function markdown(report: Report, chartFile?: string): string {
  const withPeer = report.results.some((r) => r.target !== 'gateway');
  const m = report.machine;
  const parts = [
    `# dicomweb-gateway benchmark${withPeer ? ' vs Orthanc' : ''}`,
    '',
    `${report.startedAt} to ${report.finishedAt}. Command: \`${report.command}\`.` +
      (report.smoke ? ' **Smoke run: tiny sizes, the figures mean nothing.**' : ''),
    '',
    `Machine: ${m.cpus} x ${m.cpuModel}, ${m.memoryGb} GB RAM, ${m.os}; load average ${m.loadBefore} before, ${m.loadAfter} after.` +
      (m.diskSerialStoresPerSecond
        ? ` Disk alone, one durable store after another: ${m.diskSerialStoresPerSecond} files/s.`
        : ''),
    '',
    `Ratios are gateway/Orthanc of the figure shown; ✓ marks where the gateway is ahead. Both servers ran in the same run, on the same machine, with the same corpus and client code.`,
    '',
    comparisonTable(report.results, withPeer),
  ];
  if (chartFile) parts.push('', `![gateway vs Orthanc](${chartFile})`);
  const qido = qidoTable(report.results);
  if (qido) parts.push('', '## QIDO per query', '', qido);
  const growth = growthTable(report.results);
  if (growth) parts.push('', '## Index growth', '', growth);
  const cpu = cpuTable(report.results);
  if (cpu) {
    parts.push(
      '',
      '## CPU per operation',
      '',
      'Server: the server process, all threads. Machine: every core, clients and kernel included. Cores busy: share of all cores in use during the measurement; steal: share taken by other guests of the host.',
      '',
      cpu,
    );
  }
  parts.push('', '## All figures', '', figuresTable(report.results));
  if (report.skipped.length) {
    parts.push(
      '',
      '## Skipped',
      '',
      ...report.skipped.map((s) => `- ${s.phase} / ${s.label} on ${s.target}: ${s.reason}`),
    );
  }
  parts.push('', '## Settings (fairness)', '', settingsList(report.settings));
  if (report.notes.length) parts.push('', '## Notes', '', ...report.notes.map((n) => `- ${n}`));
  parts.push('', '## Sizes', '', '```json', JSON.stringify(report.sizes, null, 2), '```');
  return `${parts.join('\n')}\n`;
}

/** CPU per operation of the phases that measure it: what each server spends, and what the machine had. */
export function cpuTable(results: PhaseResult[]): string {
  const rows = results.filter((r) => r.cpu);
  if (rows.length === 0) return '';
  const lines = [
    '| measurement | server | per s | server CPU ms/op | machine CPU ms/op | cores busy % | steal % |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const c = r.cpu!;
    lines.push(
      `| ${r.label} | ${r.target} | ${num(r.throughput, 0)} | ${num(c.serverCpuMsPerOp, 2)} | ${num(c.machineCpuMsPerOp, 2)} | ${num(c.machineBusyPercent, 0)} | ${num(c.stealPercent, 0)} |`,
    );
  }
  return lines.join('\n');
}

/** The console summary: the comparison table, skipped measurements, settings. */
export function consoleSummary(report: Report): string {
  const withPeer = report.results.some((r) => r.target !== 'gateway');
  const lines = [comparisonTable(report.results, withPeer)];
  if (report.machine.diskSerialStoresPerSecond) {
    lines.push('', `Disk alone, serial durable stores/s: ${report.machine.diskSerialStoresPerSecond}`);
  }
  const cpu = cpuTable(report.results);
  if (cpu) lines.push('', cpu);
  const qido = qidoTable(report.results);
  if (qido) lines.push('', qido);
  const growth = growthTable(report.results);
  if (growth) lines.push('', growth);
  if (report.skipped.length) {
    lines.push('', 'Skipped:', ...report.skipped.map((s) => `- ${s.label} on ${s.target}: ${s.reason}`));
  }
  lines.push('', 'Settings:', settingsList(report.settings));
  if (report.notes.length) lines.push('', 'Notes:', ...report.notes.map((n) => `- ${n}`));
  return lines.join('\n');
}
