/**
 * Running a real gateway for tests: in this process (fast, for most integration tests) or as a child
 * process of the built CLI (for start-up, signals, kill -9 and memory measurements). Both listen on
 * loopback ports chosen by the OS and use a temporary data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type GatewayConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startGateway, type RunningGateway } from '../../src/main.js';
import { makeTempDir, removeDir } from './fixtures.js';

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(PROJECT_ROOT, 'dist', 'cli.js');

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K];
};

export interface TestGateway {
  /** e.g. http://127.0.0.1:41234 */
  httpUrl: string;
  /** e.g. http://127.0.0.1:41234/dicom-web */
  dicomweb: string;
  dimsePort: number;
  aeTitle: string;
  dataDir: string;
  running: RunningGateway;
  stop(): Promise<void>;
}

/** A gateway in this process, on loopback ports 0, with a fresh data directory unless one is given. */
export async function startTestGateway(
  overrides: DeepPartial<GatewayConfig> = {},
  options: { dataDir?: string; keepData?: boolean } = {},
): Promise<TestGateway> {
  const dataDir = options.dataDir ?? (await makeTempDir('gw-data-'));
  const configFile = join(await makeTempDir('gw-config-'), 'config.json');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(
    configFile,
    JSON.stringify({
      ...overrides,
      data: dataDir,
      http: { host: '127.0.0.1', port: 0, ...overrides.http },
      dimse: { host: '127.0.0.1', port: 0, ...overrides.dimse },
      log: { level: process.env.TEST_LOG_LEVEL ?? 'silent', ...overrides.log },
    }),
  );
  const config: GatewayConfig = loadConfig({ configFile, env: {} });
  const running = await startGateway(config, createLogger(config.log.level));
  const httpUrl = `http://127.0.0.1:${running.httpPort}`;
  return {
    httpUrl,
    dicomweb: `${httpUrl}${config.http.root}`,
    dimsePort: running.dimsePort,
    aeTitle: config.dimse.aeTitle,
    dataDir,
    running,
    async stop() {
      await running.close();
      await removeDir(dirname(configFile));
      if (!options.keepData && !options.dataDir) await removeDir(dataDir);
    },
  };
}

export interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  httpUrl: string;
  dicomweb: string;
  dimsePort: number;
  /** Everything the process printed, for assertions and failure messages. */
  output(): string;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Peak resident set size so far, in bytes (Linux VmHWM). */
  peakRss(): number;
}

const OUTPUT_KEPT = 1024 * 1024;

/** The built CLI (`dist/cli.js serve`) as a child process; resolves once it reports ready. */
export async function spawnGateway(args: string[], env: NodeJS.ProcessEnv = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--http-port', '0', '--dimse-port', '0', ...args], {
    env: { ...process.env, DICOMWEB_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<{ http: string; dimse: string }>((resolve, reject) => {
    let isReady = false;
    const onData = (data: Buffer) => {
      output += data.toString();
      // Long runs log a lot: keep the tail, for error messages.
      if (output.length > OUTPUT_KEPT * 2) output = output.slice(-OUTPUT_KEPT);
      if (isReady) return;
      for (const line of output.split('\n')) {
        if (!line.includes('dicomweb-gateway ready')) continue;
        try {
          resolve(JSON.parse(line) as { http: string; dimse: string });
          isReady = true;
        } catch {
          // a partial line: wait for the rest
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code, signal }) =>
      reject(new Error(`gateway exited (code ${code}, signal ${signal}) before it was ready:\n${output}`)),
    );
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const { http, dimse } = await ready.finally(() => clearTimeout(timeout));
  const httpUrl = `http://${http.replace(/^0\.0\.0\.0/, '127.0.0.1')}`;
  return {
    child,
    pid: child.pid!,
    httpUrl,
    dicomweb: `${httpUrl}/dicom-web`,
    dimsePort: Number(dimse.split(':').pop()),
    output: () => output,
    exited,
    peakRss: () => peakRssOf(child.pid!),
  };
}

export function peakRssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : NaN;
}
