/**
 * The servers a benchmark runs against: the gateway (the built CLI) and, with --peer orthanc, Orthanc
 * with its DICOMweb plugin. Both get their own temporary storage on loopback and the same settings
 * where the comparison must be fair (fsync of each file, SQLite durability, maximum PDU, TCP_NODELAY).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { createServer } from 'node:net';

/**
 * The C-MOVE destination (a dcmtk storescp the bench starts on `port`) and the AE title that asks for
 * moves; both are registered with every server.
 */
export interface MoveConfig {
  destination: { aeTitle: string; host: string; port: number };
  requester: string;
}

/** A TCP port free on loopback right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Target {
  name: string;
  /** Base URL of the DICOMweb services, e.g. http://127.0.0.1:8042/dicom-web */
  dicomweb: string;
  /** Base URL of the server root (for WADO-URI and similar). */
  root: string;
  aeTitle: string;
  dimsePort: number;
  pid: number;
  /** Settings that matter for fairness, printed with the results. */
  settings: Record<string, string>;
  /** The index database and its write-ahead log, whose sizes the growth phase reports. */
  indexFiles: { db: string; wal: string };
  stop(): Promise<void>;
}

/** Sizes of the index files in MB (0 for a missing file). */
export function indexFileSizes(target: Target): { dbMb: number; walMb: number } {
  const size = (path: string) => {
    try {
      return statSync(path).size / (1024 * 1024);
    } catch {
      return 0;
    }
  };
  return { dbMb: size(target.indexFiles.db), walMb: size(target.indexFiles.wal) };
}

/** Resets the kernel's peak-RSS counter of a process (Linux clear_refs 5), so each phase measures its own. */
export function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // not permitted here: the peak then counts from process start
  }
}

export function peakRss(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
}

export function currentRss(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
}

export async function waitFor(
  url: string,
  child: ChildProcess,
  output: () => string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output()}`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`server did not come up at ${url}:\n${output()}`);
}

/** Stops a child with SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * glibc's allocator settings, read from the `npm start` script (README, Running), so that the bench runs
 * the gateway as users do and the two cannot drift apart.
 */
const GLIBC_MEMORY_ENV: Record<string, string> = Object.fromEntries(
  [...startScript().matchAll(/\b(MALLOC_\w+)=(\S+)/g)].map(([, name, value]) => [name!, value!]),
);

function startScript(): string {
  const manifest = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  return manifest.scripts.start;
}

export async function startGatewayTarget(options: {
  dataDir: string;
  httpPort: number;
  dimsePort: number;
  maxPduLength: number;
  cli: string;
  move: MoveConfig;
  /** Directory for a V8 CPU profile of the whole run (node --cpu-prof), when given. */
  cpuProfileDir?: string;
}): Promise<Target> {
  await mkdir(options.dataDir, { recursive: true });
  const configFile = join(options.dataDir, '..', 'gateway-config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      data: options.dataDir,
      http: { port: options.httpPort, host: '127.0.0.1' },
      dimse: {
        port: options.dimsePort,
        host: '127.0.0.1',
        aeTitle: 'DICOMWEB',
        maxPduLength: options.maxPduLength,
        peers: [
          { ...options.move.destination, allow: ['store'] },
          { aeTitle: options.move.requester, host: '127.0.0.1', port: 104, allow: ['find', 'move', 'get'] },
        ],
      },
      limits: { qidoMaxLimit: 1000 },
      log: { level: 'warn' },
    }),
  );
  let output = '';
  const nodeArgs = options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : [];
  const child = spawn(process.execPath, [...nodeArgs, options.cli, 'serve', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...GLIBC_MEMORY_ENV },
  });
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  const root = `http://127.0.0.1:${options.httpPort}`;
  await waitFor(`${root}/health`, child, () => output);
  const version = (
    JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  return {
    name: 'gateway',
    dicomweb: `${root}/dicom-web`,
    root,
    aeTitle: 'DICOMWEB',
    dimsePort: options.dimsePort,
    pid: child.pid!,
    indexFiles: {
      db: join(options.dataDir, 'index.sqlite'),
      wal: join(options.dataDir, 'index.sqlite-wal'),
    },
    settings: {
      version: `dicomweb-gateway ${version}, Node.js ${process.version}`,
      fsync: 'each file and its directory fsynced before the index commit',
      sqlite: 'WAL, synchronous=NORMAL',
      maxPdu: String(options.maxPduLength),
      tcpNoDelay: 'on (every DIMSE and HTTP socket)',
      metadata: 'DICOM JSON stored at ingest, cached in memory (64 MB LRU)',
      memory: `glibc ${Object.entries(GLIBC_MEMORY_ENV)
        .map(([name, value]) => `${name}=${value}`)
        .join(' ')}, as npm start sets them`,
      other: 'default configuration otherwise (audit log, render cache 128 MB, log level warn)',
    },
    stop: () => stopChild(child),
  };
}
