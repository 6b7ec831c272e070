/**
 * The one way in. Both doors and the CLI import call it: receive the bytes (temp object + streaming
 * parse), validate, apply the duplicate policy, make the file durable under its key, index it in one
 * transaction, and only then report success. If indexing fails the file is removed. A crash between the
 * two, or a power loss that takes back the index commit, leaves the placed file's marker, and start-up
 * indexes the file: never an index row without its file, never an acknowledged file without its row.
 */
import type { Logger } from 'pino';
import { buildFileMetaHeader } from '../dicom/file-meta.js';
import type { ReaderLimits } from '../dicom/dataset-reader.js';
import { DicomParseError } from '../dicom/errors.js';
import { GatewayError, toGatewayError } from '../errors.js';
import type { IndexStore, InstanceRecord } from '../index/index-store.js';
import type { FileStore, ObjectWriter } from '../storage/file-store.js';
import { extractRecord } from './extract-record.js';
import { KeyedMutex } from './keyed-mutex.js';
import { removeQueuedFiles } from './remove-files.js';
import type { RequestOrigin } from './origin.js';
import type { InstanceIdentity, StoreOutcome } from './outcome.js';
import { InstanceReceiver } from './receive-instance.js';
import { readIdentity, validateInstance, type Expectations } from './validate-instance.js';

export type Door = 'dimse' | 'stow' | 'import';

export interface IngestOptions {
  /** Replace an instance with the same SOP Instance UID and different content (otherwise refuse it). */
  overwrite: boolean;
  maxInstanceBytes: number;
  acceptSopClass: (sopClassUid: string) => boolean;
  readerLimits?: Partial<ReaderLimits>;
}

export interface BeginOptions {
  door: Door;
  callingAETitle?: string;
  /** A bare dataset (C-STORE): the gateway writes File Meta Information naming these in front of it. */
  dataset?: { sopClassUid: string; sopInstanceUid: string; transferSyntaxUid: string };
  /** STOW-RS to /studies/{study}: instances of other studies are refused. */
  expectedStudyInstanceUid?: string;
  /** Who sent the instance, for the listeners (the audit trail); ingest itself never reads it. */
  origin?: RequestOrigin;
  /**
   * A child of the service's logger binding who asked (reqId; associationId and callingAE): ingest's
   * lines about this instance go through it. The service's own logger otherwise.
   */
  log?: Logger;
  /**
   * Listeners hear of the outcome at the end of the event loop's turn, once the door has answered,
   * rather than before the door gets it: for a door whose peer waits for each answer before sending
   * more (one C-STORE association). They still come before the loop takes in anything new.
   */
  notifyAfterAnswer?: boolean;
}

/** An instance whose bytes are all in, not stored yet. */
export interface ReceivedInstance {
  bytes: number;
  /** As far as the parse has read it; undefined when not known yet. */
  sopInstanceUid: string | undefined;
  /** `indexAfter`: the index row is written only once this settles (keeps the rows in a given order). */
  store(indexAfter?: Promise<unknown>): Promise<StoreOutcome>;
}

/** Observers for metrics and audit; the ingest core does not know who listens. */
export interface IngestListener {
  (event: { door: Door; outcome: StoreOutcome; callingAETitle?: string; origin?: RequestOrigin }): void;
}

export class IngestService {
  private readonly locks = new KeyedMutex();
  private readonly listeners: IngestListener[] = [];
  /** Marker removals waiting for their index rows to become durable. */
  private readonly confirming = new Set<Promise<void>>();

  constructor(
    private readonly store: FileStore,
    private readonly index: IndexStore,
    private readonly options: IngestOptions,
    private readonly log: Logger,
  ) {}

  /** Called for every outcome: before the door gets it, or at the end of that turn (notifyAfterAnswer). */
  onStored(listener: IngestListener): void {
    this.listeners.push(listener);
  }

  /** Starts receiving one instance. Write its bytes to the job, then call finish (or abort). */
  async begin(options: BeginOptions): Promise<IngestJob> {
    const writer = await this.store.createWriter();
    return new IngestJob(this, writer, options);
  }

  /** Convenience for a whole stream (one STOW part, one file). */
  async ingestStream(stream: AsyncIterable<Buffer>, options: BeginOptions): Promise<StoreOutcome> {
    return (await this.receive(stream, options)).store();
  }

