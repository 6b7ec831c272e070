/** Ingest phases: STOW-RS (one instance per request, or batches) and C-STORE (dcmtk storescu). */
import { execFile as execFileCallback } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CorpusFile } from '../corpus.js';
import { split } from '../corpus.js';
import { summarize, timedPool, type PhaseResult } from '../stats.js';
import { peakRss, resetPeakRss, type Target } from '../targets.js';

const execFile = promisify(execFileCallback);

function multipart(parts: Buffer[]): { body: Buffer; contentType: string } {
  const boundary = `bench${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
      part,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    body: Buffer.concat(chunks),
    contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`,
  };
}

async function post(target: Target, parts: Buffer[]): Promise<void> {
  const { body, contentType } = multipart(parts);
  const response = await fetch(`${target.dicomweb}/studies`, {
    method: 'POST',
    headers: { 'content-type': contentType, accept: 'application/dicom+json' },
    body,
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`${target.name} STOW answered ${response.status}`);
}

/** STOW-RS, one instance per request, from `clients` concurrent clients. */
export async function stowSingle(target: Target, files: CorpusFile[], clients: number): Promise<PhaseResult> {
  const bodies = await Promise.all(files.map((f) => readFile(f.path)));
  resetPeakRss(target.pid);
  const { latencies, seconds } = await timedPool(bodies, clients, (bytes) => post(target, [bytes]));
  const megabytes = bodies.reduce((sum, b) => sum + b.length, 0) / 1e6;
  return summarize(`STOW 1/request, ${clients} clients`, target.name, latencies, seconds, {
    peakRss: peakRss(target.pid),
    megabytesPerSecond: megabytes / seconds,
    note: 'latency per request',
  });
}

/** STOW-RS, `perRequest` instances per request, one client. */
export async function stowBatch(
  target: Target,
  files: CorpusFile[],
  perRequest: number,
): Promise<PhaseResult> {
  const bodies = await Promise.all(files.map((f) => readFile(f.path)));
  const batches = split(bodies, Math.ceil(bodies.length / perRequest));
  resetPeakRss(target.pid);
  const { latencies, seconds } = await timedPool(batches, 1, (batch) => post(target, batch));
  return summarize(`STOW ${perRequest}/request`, target.name, latencies, seconds, {
    count: bodies.length,
    peakRss: peakRss(target.pid),
    megabytesPerSecond: bodies.reduce((sum, b) => sum + b.length, 0) / 1e6 / seconds,
    note: `latency per request of ${perRequest}`,
  });
}

/**
 * C-STORE with dcmtk storescu over `associations` parallel associations, each sending its share of the
 * files in one association. TCP_NODELAY=1 makes dcmtk disable Nagle (otherwise ~20 instances/s).
 */
export async function cstore(
  target: Target,
  files: CorpusFile[],
  associations: number,
  workDir: string,
  maxPduLength: number,
): Promise<PhaseResult> {
  const shares = split(files, associations);
  const dirs: string[] = [];
  for (const [i, share] of shares.entries()) {
    const dir = join(workDir, `assoc-${target.name}-${i}-${randomBytes(4).toString('hex')}`);
    await mkdir(dir, { recursive: true });
    for (const file of share) await symlink(file.path, join(dir, `${file.sopInstanceUID}.dcm`));
    dirs.push(dir);
  }
  resetPeakRss(target.pid);
  const started = performance.now();
  await Promise.all(
    dirs.map((dir) =>
      execFile(
        'storescu',
        [
          '-aec',
          target.aeTitle,
          '-xe',
          '--max-pdu',
          String(maxPduLength),
          '+sd',
          '127.0.0.1',
          String(target.dimsePort),
          dir,
        ],
        { env: { ...process.env, TCP_NODELAY: '1' }, maxBuffer: 64 * 1024 * 1024 },
      ),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  return summarize(
    `C-STORE, ${associations} association${associations > 1 ? 's' : ''}`,
    target.name,
    [],
    seconds,
    {
      count: files.length,
      peakRss: peakRss(target.pid),
      megabytesPerSecond: files.reduce((sum, f) => sum + f.bytes, 0) / 1e6 / seconds,
      note: 'storescu reports no per-instance times',
    },
  );
}
