/**
 * Retrieval phases, with the requests OHIF (and any DICOMweb client) sends: series metadata, every frame
 * of a CT series, a rendered JPEG of every slice, and a whole study. Each phase stores its own CT corpus
 * first (the same UIDs and bytes on every server) and checks what comes back before timing counts.
 */
import type { Context } from '../context.js';
import { cpuFigures, cpuMeter } from '../cpu.js';
import { get } from '../http.js';
import { MB, summarize, timedPool, type PhaseResult } from '../stats.js';
import type { CtSeries } from '../synthetic.js';
import { peakRss, resetPeakRss, type Target } from '../targets.js';

const fmt = (n: number) => n.toLocaleString('en-US');

/** Stores a shared CT study on a target once per run. */
export async function storedStudy(
  context: Context,
  target: Target,
  key: string,
  seriesSizes: number[],
): Promise<CtSeries[]> {
  const series = await context.ctStudy(key, seriesSizes);
  await context.once(`stored:${target.name}:${key}`, () => context.stowSeries(target, series));
  return series;
}

function instanceUrl(target: Target, series: CtSeries, sop: string): string {
  return `${target.dicomweb}/studies/${series.study}/series/${series.series}/instances/${sop}`;
}

export async function metadataPhase(target: Target, context: Context): Promise<PhaseResult[]> {
  const n = context.sizes.metadataInstances;
  const [series] = await storedStudy(context, target, 'metadata', [n]);
  const url = `${target.dicomweb}/studies/${series!.study}/series/${series!.series}/metadata`;
  const headers = { accept: 'application/dicom+json' };
  resetPeakRss(target.pid);
  const t0 = performance.now();
  const cold = await get(url, headers, { keepBody: true });
  const firstMs = performance.now() - t0;
  const items = JSON.parse(cold.body!.toString('utf8')) as Record<string, unknown>[];
  if (items.length !== n)
    throw new Error(`${target.name}: series metadata has ${items.length} of ${n} instances`);
  const attributes = Object.keys(items[0] ?? {}).length;
  const repeats = Array.from({ length: context.sizes.metadataRepeats }, () => url);
  const warm = await timedPool(repeats, 1, async (u) => void (await get(u, headers)));
  const label = `series metadata, ${fmt(n)} instances`;
  const base = { phase: 'metadata', target: target.name, unit: 'requests' } as const;
  const details = { attributesPerInstance: attributes, responseBytes: cold.bytes };
  const goal = { ratio: 0.2, text: '≥5x faster than Orthanc' };
  return [
    summarize(
      { ...base, label: `${label}: cold first request`, primary: 'firstMs' },
      [firstMs],
      firstMs / 1000,
      {
        firstMs,
        megabytesPerSecond: cold.bytes / MB / (firstMs / 1000),
        peakRssMb: peakRss(target.pid) / MB,
        goal: { metric: 'firstMs', ...goal },
        details,
      },
    ),
    summarize({ ...base, label: `${label}: warm repeats`, primary: 'p50' }, warm.latencies, warm.seconds, {
      firstMs,
      megabytesPerSecond: (cold.bytes * warm.latencies.length) / MB / warm.seconds,
      peakRssMb: peakRss(target.pid) / MB,
      goal: { metric: 'p50', ...goal },
      details,
      note: '1 client',
    }),
  ];
}

const FRAMES_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';

export async function framesPhase(target: Target, context: Context): Promise<PhaseResult[]> {
  const { framesInstances: n, framesPasses: passes, clients, ctSize } = context.sizes;
  const [series] = await storedStudy(context, target, 'frames', [n]);
  const frameBytes = ctSize * ctSize * 2;
  let bytes = 0;
  resetPeakRss(target.pid);
  const cpu = cpuMeter(target.pid);
  const requests = Array.from({ length: passes }, () => series!.instances).flat();
  const run = await timedPool(requests, clients, async ({ sop }) => {
    const answer = await get(`${instanceUrl(target, series!, sop)}/frames/1`, { accept: FRAMES_ACCEPT });
    if (answer.bytes < frameBytes) throw new Error(`${target.name}: frame of ${answer.bytes} bytes`);
    bytes += answer.bytes;
  });
  const cpuUse = cpu();
  return [
    summarize(
      {
        phase: 'frames',
        label: `frames of a ${fmt(n)}-slice CT series (${ctSize}x${ctSize} 16-bit), ${clients} clients, ${passes} passes`,
        target: target.name,
        unit: 'frames',
        primary: 'throughput',
      },
      run.latencies,
      run.seconds,
      {
        megabytesPerSecond: bytes / MB / run.seconds,
        peakRssMb: peakRss(target.pid) / MB,
        cpu: cpuFigures(cpuUse, run.latencies.length),
        goal: { metric: 'throughput', ratio: 2, text: '≥2x Orthanc' },
        note: `GET .../instances/{i}/frames/1, Accept: ${FRAMES_ACCEPT}`,
      },
    ),
  ];
}