  /**
   * Takes in a whole stream and returns once it is consumed; `store` then makes the instance durable and
   * indexes it. A caller may read what follows (the next STOW part) meanwhile.
   */
  async receive(stream: AsyncIterable<Buffer>, options: BeginOptions): Promise<ReceivedInstance> {
    let job: IngestJob;
    try {
      job = await this.begin(options);
    } catch (error) {
      for await (const _chunk of stream) {
        // drain: the caller's next part starts after this one
      }
      const outcome = this.report(options, {
        ok: false,
        error: toGatewayError(error),
        instance: {},
        bytes: 0,
      });
      return { bytes: 0, sopInstanceUid: undefined, store: () => Promise.resolve(outcome) };
    }
    try {
      for await (const chunk of stream) await job.write(chunk);
    } catch (error) {
      await job.abort();
      throw error;
    }
    return {
      bytes: job.bytesReceived,
      sopInstanceUid: job.sopInstanceUid,
      store: (indexAfter) => job.finish(indexAfter),
    };
  }

  /** Called by IngestJob once all bytes are in. */
  async complete(
    receiver: InstanceReceiver,
    writer: ObjectWriter,
    options: BeginOptions,
    indexAfter?: Promise<unknown>,
  ): Promise<StoreOutcome> {
    const bytes = receiver.bytesReceived;
    let identity: Partial<InstanceIdentity> = {};
    try {
      const parsed = await receiver.finish();
      identity = readIdentity(parsed);
      const expected: Expectations = {
        sopClassUid: options.dataset?.sopClassUid,
        sopInstanceUid: options.dataset?.sopInstanceUid,
        studyInstanceUid: options.expectedStudyInstanceUid,
      };
      const valid = validateInstance(parsed, expected, this.options.acceptSopClass);
      identity = valid;
      const datasetSha256 = receiver.datasetDigest();
      const status = await this.locks.run(valid.sopInstanceUid, () =>
        this.commit(
          writer,
          valid,
          datasetSha256,
          (fileKey) =>
            extractRecord(
              parsed,
              valid,
              { fileKey, fileSize: writer.size, sha256: writer.digest(), datasetSha256 },
              { door: options.door, callingAETitle: options.callingAETitle },
            ),
          indexAfter,
        ),
      );
      return this.report(options, { ok: true, status, instance: valid, bytes });
    } catch (error) {
      await writer.abort().catch(() => undefined);
      // What the record is built from can still turn out unreadable (a frame layout the pixel data does
      // not fit): that is the instance's fault, "cannot understand", not a processing failure.
      const failure =
        error instanceof DicomParseError
          ? new GatewayError('INVALID_DICOM', error.message)
          : toGatewayError(error);
      if (failure.code === 'PROCESSING_FAILURE' || failure.code === 'OUT_OF_RESOURCES') {
        (options.log ?? this.log).error(
          { err: error, sopInstanceUid: identity.sopInstanceUid },
          'storing an instance failed',
        );
      }
      return this.report(options, { ok: false, error: failure, instance: identity, bytes });
    }
  }

  /** Duplicate policy, durable placement, indexing; runs under the instance's lock. */
  private async commit(
    writer: ObjectWriter,
    id: InstanceIdentity,
    datasetSha256: string,
    buildRecord: (fileKey: string) => InstanceRecord,
    indexAfter?: Promise<unknown>,
  ): Promise<'stored' | 'replaced' | 'duplicate'> {
    const existing = this.index.getInstance(id.sopInstanceUid);
    if (existing) {
      // Same dataset bytes is the same instance, whatever File Meta Information came with it.
      if (existing.storage.datasetSha256 === datasetSha256) {
        await writer.abort();
        return 'duplicate';
      }
      if (!this.options.overwrite) {
        throw new GatewayError(
          'DUPLICATE_CONFLICT',
          `SOP instance ${id.sopInstanceUid} is already stored with different content (overwrite is off)`,
        );
      }
    }

    const keys = fileKeysFor(id, writer.digest());
    const placing = this.placeFile(writer, keys);
    // Its failure is taken up below, once the record is built.
    placing.catch(() => undefined);
    // The record is built while the file's fsyncs run: by the next turn of the event loop the microtasks
    // that place the file have started them.
    await new Promise((resolve) => setImmediate(resolve));
    let record: InstanceRecord | undefined;
    let unreadable: unknown;
    try {
      record = buildRecord(keys[0]!);
    } catch (error) {
      unreadable = error;
    }
    const fileKey = await placing;
    try {
      // What the record is built from can fail too (e.g. unreadable frame layout); the placed file must
      // then go.
      if (!record) throw unreadable;
      await indexAfter?.catch(() => undefined);
      const placed =
        record.storage.fileKey === fileKey ? record : { ...record, storage: { ...record.storage, fileKey } };
      this.index.putInstance(placed);
    } catch (error) {
      await this.store
        .remove(fileKey)
        .catch((removeError: unknown) =>
          this.log.error({ err: removeError, fileKey }, 'could not remove a file whose indexing failed'),
        );
      throw error;
    }
    // The marker stays until the index row would survive a power loss, so that start-up can index the
    // file again should a crash take the row back.
    const confirmed = this.index.durable().then(() => writer.confirm());
    this.confirming.add(confirmed);
    void confirmed.finally(() => this.confirming.delete(confirmed));
    if (existing && existing.storage.fileKey !== fileKey) {
      await removeQueuedFiles(this.store, this.index, [existing.storage.fileKey], this.log);
    }
    return existing ? 'replaced' : 'stored';
  }

