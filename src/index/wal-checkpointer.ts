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
 *
 * With synchronous=NORMAL a commit survives a crash of the process at once, but a power loss only once
 * the log is synced. After each checkpoint the worker syncs the log, and the commits made before it
 * started are durable from then on: `durable()` tells callers when (ingest removes its placement
 * markers then, deletion unlinks files then).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { closeSync, fsyncSync, openSync } = require('node:fs');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
parentPort.on('message', (message) => {
  if (message === 'checkpoint') {
    let synced = false;
    try {
      const [passive] = db.pragma('wal_checkpoint(PASSIVE)');
      if (passive && passive.log > workerData.restartFrames) db.pragma('wal_checkpoint(RESTART)');
      // Earlier commits are in the log, or were copied to the database file, which the checkpoint synced.
      let log;
      try {
        log = openSync(workerData.path + '-wal', 'r');
      } catch (error) {
        // No log (not in WAL mode): each commit synced the database file itself.
        if (error.code !== 'ENOENT') throw error;
      }
      if (log !== undefined) {
        try { fsyncSync(log); } finally { closeSync(log); }
      }
      synced = true;
    } catch {}
    parentPort.postMessage(synced);
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

interface DurableWaiter {
  /** The write count the caller waits for. */
  writes: number;
  resolve: () => void;
}

export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly timer: NodeJS.Timeout;
  /** Write transactions so far; a sync started at count n makes the first n durable. */
  private writes = 0;
  private durableWrites = 0;
  /** Write count when the running (or last) sync started. */
  private syncStartedAt = 0;
  private running = false;
  private urgent = false;
  private waiters: DurableWaiter[] = [];
  private closing = false;

  constructor(path: string, intervalMs = 1000, restartFrames = RESTART_FRAMES) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver, restartFrames } });
    this.worker.on('message', (synced: boolean) => this.finished(synced));
    this.worker.on('error', () => this.finished(false));
    this.worker.unref();
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  /** Called after each write transaction. */
  noteWrite(): void {
    this.writes++;
  }

  /**
   * Resolves once every write noted so far survives a power loss. `now` starts a sync at once (or right
   * after the running one) instead of waiting for the next periodic checkpoint.
   */
  durable(now = false): Promise<void> {
    if (this.durableWrites >= this.writes) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.waiters.push({ writes: this.writes, resolve }));
    // The next periodic checkpoint answers the waiter: the process must not exit before it.
    this.timer.ref();
    if (now) {
      this.urgent = true;
      this.tick();
    }
    return done;
  }

  private tick(): void {
    if (this.closing || this.running || this.syncStartedAt >= this.writes) return;
    this.running = true;
    this.urgent = false;
    this.syncStartedAt = this.writes;
    // Whoever waits for this sync must not see the process exit under them.
    this.worker.ref();
    this.worker.postMessage('checkpoint');
  }

  private finished(synced: boolean): void {
    this.running = false;
    if (!this.closing) this.worker.unref();
    if (synced) {
      this.durableWrites = this.syncStartedAt;
      this.release();
    } else {
      // Tried again at the next tick.
      this.syncStartedAt = this.durableWrites;
    }
    if (this.urgent) this.tick();
  }

  private release(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const waiter of waiting) {
      if (waiter.writes <= this.durableWrites) waiter.resolve();
      else this.waiters.push(waiter);
    }
    if (this.waiters.length === 0) this.timer.unref();
  }

  /** Stops the worker. Call `closed` once the main connection has made every write durable too. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.closing = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    // Keep the process alive until the worker has closed its connection.
    this.worker.ref();
    this.worker.postMessage('close');
    await exited;
  }

  /** The main connection checkpointed and synced everything as it closed: every waiter is answered. */
  closed(): void {
    this.durableWrites = this.writes;
    this.release();
  }
}
