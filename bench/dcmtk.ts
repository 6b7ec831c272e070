/**
 * dcmtk tools as the DIMSE clients and the C-MOVE destination, the same for every server. All run with
 * TCP_NODELAY=1: dcmtk leaves Nagle on otherwise, which caps any C-STORE at about 20 instances/s.
 */
import { execFile as execFileCallback, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { split } from './corpus.js';
import { stopChild, type Target } from './targets.js';

const execFile = promisify(execFileCallback);
const ENV = { ...process.env, TCP_NODELAY: '1' };

export const DCMTK_TOOLS = ['storescu', 'storescp', 'movescu'];

export function hasTool(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function missingDcmtk(): string[] {
  return DCMTK_TOOLS.filter((tool) => !hasTool(tool));
}

/**
 * C-STORE of `paths` with storescu over `associations` parallel associations, each sending its share of
 * the files (symlinked into a directory of its own) in one association, as Explicit VR Little Endian.
 */
export async function storescu(
  target: Target,
  paths: string[],
  associations: number,
  workDir: string,
  maxPduLength: number,
): Promise<number> {
  const dirs: string[] = [];
  const stamp = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  for (const [i, share] of split(paths, associations).entries()) {
    const dir = join(workDir, `assoc-${target.name}-${stamp}-${i}`);
    await mkdir(dir, { recursive: true });
    await Promise.all(share.map((path, n) => symlink(path, join(dir, `${n}.dcm`))));
    dirs.push(dir);
  }
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
        { env: ENV, maxBuffer: 64 * 1024 * 1024 },
      ),
    ),
  );
  return (performance.now() - started) / 1000;
}

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`storescp exited early:\n${output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`storescp did not listen on ${port}:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A dcmtk storescp writing what it receives to `dir`; stop() ends it. */
export async function startStorescp(options: {
  dir: string;
  port: number;
  aeTitle: string;
  maxPduLength: number;
}): Promise<{ stop(): Promise<void> }> {
  await mkdir(options.dir, { recursive: true });
  let output = '';
  const child = spawn(
    'storescp',
    [
      '-aet',
      options.aeTitle,
      '--max-pdu',
      String(options.maxPduLength),
      '-od',
      options.dir,
      '--accept-all',
      String(options.port),
    ],
    { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-10_000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-10_000)));
  await waitForPort(options.port, child, () => output);
  return { stop: () => stopChild(child, 5_000) };
}

/** movescu: asks `target` to C-MOVE a study to `destination`; resolves when the move is complete. */
export async function movescu(
  target: Target,
  studyInstanceUID: string,
  callingAeTitle: string,
  destination: string,
  maxPduLength: number,
): Promise<{ stdout: string; stderr: string }> {
  return execFile(
    'movescu',
    [
      '-aet',
      callingAeTitle,
      '-aec',
      target.aeTitle,
      '-aem',
      destination,
      '--max-pdu',
      String(maxPduLength),
      '-S',
      '-k',
      'QueryRetrieveLevel=STUDY',
      '-k',
      `StudyInstanceUID=${studyInstanceUID}`,
      '127.0.0.1',
      String(target.dimsePort),
    ],
    { env: ENV, maxBuffer: 64 * 1024 * 1024 },
  );
}
