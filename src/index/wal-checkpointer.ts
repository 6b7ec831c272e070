/**
 * WAL checkpoints off the event loop. With WAL and synchronous=NORMAL a commit costs no fsync, but the
 * automatic checkpoint (every 1000 pages) copies pages and fsyncs inside whichever commit trips it,
 * stalling every request and association for milliseconds. Here a worker thread with its own
 * connection runs passive checkpoints once a second while there are writes, and the main connection's
 * automatic checkpoint is off.
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
    try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
    parentPort.postMessage('done');
  } else if (message === 'close') {
    db.close();
    parentPort.close();
  }
});
`;

export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly timer: NodeJS.Timeout;
  private dirty = false;
  private running = false;

  constructor(path: string, intervalMs = 1000) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver } });
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
