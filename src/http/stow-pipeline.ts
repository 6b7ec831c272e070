/**
 * The parts of one STOW request, stored while the next ones are read: each part's bytes are taken in
 * before the next part is read, but its fsyncs overlap the parts after it. Index rows are still written
 * in the order of the parts (so "the first instance stored" of a study is the first one sent), results
 * keep that order, and parts of one SOP instance are stored one after another in that order (the later
 * one is the duplicate, the conflict or the overwrite). Parts in flight are bounded in number
 * and in bytes, since each holds up to a megabyte not yet written.
 */
import type { ReceivedInstance } from '../ingest/store-instance.js';
import type { PartResult } from './stow-response.js';

/** Parts stored at once. */
const MAX_PARTS = 8;
/** Bytes of the parts in flight beyond which the next part waits (one large part runs alone). */
const MAX_BYTES = 1024 * 1024;

interface InFlight {
  bytes: number;
  sopInstanceUid: string | undefined;
  outcome: Promise<PartResult>;
}

export class StowPipeline {
  private readonly pending: InFlight[] = [];
  private pendingBytes = 0;
  /** The outcome of the part added last: the next part's index row waits for it. */
  private previous: Promise<PartResult> | undefined;

  /** `results` receives each outcome, in order, as it settles. */
  constructor(private readonly results: PartResult[]) {}

  /** Parts taken so far, stored or not yet. */
  get parts(): number {
    return this.results.length + this.pending.length;
  }

  /** Starts storing a received part; returns once there is room for the next. */
  async add(part: ReceivedInstance): Promise<void> {
    const uid = part.sopInstanceUid;
    // An earlier part of the same instance is stored first; so is every earlier part when either side
    // is not identified yet.
    const mustWait = (p: InFlight) =>
      uid === undefined || p.sopInstanceUid === undefined || p.sopInstanceUid === uid;
    while (this.pending.some(mustWait)) await this.settleOldest();
    const outcome = part.store(this.previous);
    this.previous = outcome;
    this.push({ bytes: part.bytes, sopInstanceUid: uid, outcome });
    while (this.pending.length >= MAX_PARTS || (this.pendingBytes > MAX_BYTES && this.pending.length > 0)) {
      await this.settleOldest();
    }
  }

  /** A part that never reached ingest (wrong media type): it only takes its place in the results. */
  async refuse(result: PartResult): Promise<void> {
    await this.drain();
    this.results.push(result);
  }

  /** Waits for every part in flight. */
  async drain(): Promise<void> {
    while (this.pending.length > 0) await this.settleOldest();
  }

  private push(entry: InFlight): void {
    this.pending.push(entry);
    this.pendingBytes += entry.bytes;
  }

  private async settleOldest(): Promise<void> {
    const oldest = this.pending.shift()!;
    this.pendingBytes -= oldest.bytes;
    this.results.push(await oldest.outcome);
  }
}