export async function renderedPhase(target: Target, context: Context): Promise<PhaseResult[]> {
  const { renderedInstances: n, clients, ctSize } = context.sizes;
  const [series] = await storedStudy(context, target, 'rendered', [n]);
  let bytes = 0;
  const fetchJpeg = async (sop: string) => {
    const answer = await get(
      `${instanceUrl(target, series!, sop)}/rendered`,
      { accept: 'image/jpeg' },
      {
        keepBody: true,
      },
    );
    if (answer.body![0] !== 0xff || answer.body![1] !== 0xd8) throw new Error(`${target.name}: not a JPEG`);
    bytes += answer.bytes;
  };
  resetPeakRss(target.pid);
  // The first slice alone (the first image a user waits for), then the rest with `clients` at once.
  const [first, ...rest] = series!.instances;
  const t0 = performance.now();
  await fetchJpeg(first!.sop);
  const firstMs = performance.now() - t0;
  const run = await timedPool(rest, clients, ({ sop }) => fetchJpeg(sop));
  const seconds = run.seconds + firstMs / 1000;
  return [
    summarize(
      {
        phase: 'rendered',
        label: `rendered JPEG of each slice of a ${fmt(n)}-slice CT series (${ctSize}x${ctSize}), cold, ${clients} clients`,
        target: target.name,
        unit: 'images',
        primary: 'p50',
      },
      [firstMs, ...run.latencies],
      seconds,
      {
        firstMs,
        megabytesPerSecond: bytes / MB / seconds,
        peakRssMb: peakRss(target.pid) / MB,
        goal: { metric: 'p50', ratio: 1, text: 'p50 no slower than Orthanc' },
        details: { averageJpegBytes: Math.round(bytes / n) },
        note: 'GET .../instances/{i}/rendered, Accept: image/jpeg; every slice requested once',
      },
    ),
  ];
}

const RETRIEVE_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*';

/** The 500-instance study of retrieve and cmove: two series, like a CT exam's two reconstructions. */
export function retrieveSeriesSizes(context: Context): number[] {
  const n = context.sizes.retrieveInstances;
  return [Math.ceil(n / 2), Math.floor(n / 2)];
}

export async function retrieveStudy(context: Context, target: Target): Promise<CtSeries[]> {
  return storedStudy(context, target, 'retrieve', retrieveSeriesSizes(context));
}

export async function retrievePhase(target: Target, context: Context): Promise<PhaseResult[]> {
  const series = await retrieveStudy(context, target);
  const n = context.sizes.retrieveInstances;
  const minimumBytes = n * series[0]!.instanceBytes;
  const url = `${target.dicomweb}/studies/${series[0]!.study}`;
  let bytes = 0;
  resetPeakRss(target.pid);
  const runs = Array.from({ length: context.sizes.retrieveRepeats }, () => url);
  const run = await timedPool(runs, 1, async (u) => {
    const answer = await get(u, { accept: RETRIEVE_ACCEPT }, { countParts: true });
    if (answer.delimiters !== n || answer.bytes < minimumBytes) {
      throw new Error(
        `${target.name}: study retrieve gave ${answer.delimiters} parts, ${answer.bytes} bytes`,
      );
    }
    bytes += answer.bytes;
  });
  return [
    summarize(
      {
        phase: 'retrieve',
        label: `retrieve a ${fmt(n)}-instance study (${(minimumBytes / MB).toFixed(minimumBytes < 10 * MB ? 1 : 0)} MB), 1 client`,
        target: target.name,
        unit: 'instances',
        primary: 'megabytesPerSecond',
      },
      run.latencies,
      run.seconds,
      {
        count: n * runs.length,
        firstMs: run.latencies[0],
        megabytesPerSecond: bytes / MB / run.seconds,
        peakRssMb: peakRss(target.pid) / MB,
        note: `GET /studies/{s}, Accept: ${RETRIEVE_ACCEPT}; latency per whole study`,
      },
    ),
  ];
}
