/** What every phase gets: sizes, the shared synthetic corpus, and what each server's index holds. */
import { mkdir, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stow } from './http.js';
import { pool } from './stats.js';
import { CtFactory, TinyStudies, UidSource, type CtSeries } from './synthetic.js';
import { indexFileSizes, type MoveConfig, type Target } from './targets.js';

/** The fill stops the run when less than this is free on the work directory's disk. */
const MIN_FREE_GB = 3;

export interface Sizes {
  /** Instances per ingest phase (stow, stow-batch, cstore, cstore-4). */
  instances: number;
  /** Instances each server ingests, unmeasured, before the first ingest phase (half STOW, half C-STORE). */
  warmupInstances: number;
  /** Index sizes, in studies, at which the QIDO mix is measured. */
  qidoStudies: number[];
  /** Repeats of each QIDO query kind at each size (after one unmeasured warm-up). */
  qidoRepeats: number;
  metadataInstances: number;
  metadataRepeats: number;
  /** Rows and columns of the CT slices of frames, rendered, retrieve and cmove. */
  ctSize: number;
  framesInstances: number;
  /** Times every frame of the frames series is fetched (one pass takes well under a second). */
  framesPasses: number;
  renderedInstances: number;
  /** Distinct images of each kind (CT slice, CR) in rendered-images. */
  renderedImages: number;
  crRows: number;
  crColumns: number;
  retrieveInstances: number;
  retrieveRepeats: number;
  /** Concurrent clients of frames and rendered (a browser opens 6 connections per host). */
  clients: number;
  /** Instances in the index at the last growth checkpoint. */
  growthInstances: number;
  /** Instances ingested (per door) to measure the ingest rate at each growth checkpoint. */
  growthSample: number;
  /** Growth checkpoints above this are measured on the gateway only. */
  peerMaxInstances: number;
  /** Megabytes ingested per door in rss1g. */
  rssMegabytes: number;
  /** Filling the index: instances per STOW request and concurrent requests. */
  fillParts: number;
  fillClients: number;
}

export const DEFAULT_SIZES: Sizes = {
  // Each server's ingest phase runs in two halves of 2,000: at about 1,000 instances/s a half of 500 took
  // half a second, short enough for one stall of the disk to move a ratio by a tenth.
  instances: 4000,
  warmupInstances: 4000,
  qidoStudies: [10_000, 100_000],
  qidoRepeats: 20,
  metadataInstances: 1000,
  metadataRepeats: 20,
  ctSize: 512,
  framesInstances: 300,
  framesPasses: 5,
  renderedInstances: 300,
  renderedImages: 20,
  crRows: 2500,
  crColumns: 2000,
  retrieveInstances: 500,
  retrieveRepeats: 3,
  clients: 6,
  growthInstances: 100_000,
  growthSample: 500,
  peerMaxInstances: 100_000,
  rssMegabytes: 1024,
  fillParts: 100,
  fillClients: 8,
};

export const SMOKE_SIZES: Sizes = {
  instances: 20,
  warmupInstances: 4,
  qidoStudies: [150, 300],
  qidoRepeats: 3,
  metadataInstances: 20,
  metadataRepeats: 3,
  ctSize: 64,
  framesInstances: 10,
  framesPasses: 1,
  renderedInstances: 10,
  renderedImages: 2,
  crRows: 250,
  crColumns: 200,
  retrieveInstances: 20,
  retrieveRepeats: 1,
  clients: 4,
  growthInstances: 600,
  growthSample: 20,
  peerMaxInstances: 600,
  rssMegabytes: 8,
  fillParts: 50,
  fillClients: 4,
};

export interface Inventory {
  instances: number;
  studies: number;
  /** Filler studies (TinyStudies indexes 0..n-1) stored so far. */
  filler: number;
}

export class Context {
  readonly uids = new UidSource();
  private tinyFactory?: TinyStudies;
  private readonly ctFactories = new Map<number, CtFactory>();
  private readonly inventories = new Map<string, Inventory>();
  private readonly shared = new Map<string, Promise<unknown>>();
  /** Printed and written with the results. */
  readonly notes: string[] = [];

  constructor(
    readonly workDir: string,
    readonly sizes: Sizes,
    readonly maxPduLength: number,
    /** Missing dcmtk tools; phases needing them skip (or the run fails when CI is set). */
    readonly missingDcmtk: string[],
    readonly move: MoveConfig,
  ) {}

  get tiny(): TinyStudies {
    return (this.tinyFactory ??= new TinyStudies(this.uids));
  }

  ct(size = this.sizes.ctSize): CtFactory {
    let factory = this.ctFactories.get(size);
    if (!factory) this.ctFactories.set(size, (factory = new CtFactory(this.uids, size, size)));
    return factory;
  }

