/**
 * cmove: C-MOVE of the retrieve phase's study to a dcmtk storescp started by the bench (registered as a
 * peer in the gateway's configuration and in Orthanc's DicomModalities), asked for by dcmtk movescu.
 *
 * rss1g: the server's peak RSS while ingesting about 1 GB of 512x512 CT slices, through STOW (8 clients,
 * 10 instances per request) and through C-STORE (storescu, 4 associations).
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { movescu, startStorescp, storescu } from '../dcmtk.js';
import { stow } from '../http.js';
import { MB, pool, summarize, type PhaseResult } from '../stats.js';
import { peakRss, resetPeakRss, type Target } from '../targets.js';
import type { Skipped } from './index-walk.js';
import { retrieveStudy } from './wado.js';

const fmt = (n: number) => n.toLocaleString('en-US');

async function filesUnder(dir: string): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    count++;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { count, bytes };
}

export async function cmovePhase(target: Target, context: Context): Promise<PhaseResult[]> {
  const series = await retrieveStudy(context, target);
  const n = context.sizes.retrieveInstances;
  const dir = join(context.workDir, `cmove-${target.name}`);
  await rm(dir, { recursive: true, force: true });
  const scp = await startStorescp({
    dir,
    port: context.move.destination.port,
    aeTitle: context.move.destination.aeTitle,
    maxPduLength: context.maxPduLength,
  });
  let seconds: number;
  let log: { stdout: string; stderr: string };
  try {
    resetPeakRss(target.pid);
    const started = performance.now();
    log = await movescu(
      target,
      series[0]!.study,
      context.move.requester,
      context.move.destination.aeTitle,
      context.maxPduLength,
    );
    seconds = (performance.now() - started) / 1000;
  } finally {
    await scp.stop();
  }
  // The received files stay for the work directory's removal at the end (see storesPerSecond's keepFiles).
  const received = await filesUnder(dir);
  if (received.count !== n) {
    throw new Error(
      `${target.name}: C-MOVE delivered ${received.count} of ${n} instances\n${log.stdout}${log.stderr}`,
    );
  }
  return [
    summarize(
      {
        phase: 'cmove',
        label: `C-MOVE a ${fmt(n)}-instance study to storescp`,
        target: target.name,
        unit: 'instances',
        primary: 'throughput',
      },
      [seconds * 1000],
      seconds,
      {
        count: n,
        megabytesPerSecond: received.bytes / MB / seconds,
        peakRssMb: peakRss(target.pid) / MB,
        note: 'movescu -S, QueryRetrieveLevel=STUDY; time until the move response',
      },
    ),
  ];
}

export async function rssPhase(
  target: Target,
  context: Context,
): Promise<{ results: PhaseResult[]; skipped: Skipped[] }> {
  const ct = context.ct(512);
  const n = Math.max(8, Math.ceil((context.sizes.rssMegabytes * MB) / ct.instanceBytes));
  const megabytes = (n * ct.instanceBytes) / MB;
  const results: PhaseResult[] = [];
  const skipped: Skipped[] = [];
  const goal = { metric: 'peakRssMb', max: 300, text: 'peak RSS < 300 MB (absolute)' } as const;

  // STOW: 8 clients, 10 instances per request, instances built as they are sent.
  const [stowSeries] = await context.ctStudy('rss-stow', [n], 512);
  const perRequest = 10;
  resetPeakRss(target.pid);
  const started = performance.now();
  await pool(Math.ceil(n / perRequest), 8, (b) =>
    stow(
      target.dicomweb,
      stowSeries!.instances.slice(b * perRequest, (b + 1) * perRequest).map((i) => i.bytes()),
    ),
  );
  const stowSeconds = (performance.now() - started) / 1000;
  context.stored(target, n, 1);
  results.push(
    summarize(
      {
        phase: 'rss1g',
        label: `ingest ${fmt(Math.round(megabytes))} MB (${fmt(n)} CT slices) via STOW, 8 clients x 10/request`,
        target: target.name,
        unit: 'instances',
        primary: 'peakRssMb',
      },
      [],
      stowSeconds,
      {
        count: n,
        megabytesPerSecond: megabytes / stowSeconds,
        peakRssMb: peakRss(target.pid) / MB,
        goal,
      },
    ),
  );

  // C-STORE: storescu over 4 associations, from files written once for every target.
  const cstoreLabel = `ingest ${fmt(Math.round(megabytes))} MB (${fmt(n)} CT slices) via C-STORE, 4 associations`;
  if (context.missingDcmtk.length > 0) {
    skipped.push({
      phase: 'rss1g',
      label: cstoreLabel,
      target: target.name,
      reason: `dcmtk missing (${context.missingDcmtk.join(', ')})`,
    });
    return { results, skipped };
  }
  const paths = await context.once('rss-cstore-files', async () => {
    const [series] = await context.ctStudy('rss-cstore', [n], 512);
    return context.writeFiles(join(context.workDir, 'rss-cstore'), n, (i) => series!.instances[i]!.bytes());
  });
  resetPeakRss(target.pid);
  const seconds = await storescu(target, paths, 4, context.workDir, context.maxPduLength);
  context.stored(target, n, 1);
  results.push(
    summarize(
      { phase: 'rss1g', label: cstoreLabel, target: target.name, unit: 'instances', primary: 'peakRssMb' },
      [],
      seconds,
      {
        count: n,
        megabytesPerSecond: megabytes / seconds,
        peakRssMb: peakRss(target.pid) / MB,
        goal,
      },
    ),
  );
  return { results, skipped };
}
