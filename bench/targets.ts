/**
 * The servers a benchmark runs against: the gateway (the built CLI) and, with --peer orthanc, Orthanc
 * with its DICOMweb plugin. Both get their own temporary storage on loopback and the same settings
 * where the comparison must be fair (fsync of each file, SQLite durability, maximum PDU, TCP_NODELAY).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

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
  stop(): Promise<void>;
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

async function waitFor(
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
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`server did not come up at ${url}:\n${output()}`);
}

export async function startGatewayTarget(options: {
  dataDir: string;
  httpPort: number;
  dimsePort: number;
  maxPduLength: number;
  cli: string;
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
      },
      limits: { qidoMaxLimit: 1000 },
      log: { level: 'warn' },
    }),
  );
  let output = '';
  const child = spawn(process.execPath, [options.cli, 'serve', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const root = `http://127.0.0.1:${options.httpPort}`;
  await waitFor(`${root}/health`, child, () => output);
  return {
    name: 'gateway',
    dicomweb: `${root}/dicom-web`,
    root,
    aeTitle: 'DICOMWEB',
    dimsePort: options.dimsePort,
    pid: child.pid!,
    settings: {
      fsync: 'each file and its directory, before the index commit',
      sqlite: 'WAL, synchronous=NORMAL',
      maxPdu: String(options.maxPduLength),
      tcpNoDelay: 'on (every DIMSE socket)',
    },
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}
