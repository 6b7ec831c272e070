/**
 * WAL checkpoints off the event loop. With WAL and synchronous=NORMAL a commit costs no fsync, but the
 * automatic checkpoint (every 1000 pages) copies pages and fsyncs inside whichever commit trips it,
 * stalling every request and association for milliseconds. Here a worker thread with its own
 * connection runs passive checkpoints once a second while there are writes, and the main connection's
 * automatic checkpoint is off.
 *
 * Under steady writes a passive checkpoint never catches up with the writer (frames keep arriving while
 * it copies), and SQLite only reuses the log from its start once a checkpoint has copied every frame: the
 * log would grow without bound (gigabytes during a long import, slowing every read). So once the log
 * holds more than RESTART_FRAMES frames, a passive checkpoint that copied most of them is followed by a
 * RESTART one, which holds writers back only while it copies the few frames written meanwhile, and makes
 * the next write start the log over (the main connection's journal_size_limit then trims the file).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
parentPort.on('message', (message) => {
  if (message === 'checkpoint') {
    try {
      const [passive] = db.pragma('wal_checkpoint(PASSIVE)');
      if (passive && passive.log > workerData.restartFrames) db.pragma('wal_checkpoint(RESTART)');
    } catch {}
    parentPort.postMessage('done');
  } else if (message === 'close') {
    db.close();
    parentPort.close();
  }
});
`;

/** 16384 frames of 4 KiB pages: a 64 MiB log. */
export const RESTART_FRAMES = 16384;
/** What the log file is trimmed to when it starts over (SQLite's journal_size_limit). */
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly timer: NodeJS.Timeout;
  private dirty = false;
  private running = false;

  constructor(path: string, intervalMs = 1000, restartFrames = RESTART_FRAMES) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver, restartFrames } });
    this.worker.on('message', () => (this.running = false));
    this.worker.on('error', () => (this.running = false));
    this.worker.unref();
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  /** Called after each write transaction. */
  noteWrite(): void {
    this.dirty = true;
  }

  private tick(): void {
    if (!this.dirty || this.running) return;
    this.dirty = false;
    this.running = true;
    this.worker.postMessage('checkpoint');
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    // Keep the process alive until the worker has closed its connection.
    this.worker.ref();
    this.worker.postMessage('close');
    await exited;
  }
}