  /** Commits under the first of `keys` that is free. */
  private async placeFile(writer: ObjectWriter, keys: string[]): Promise<string> {
    for (const key of keys) {
      try {
        await writer.commit(key);
        return key;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    throw new GatewayError('PROCESSING_FAILURE', `no free file name for ${keys[0]}`);
  }

  private report(options: BeginOptions, outcome: StoreOutcome): StoreOutcome {
    const event = {
      door: options.door,
      outcome,
      callingAETitle: options.callingAETitle,
      origin: options.origin,
    };
    // The event loop's check phase, where setImmediate runs, comes before its next poll for input.
    if (options.notifyAfterAnswer) setImmediate(() => this.notify(event));
    else this.notify(event);
    const log = options.log ?? this.log;
    if (outcome.ok) {
      log.debug({ door: options.door, ...outcome.instance, status: outcome.status }, 'instance stored');
    } else {
      log.info(
        {
          door: options.door,
          sopInstanceUid: outcome.instance.sopInstanceUid,
          code: outcome.error.code,
          reason: outcome.error.message,
        },
        'instance refused',
      );
    }
    return outcome;
  }

  private notify(event: Parameters<IngestListener>[0]): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Waits for the pending marker removals; after the index has closed, that is all of them. */
  async confirmed(): Promise<void> {
    await Promise.all(this.confirming);
  }

  get maxInstanceBytes(): number {
    return this.options.maxInstanceBytes;
  }

  get readerLimits(): Partial<ReaderLimits> | undefined {
    return this.options.readerLimits;
  }
}

/** Where an instance's file goes: files/<study>/<series>/<sop>.dcm, or a content-suffixed name if taken. */
function fileKeysFor(id: InstanceIdentity, digest: string): string[] {
  const base = `files/${id.studyInstanceUid}/${id.seriesInstanceUid}/${id.sopInstanceUid}`;
  const short = digest.slice(0, 16);
  return [`${base}.dcm`, `${base}.${short}.dcm`, `${base}.${short}.${Date.now()}.dcm`];
}

export class IngestJob {
  private readonly receiver: InstanceReceiver;
  private finished = false;

  constructor(
    private readonly service: IngestService,
    private readonly writer: ObjectWriter,
    private readonly options: BeginOptions,
  ) {
    const header = options.dataset
      ? buildFileMetaHeader({
          sopClassUid: options.dataset.sopClassUid,
          sopInstanceUid: options.dataset.sopInstanceUid,
          transferSyntaxUid: options.dataset.transferSyntaxUid,
          sourceAETitle: options.callingAETitle,
        })
      : undefined;
    this.receiver = new InstanceReceiver(writer, {
      maxInstanceBytes: service.maxInstanceBytes,
      readerLimits: service.readerLimits,
      fileMetaHeader: header,
    });
  }

  write(chunk: Buffer): Promise<void> {
    return this.receiver.write(chunk);
  }

  get bytesReceived(): number {
    return this.receiver.bytesReceived;
  }

  get sopInstanceUid(): string | undefined {
    return this.receiver.sopInstanceUid;
  }

  finish(indexAfter?: Promise<unknown>): Promise<StoreOutcome> {
    this.finished = true;
    return this.service.complete(this.receiver, this.writer, this.options, indexAfter);
  }

  /** Drops everything received (connection lost mid-instance). Nothing is reported. */
  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.writer.abort();
  }
}
