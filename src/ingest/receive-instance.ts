/**
 * Receiving one instance's bytes: each chunk goes to a temporary object and through the parser at the
 * same time, so nothing is held in memory but the small attribute values. A failure (bad bytes, too
 * large) is remembered and the rest of the input is drained, not written, so the caller's stream can
 * go on to its next part.
 */
import { createHash } from 'node:crypto';
import { createInflateRaw, type InflateRaw } from 'node:zlib';
import {
  DatasetReader,
  UnsupportedTransferSyntaxError,
  type ParsedDicom,
  type ReaderLimits,
} from '../dicom/dataset-reader.js';
import { DicomParseError } from '../dicom/errors.js';
import { Tag } from '../dicom/tags.js';
import { getString } from '../dicom/values.js';
import { GatewayError, toGatewayError } from '../errors.js';
import type { ObjectWriter } from '../storage/file-store.js';

export interface ReceiveOptions {
  maxInstanceBytes: number;
  readerLimits?: Partial<ReaderLimits>;
  /** For a bare dataset (C-STORE): its transfer syntax and the File Meta Information written before it. */
  fileMetaHeader?: Buffer;
}

export class InstanceReceiver {
  private readonly reader: DatasetReader;
  private inflater: InflateRaw | undefined;
  private inflated = 0;
  private failure: GatewayError | undefined;
  private received = 0;
  /** Bytes taken in so far, the gateway's File Meta Information included. */
  private position = 0;
  /** Hash of the dataset without its File Meta Information: what "the same instance" means for duplicates. */
  private readonly datasetHash = createHash('sha256');
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly writer: ObjectWriter,
    private readonly options: ReceiveOptions,
  ) {
    this.reader = new DatasetReader({ limits: options.readerLimits });
    if (options.fileMetaHeader) this.accept(options.fileMetaHeader);
  }

  /** Bytes of the instance received so far (the File Meta Information the gateway wrote not included). */
  get bytesReceived(): number {
    return this.received;
  }

  /**
   * The dataset's SOP Instance UID as far as it has been read (before finish; undefined if not read yet,
   * e.g. while a deflated dataset is still inflating, or after a failure).
   */
  get sopInstanceUid(): string | undefined {
    const dataset = this.reader.partialDataset;
    if (!dataset || this.failure) return undefined;
    try {
      return getString(dataset, Tag.SOPInstanceUID);
    } catch {
      return undefined;
    }
  }

  get failed(): GatewayError | undefined {
    return this.failure;
  }

  /** Takes the next chunk; resolves when it is safe to send more (the disk has caught up). */
  write(chunk: Buffer): Promise<void> {
    this.received += chunk.length;
    if (this.failure) return Promise.resolve();
    if (this.received > this.options.maxInstanceBytes) {
      this.fail(
        new GatewayError(
          'PAYLOAD_TOO_LARGE',
          `instance is larger than the limit of ${this.options.maxInstanceBytes} bytes`,
        ),
      );
      return Promise.resolve();
    }
    this.accept(chunk);
    return this.writing;
  }

  /** Ends the input; returns the parse result, or throws the failure that stopped it. */
  async finish(): Promise<ParsedDicom> {
    await this.writing;
    if (this.inflater && !this.failure) {
      const inflater = this.inflater;
      await new Promise<void>((resolve) => {
        inflater.once('end', resolve);
        inflater.once('error', () => resolve());
        // Going over the inflated limit while the rest drains destroys the inflater: no 'end', no
        // 'error', only 'close'. Without this the upload would hang, holding its temp file for good.
        inflater.once('close', () => resolve());
        inflater.end();
      });
    }
    if (this.failure) throw this.failure;
    try {
      return this.reader.end();
    } catch (error) {
      throw this.asGatewayError(error);
    }
  }

  /** SHA-256 (hex) of the dataset bytes, File Meta Information excluded; valid after finish. */
  datasetDigest(): string {
    return this.datasetHash.copy().digest('hex');
  }

  private accept(chunk: Buffer): void {
    const start = this.position;
    this.position += chunk.length;
    this.writing = this.writing
      .then(() => (this.failure ? undefined : this.writer.write(chunk)))
      .catch((error: unknown) => this.fail(toGatewayError(error)));
    if (this.inflater) {
      this.inflater.write(chunk);
    } else {
      this.parse(chunk);
    }
    // The meta information is small and comes first, so its end is known by the time dataset bytes arrive.
    const datasetStart = this.reader.datasetStart;
    if (datasetStart !== undefined && this.position > datasetStart) {
      this.datasetHash.update(start >= datasetStart ? chunk : chunk.subarray(datasetStart - start));
    }
  }

  private parse(chunk: Buffer): void {
    if (this.failure) return;
    try {
      const deflatedRest = this.reader.write(chunk);
      if (deflatedRest) this.startInflating(deflatedRest);
    } catch (error) {
      this.fail(this.asGatewayError(error));
    }
  }

  /** Deflated Explicit VR Little Endian: the dataset after the meta information is raw deflate (PS3.5 A.5). */
  private startInflating(firstBytes: Buffer): void {
    // Large output chunks: a deflate bomb is parsed (its bulk skipped) five times faster than in the
    // default 16 KiB pieces, whose per-chunk cost dominates.
    const inflater = createInflateRaw({ chunkSize: 256 * 1024 });
    this.inflater = inflater;
    // A deflate bomb must not turn a small upload into unbounded work: the inflated dataset is the
    // instance, held to the same limit (retrieval may also need it inflated whole).
    const limit = this.options.maxInstanceBytes;
    inflater.on('data', (data: Buffer) => {
      this.inflated += data.length;
      if (this.inflated > limit) {
        this.fail(
          new GatewayError(
            'PAYLOAD_TOO_LARGE',
            `deflated dataset inflates beyond the instance limit of ${limit} bytes (limits.maxInstanceBytes)`,
          ),
        );
        inflater.destroy();
        return;
      }
      this.parse(data);
    });
    inflater.on('error', (error) =>
      this.fail(new GatewayError('INVALID_DICOM', `bad deflated dataset: ${error.message}`)),
    );
    inflater.write(firstBytes);
  }

  private fail(error: GatewayError): void {
    this.failure ??= error;
  }

  private asGatewayError(error: unknown): GatewayError {
    if (error instanceof UnsupportedTransferSyntaxError) {
      return new GatewayError('TRANSFER_SYNTAX_NOT_SUPPORTED', error.message);
    }
    if (error instanceof DicomParseError) return new GatewayError('INVALID_DICOM', error.message);
    return toGatewayError(error);
  }
}