  inventory(target: Target): Inventory {
    let inventory = this.inventories.get(target.name);
    if (!inventory) this.inventories.set(target.name, (inventory = { instances: 0, studies: 0, filler: 0 }));
    return inventory;
  }

  stored(target: Target, instances: number, studies: number): void {
    const inventory = this.inventory(target);
    inventory.instances += instances;
    inventory.studies += studies;
  }

  /** The same value for every target of the run (the same corpus for both servers), made once. */
  once<T>(key: string, make: () => Promise<T>): Promise<T> {
    let value = this.shared.get(key) as Promise<T> | undefined;
    if (!value) this.shared.set(key, (value = make()));
    return value;
  }

  /** A CT study shared by all targets: series of the given sizes. */
  ctStudy(key: string, seriesSizes: number[], size = this.sizes.ctSize): Promise<CtSeries[]> {
    return this.once(`ct:${key}`, async () => this.ct(size).study(seriesSizes));
  }

  /**
   * Stops the run with a clear message before the disk fills up (a server whose write-ahead log grows
   * without bound during a long fill would otherwise end in ENOSPC errors from everything).
   */
  async checkDiskSpace(target: Target): Promise<void> {
    const fs = await statfs(this.workDir);
    const freeGb = (fs.bavail * fs.bsize) / 2 ** 30;
    if (freeGb < MIN_FREE_GB) {
      const { dbMb, walMb } = indexFileSizes(target);
      throw new Error(
        `only ${freeGb.toFixed(1)} GB free under ${this.workDir} while filling ${target.name} ` +
          `(index ${dbMb.toFixed(0)} MB, write-ahead log ${walMb.toFixed(0)} MB): stopping the run`,
      );
    }
  }

  /** Writes instances to `dir` (for storescu), returning their paths. */
  async writeFiles(dir: string, count: number, bytes: (i: number) => Buffer): Promise<string[]> {
    await mkdir(dir, { recursive: true });
    const paths: string[] = [];
    for (let i = 0; i < count; i++) {
      const path = join(dir, `${i}.dcm`);
      await writeFile(path, bytes(i));
      paths.push(path);
    }
    return paths;
  }

  /**
   * Stores CT series through STOW (`parts` per request, `clients` at once): the way phases put their
   * corpus on a server before measuring it.
   */
  async stowSeries(target: Target, series: CtSeries[], parts = 25, clients = 2): Promise<void> {
    const instances = series.flatMap((s) => s.instances);
    const batches = Math.ceil(instances.length / parts);
    await pool(batches, clients, (b) =>
      stow(
        target.dicomweb,
        instances.slice(b * parts, (b + 1) * parts).map((i) => i.bytes()),
      ),
    );
    this.stored(target, instances.length, new Set(series.map((s) => s.study)).size);
  }

  /**
   * Fills the index with tiny one-instance studies until it holds `instances` instances (or, with
   * `studies`, that many studies), through STOW like any client would.
   */
  async fill(target: Target, goal: { instances?: number; studies?: number }): Promise<number> {
    const inventory = this.inventory(target);
    const missing = Math.max(
      (goal.instances ?? 0) - inventory.instances,
      (goal.studies ?? 0) - inventory.studies,
      0,
    );
    if (missing === 0) return 0;
    const { fillParts, fillClients } = this.sizes;
    const first = inventory.filler;
    const batches = Math.ceil(missing / fillParts);
    const started = performance.now();
    let done = 0;
    let lastReport = started;
    await pool(batches, fillClients, async (b) => {
      const from = first + b * fillParts;
      const to = Math.min(first + missing, from + fillParts);
      const parts: Buffer[] = [];
      for (let i = from; i < to; i++) parts.push(this.tiny.instance(i).bytes);
      await stow(target.dicomweb, parts);
      done += parts.length;
      const now = performance.now();
      if (now - lastReport > 15_000) {
        lastReport = now;
        const rate = done / ((now - started) / 1000);
        const { dbMb, walMb } = indexFileSizes(target);
        process.stderr.write(
          `  filling ${target.name}: ${inventory.instances + done} instances, ${rate.toFixed(0)}/s; ` +
            `index ${dbMb.toFixed(0)} MB, WAL ${walMb.toFixed(0)} MB\n`,
        );
        await this.checkDiskSpace(target);
      }
    });
    inventory.filler += missing;
    this.stored(target, missing, missing);
    const seconds = (performance.now() - started) / 1000;
    const { dbMb, walMb } = indexFileSizes(target);
    process.stderr.write(
      `  filled ${target.name} with ${missing} studies in ${seconds.toFixed(1)} s ` +
        `(${(missing / seconds).toFixed(0)}/s); index: ${inventory.instances} instances, ` +
        `${dbMb.toFixed(0)} MB + WAL ${walMb.toFixed(0)} MB\n`,
    );
    return seconds;
  }
}
