/**
 * A bar chart of the results as SVG, rendered to PNG with sharp. With a peer: one bar per measurement,
 * the gateway's advantage over Orthanc (higher-is-better figures gateway/Orthanc, latencies and memory
 * Orthanc/gateway) on a log scale centred on 1x, with the issue's goal marked. Without a peer: the
 * gateway's own figure per measurement, scaled within each kind of figure.
 */
import sharp from 'sharp';
import { formatMetric, goalMet, pairs, ratio } from './report.js';
import { HIGHER_IS_BETTER, type PhaseResult } from './stats.js';

const escape = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

const ROW = 26;
const LABEL_WIDTH = 560;
const PLOT_WIDTH = 520;
const RIGHT = 270;
const TOP = 56;
const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

export function chartSvg(results: PhaseResult[], title: string): string {
  const rows = pairs(results);
  const withPeer = rows.some((r) => r.peer);
  const height = TOP + rows.length * ROW + 40;
  const width = LABEL_WIDTH + PLOT_WIDTH + RIGHT;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${FONT}" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="12" y="22" font-size="16" font-weight="bold">${escape(title)}</text>`,
  ];
  if (withPeer) {
    // log2 axis from 1/16x to 64x
    const lo = -4;
    const hi = 6;
    const x = (q: number) =>
      LABEL_WIDTH + ((Math.min(hi, Math.max(lo, Math.log2(q))) - lo) / (hi - lo)) * PLOT_WIDTH;
    out.push(
      `<text x="12" y="42" fill="#555">gateway advantage over Orthanc (log scale; right of 1x = gateway better; | = goal)</text>`,
    );
    for (let e = lo; e <= hi; e++) {
      const gx = x(2 ** e);
      out.push(
        `<line x1="${gx}" y1="${TOP - 4}" x2="${gx}" y2="${height - 30}" stroke="${e === 0 ? '#000' : '#ddd'}"/>`,
        `<text x="${gx}" y="${height - 14}" text-anchor="middle" fill="#555">${e >= 0 ? 2 ** e : `1/${2 ** -e}`}x</text>`,
      );
    }
    rows.forEach(({ gateway, peer }, i) => {
      const y = TOP + i * ROW;
      out.push(
        `<text x="${LABEL_WIDTH - 8}" y="${y + 16}" text-anchor="end">${escape(gateway.label)}</text>`,
      );
      const q = ratio(gateway, peer);
      if (q === undefined) {
        out.push(
          `<text x="${x(1) + 6}" y="${y + 16}" fill="#888">gateway only: ${escape(formatMetric(gateway))}</text>`,
        );
        return;
      }
      const advantage = HIGHER_IS_BETTER[gateway.primary] ? q : 1 / q;
      const x0 = x(1);
      const x1 = x(advantage);
      const met = goalMet(gateway, peer);
      const colour = advantage >= 1 ? '#2e7d32' : '#c62828';
      out.push(
        `<rect x="${Math.min(x0, x1)}" y="${y + 4}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${ROW - 8}" fill="${colour}" opacity="0.8"/>`,
      );
      const goal = gateway.goal;
      if (goal?.ratio !== undefined && goal.metric === gateway.primary) {
        const target = HIGHER_IS_BETTER[gateway.primary] ? goal.ratio : 1 / goal.ratio;
        out.push(
          `<line x1="${x(target)}" y1="${y + 1}" x2="${x(target)}" y2="${y + ROW - 1}" stroke="#000" stroke-width="2"/>`,
        );
      }
      out.push(
        `<text x="${LABEL_WIDTH + PLOT_WIDTH + 8}" y="${y + 16}">${advantage.toFixed(2)}x (${escape(formatMetric(gateway))})${met === undefined ? '' : met ? ' goal met' : ' goal missed'}</text>`,
      );
    });
  } else {
    out.push(
      `<text x="12" y="42" fill="#555">gateway figures (bars scaled within each kind of figure)</text>`,
    );
    const max = new Map<string, number>();
    for (const { gateway } of rows) {
      const v = gateway[gateway.primary] ?? 0;
      max.set(gateway.primary, Math.max(max.get(gateway.primary) ?? 0, v));
    }
    rows.forEach(({ gateway }, i) => {
      const y = TOP + i * ROW;
      const v = gateway[gateway.primary] ?? 0;
      const w = (v / (max.get(gateway.primary) || 1)) * PLOT_WIDTH;
      out.push(
        `<text x="${LABEL_WIDTH - 8}" y="${y + 16}" text-anchor="end">${escape(gateway.label)}</text>`,
        `<rect x="${LABEL_WIDTH}" y="${y + 4}" width="${Math.max(1, w)}" height="${ROW - 8}" fill="#1565c0" opacity="0.8"/>`,
        `<text x="${LABEL_WIDTH + PLOT_WIDTH + 8}" y="${y + 16}">${escape(formatMetric(gateway))}</text>`,
      );
    });
  }
  out.push('</svg>');
  return out.join('\n');
}

export async function chartPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density: 96 }).png().toBuffer();
}
