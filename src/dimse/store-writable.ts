/**
 * The Writable dcmjs-dimse streams a C-STORE dataset into. Each fragment goes straight to the ingest
 * job (temp file + parser), so a large instance never sits in memory; when the disk falls behind, the
 * socket is paused until it catches up.
 */
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import type { StoreOutcome } from '../ingest/outcome.js';
import type { IngestJob } from '../ingest/store-instance.js';

export class StoreWritable extends Writable {
  /** Settles with the outcome once the last fragment is in and the instance is stored (or refused). */
  readonly outcome: Promise<StoreOutcome>;
  private job: IngestJob | undefined;
  private jobError: unknown;

  constructor(
    jobPromise: Promise<IngestJob>,
    private readonly socket: Socket,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    const ready = jobPromise.then(
      (job) => {
        this.job = job;
      },
      (error: unknown) => {
        this.jobError = error;
      },
    );
    this.outcome = new Promise<StoreOutcome>((resolve, reject) => {
      this.once('finish', () => {
        void ready
          .then(() => (this.job ? this.job.finish() : Promise.reject(this.jobError)))
          .then(resolve, reject);
      });
      this.once('error', reject);
    });
    // dcmjs-dimse may never look at the outcome if the association dies; keep that from crashing the process.
    this.outcome.catch(() => undefined);
    this.ready = ready;
  }

  private readonly ready: Promise<void>;

  override write(chunk: unknown, ...rest: unknown[]): boolean {
    const ok = (super.write as (chunk: unknown, ...args: unknown[]) => boolean)(chunk, ...rest);
    if (!ok && !this.socket.isPaused()) {
      this.socket.pause();
      this.once('drain', () => this.socket.resume());
    }
    return ok;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.job) {
      this.job.write(chunk).then(() => callback(), callback);
      return;
    }
    this.ready.then(() => (this.job ? this.job.write(chunk) : undefined)).then(() => callback(), callback);
  }

  /** The association ended before the dataset did: drop what was received. */
  async discard(): Promise<void> {
    await this.ready;
    if (this.job) await this.job.abort();
    if (!this.writableFinished) this.destroy();
  }
}
