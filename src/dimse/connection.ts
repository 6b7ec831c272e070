/**
 * One DIMSE association over one socket, either side: PDU framing, message assembly (command, then
 * dataset streamed to its consumer), sending messages fragmented to the peer's maximum PDU, matching
 * responses to our requests, release, abort, and the idle timer. The acceptor and requestor classes add
 * association establishment on top.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { CommandField, decodeCommand, encodeCommand, type Command } from './command-set.js';
import {
  AbortReason,
  ContextResult,
  PduType,
  ProtocolError,
  decodePdu,
  encodeAbort,
  encodePDataHeader,
  encodeReleaseRP,
  encodeReleaseRQ,
  type AcceptedContext,
  type Pdu,
  type Pdv,
} from './pdu.js';
import { PduFramer, type RawPdu } from './pdu-framer.js';

export interface NegotiatedContext {
  id: number;
  abstractSyntax: string;
  transferSyntax: string;
}

export interface IncomingRequest {
  context: NegotiatedContext;
  command: Command;
}

/** Where the dataset of an incoming message goes. */
export interface DatasetConsumer {
  /** Takes the next fragment; a returned promise pauses reading until it settles. */
  write(fragment: Buffer): void | Promise<void>;
  /** The last fragment has been written. */
  end(): void;
  /** The association ended before the dataset did. */
  abort(): void;
}

export interface RequestHandling {
  /** For requests with a dataset: a consumer, or 'buffer' to receive it whole (identifiers, small). */
  dataset?: DatasetConsumer | 'buffer';
  /** Runs the operation once its dataset (if any) has arrived; sends its own responses. */
  run(dataset?: Buffer): Promise<void>;
  /** C-CANCEL for this request's message ID. */
  cancel?(): void;
}

export interface ResponseMessage {
  command: Command;
  dataset?: Buffer;
}

export interface ConnectionOptions {
  /** Largest P-DATA-TF variable field we accept (our announced maximum). */
  maxPduLength: number;
  /** No PDU in either direction for this long ends the association (A-ABORT). */
  idleTimeoutMs: number;
  log: Logger;
}

/** Buffered datasets (C-FIND identifiers, retrieve keys) are small; a larger one is a protocol abuse. */
const MAX_BUFFERED_DATASET = 4 * 1024 * 1024;
/** Command sets are a few hundred bytes; fragments that never end must not be buffered without bound. */
const MAX_COMMAND_SET = 64 * 1024;
/** Received PDUs waiting for a slow consumer before the socket is paused. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** The peer announced no limit (0): still send at most this much per PDU. */
const DEFAULT_SEND_PDU = 256 * 1024;

interface Assembly {
  context: NegotiatedContext;
  commandParts: Buffer[];
  commandSize: number;
  command?: Command;
  handling?: RequestHandling;
  /** A response to one of our requests, and its dataset parts. */
  response?: { parts: Buffer[]; size: number };
  buffered?: { parts: Buffer[]; size: number };
}

interface PendingRequest {
  onResponse(message: ResponseMessage): void;
  onClose(error: Error): void;
}

export abstract class DimseConnection extends EventEmitter {
  readonly contexts = new Map<number, NegotiatedContext>();
  peerMaxPduLength = DEFAULT_SEND_PDU;
  protected state: 'awaiting-association' | 'established' | 'releasing' | 'closed' = 'awaiting-association';
  protected log: Logger;

  private readonly framer: PduFramer;
  private readonly queue: RawPdu[] = [];
  private queuedBytes = 0;
  private pumping = false;
  private assembly: Assembly | undefined;
  private readonly operations = new Map<number, RequestHandling>();
  private readonly running = new Set<Promise<void>>();
  private readonly pending = new Map<number, PendingRequest>();
  private sendChain: Promise<void> = Promise.resolve();
  private nextMessageId = 1;
  private idleTimer: NodeJS.Timeout | undefined;
  readonly closed: Promise<void>;

  constructor(
    protected readonly socket: Socket,
    protected readonly options: ConnectionOptions,
  ) {
    super();
    this.log = options.log;
    this.framer = new PduFramer(options.maxPduLength);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.log.debug({ err: error }, 'socket error'));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.onSocketClosed());
  }

  /** Operations running on this association (for draining). */
  get busy(): boolean {
    return this.running.size > 0 || this.assembly !== undefined || this.pending.size > 0;
  }

  /** Handles a P-DATA request from the peer; subclasses decide which services exist. */
  protected abstract handleRequest(request: IncomingRequest): RequestHandling;

  /** Association-establishment PDUs; the other PDUs are handled here. */
  protected abstract handleAssociationPdu(pdu: Pdu): void | Promise<void>;

  // ---------- receiving ----------

  private onData(chunk: Buffer): void {
    this.touch();
    let pdus: RawPdu[];
    try {
      pdus = this.framer.push(chunk);
    } catch (error) {
      this.protocolFailure(error);
      return;
    }
    for (const pdu of pdus) {
      this.queue.push(pdu);
      this.queuedBytes += pdu.body.length;
    }
    if (this.queuedBytes > MAX_QUEUED_BYTES) this.socket.pause();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && this.state !== 'closed') {
        const raw = this.queue.shift()!;
        this.queuedBytes -= raw.body.length;
        if (this.socket.isPaused() && this.queuedBytes <= MAX_QUEUED_BYTES / 2) this.socket.resume();
        const pdu = decodePdu(raw.type, raw.body);
        await this.onPdu(pdu);
      }
    } catch (error) {
      this.protocolFailure(error);
    } finally {
      this.pumping = false;
    }
  }

  private async onPdu(pdu: Pdu): Promise<void> {
    switch (pdu.type) {
      case PduType.PData:
        if (this.state !== 'established' && this.state !== 'releasing') {
          throw new ProtocolError(
            'P-DATA-TF before the association was established',
            AbortReason.UnexpectedPdu,
          );
        }
        for (const pdv of pdu.pdvs) await this.onPdv(pdv);
        return;
      case PduType.ReleaseRQ:
        if (this.state !== 'established')
          throw new ProtocolError('unexpected A-RELEASE-RQ', AbortReason.UnexpectedPdu);
        this.state = 'releasing';
        // Answer once the operations already asked for are done (PS3.8 7.2).
        await Promise.allSettled([...this.running]);
        this.write(encodeReleaseRP());
        this.socket.end();
        return;
      case PduType.ReleaseRP:
        if (this.state !== 'releasing')
          throw new ProtocolError('unexpected A-RELEASE-RP', AbortReason.UnexpectedPdu);
        this.socket.end();
        this.emit('released');
        return;
      case PduType.Abort:
        this.log.info({ source: pdu.source, reason: pdu.reason }, 'association aborted by the peer');
        this.destroy();
        return;
      default:
        await this.handleAssociationPdu(pdu);
    }
  }

  private async onPdv(pdv: Pdv): Promise<void> {
    const context = this.contexts.get(pdv.contextId);
    if (!context) {
      throw new ProtocolError(
        `PDV for presentation context ${pdv.contextId}, which was not accepted`,
        AbortReason.UnexpectedPduParameter,
      );
    }
    let assembly = this.assembly;
    if (!assembly) {
      if (!pdv.command)
        throw new ProtocolError('dataset fragment without a command', AbortReason.UnexpectedPduParameter);
      assembly = this.assembly = { context, commandParts: [], commandSize: 0 };
    } else if (assembly.context.id !== pdv.contextId) {
      throw new ProtocolError(
        'fragments of one message on two presentation contexts',
        AbortReason.UnexpectedPduParameter,
      );
    }

    if (pdv.command) {
      if (assembly.command)
        throw new ProtocolError(
          'command fragment after the command ended',
          AbortReason.UnexpectedPduParameter,
        );
      assembly.commandParts.push(pdv.data);
      assembly.commandSize += pdv.data.length;
      if (assembly.commandSize > MAX_COMMAND_SET)
        throw new ProtocolError('command set too large', AbortReason.InvalidPduParameter);
      if (!pdv.last) return;
      const command = decodeCommand(Buffer.concat(assembly.commandParts));
      assembly.command = command;
      this.onCommand(assembly, command);
      if (!command.hasDataset) this.finishMessage(assembly);
      return;
    }

    if (!assembly.command?.hasDataset)
      throw new ProtocolError(
        'dataset fragment where none was announced',
        AbortReason.UnexpectedPduParameter,
      );
    const target = assembly.response ?? assembly.buffered;
    if (target) {
      target.size += pdv.data.length;
      if (target.size > MAX_BUFFERED_DATASET)
        throw new ProtocolError('dataset too large for this message', AbortReason.InvalidPduParameter);
      target.parts.push(pdv.data);
    } else if (assembly.handling && assembly.handling.dataset && assembly.handling.dataset !== 'buffer') {
      const pending = assembly.handling.dataset.write(pdv.data);
      if (pending) await pending;
    }
    if (pdv.last) this.finishMessage(assembly);
  }

  private onCommand(assembly: Assembly, command: Command): void {
    if (command.commandField & 0x8000) {
      assembly.response = { parts: [], size: 0 };
      return;
    }
    if (command.commandField === CommandField.CCancelRQ) {
      const operation = this.operations.get(command.messageIdBeingRespondedTo ?? -1);
      operation?.cancel?.();
      return;
    }
    if (this.state !== 'established')
      throw new ProtocolError('request after A-RELEASE-RQ', AbortReason.UnexpectedPdu);
    assembly.handling = this.handleRequest({ context: assembly.context, command });
    if (command.hasDataset && (assembly.handling.dataset === 'buffer' || !assembly.handling.dataset)) {
      assembly.buffered = { parts: [], size: 0 };
    }
  }

  private finishMessage(assembly: Assembly): void {
    this.assembly = undefined;
    const command = assembly.command!;
    if (assembly.response) {
      const waiter = this.pending.get(command.messageIdBeingRespondedTo ?? -1);
      const dataset = assembly.response.parts.length ? Buffer.concat(assembly.response.parts) : undefined;
      waiter?.onResponse({ command, dataset });
      return;
    }
    const handling = assembly.handling;
    if (!handling) return;
    if (handling.dataset && handling.dataset !== 'buffer') handling.dataset.end();
    const dataset = assembly.buffered ? Buffer.concat(assembly.buffered.parts) : undefined;
    const messageId = command.messageId ?? -1;
    this.operations.set(messageId, handling);
    const run = handling
      .run(dataset)
      .catch((error: unknown) => this.log.error({ err: error }, 'DIMSE operation failed'))
      .finally(() => {
        this.operations.delete(messageId);
        this.running.delete(run);
      });
    this.running.add(run);
  }

  // ---------- sending ----------

  /**
   * Sends one message; messages never interleave on the wire. Resolves once it is written out to the
   * socket, when the caller may reuse the dataset's buffers.
   */
  sendMessage(contextId: number, command: Command, dataset?: Buffer | AsyncIterable<Buffer>): Promise<void> {
    const send = this.sendChain.then(() => this.writeMessage(contextId, command, dataset));
    this.sendChain = send.catch(() => undefined);
    return send;
  }

  private async writeMessage(
    contextId: number,
    command: Command,
    dataset?: Buffer | AsyncIterable<Buffer>,
  ): Promise<void> {
    if (this.state === 'closed') throw new Error('association is closed');
    const max = (this.peerMaxPduLength || DEFAULT_SEND_PDU) - 6;
    await this.writeFragments(
      contextId,
      true,
      [encodeCommand({ ...command, hasDataset: dataset !== undefined })],
      max,
    );
    if (dataset === undefined) return;
    const source = Buffer.isBuffer(dataset) ? [dataset] : dataset;
    await this.writeFragments(contextId, false, source, max);
  }

  /**
   * Cuts a stream of buffers into PDVs of at most `max` bytes, the last one flagged. Resolves once the
   * last is written out.
   */
  private async writeFragments(
    contextId: number,
    command: boolean,
    source: Iterable<Buffer> | AsyncIterable<Buffer>,
    max: number,
  ): Promise<void> {
    let held: Buffer | undefined;
    let written: Promise<void> = Promise.resolve();
    /** Queues the held bytes as a PDV; false once the socket wants a drain. */
    const queue = (last: boolean): boolean => {
      const fragment = held ?? Buffer.alloc(0);
      held = undefined;
      this.socket.write(encodePDataHeader(contextId, command, last, fragment.length));
      if (!last) return this.socket.write(fragment);
      let ok = true;
      written = new Promise((resolve, reject) => {
        ok = this.socket.write(fragment, (error) => (error ? reject(error) : resolve()));
      });
      return ok;
    };
    for await (const chunk of source) {
      // Corked, the PDVs of a chunk leave in as few writes as the socket takes.
      this.socket.cork();
      let ok = true;
      for (let at = 0; at < chunk.length;) {
        if (held && held.length === max) ok = queue(false) && ok;
        const room = max - (held?.length ?? 0);
        const piece = chunk.subarray(at, at + room);
        held = held ? Buffer.concat([held, piece]) : piece;
        at += piece.length;
      }
      this.socket.uncork();
      if (!ok) await this.drained();
    }
    this.socket.cork();
    queue(true);
    this.socket.uncork();
    await written;
    this.touch();
  }

  private drained(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new Error('association is closed'));
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.socket.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        this.socket.off('drain', onDrain);
        reject(new Error('association closed while sending'));
      };
      this.socket.once('drain', onDrain);
      this.socket.once('close', onClose);
    });
  }

  /**
   * Sends a request and calls back for each response (C-FIND/C-MOVE/C-GET send several). Resolves on the
   * final response, and not before the request is written out, so its dataset's buffers may be reused.
   */
  request(
    contextId: number,
    command: Omit<Command, 'messageId'>,
    dataset: Buffer | AsyncIterable<Buffer> | undefined,
    onResponse: (message: ResponseMessage) => boolean,
  ): Promise<void> {
    const messageId = this.allocateMessageId();
    return new Promise<void>((resolve, reject) => {
      let answered = false;
      let sent = false;
      this.pending.set(messageId, {
        onResponse: (message) => {
          // The callback says whether this was the final response.
          if (onResponse(message)) {
            this.pending.delete(messageId);
            answered = true;
            if (sent) resolve();
          }
        },
        onClose: (error) => {
          this.pending.delete(messageId);
          reject(error);
        },
      });
      this.sendMessage(contextId, { ...command, messageId } as Command, dataset).then(
        () => {
          sent = true;
          if (answered) resolve();
        },
        (error: unknown) => {
          // A peer may answer before it has all of a request; the answer stands.
          if (answered) return resolve();
          this.pending.delete(messageId);
          reject(error as Error);
        },
      );
    });
  }

  allocateMessageId(): number {
    const id = this.nextMessageId;
    this.nextMessageId = (this.nextMessageId % 0xffff) + 1;
    return id;
  }

  protected write(bytes: Buffer): void {
    if (this.state === 'closed' || this.socket.destroyed) return;
    this.socket.write(bytes);
    this.touch();
  }

  /** Asks the peer to release; resolves when it answered (or the socket closed). */
  async release(): Promise<void> {
    if (this.state !== 'established') return;
    await Promise.allSettled([...this.running]);
    this.state = 'releasing';
    this.write(encodeReleaseRQ());
    await Promise.race([this.closed, new Promise((resolve) => this.once('released', resolve))]);
    this.destroy();
  }

  /** Sends A-ABORT and closes (PS3.8 7.3). */
  abort(source: number = AbortReason.SourceProvider, reason: number = AbortReason.NotSpecified): void {
    if (this.state === 'closed') return;
    this.write(encodeAbort(source, reason));
    this.socket.end();
    setTimeout(() => this.destroy(), 1000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  protected protocolFailure(error: unknown): void {
    const reason = error instanceof ProtocolError ? error.abortReason : AbortReason.NotSpecified;
    this.log.warn(
      { err: error instanceof ProtocolError ? error.message : error },
      'protocol error: aborting the association',
    );
    this.abort(AbortReason.SourceProvider, reason);
  }

  /**
   * Idle timer: once the association is established, traffic in either direction restarts it. Before
   * that it is the ARTIM timer (PS3.8 9.1.5), which bytes trickling in do not restart.
   */
  protected touch(): void {
    if (this.state !== 'established' && this.state !== 'releasing') return;
    this.idleTimer?.refresh();
  }

  /** Sets the idle timeout; used for the ARTIM period before the association exists. */
  protected setIdleTimeout(ms: number): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.onIdle(), ms);
    this.idleTimer.unref();
  }

  private onIdle(): void {
    if (this.state === 'closed') return;
    // Our own operations may be quiet for a while (a slow query, a C-MOVE waiting on its destination);
    // a peer that stops in the middle of a message is not given that grace.
    if ((this.running.size > 0 || this.pending.size > 0) && this.state === 'established') {
      this.idleTimer?.refresh();
      return;
    }
    this.log.info({ state: this.state }, 'idle timeout: closing the association');
    if (this.state === 'established') this.abort(AbortReason.SourceProvider, AbortReason.NotSpecified);
    else this.destroy();
  }

  protected establish(contexts: AcceptedContext[], proposed: Map<number, string>, peerMaxPdu: number): void {
    for (const context of contexts) {
      if (context.result !== ContextResult.Acceptance) continue;
      const abstractSyntax = proposed.get(context.id);
      if (abstractSyntax)
        this.contexts.set(context.id, {
          id: context.id,
          abstractSyntax,
          transferSyntax: context.transferSyntax,
        });
    }
    this.peerMaxPduLength = peerMaxPdu;
    this.state = 'established';
    this.setIdleTimeout(this.options.idleTimeoutMs);
  }

  private onSocketClosed(): void {
    this.state = 'closed';
    clearTimeout(this.idleTimer);
    const assembly = this.assembly;
    this.assembly = undefined;
    if (assembly?.handling?.dataset && assembly.handling.dataset !== 'buffer')
      assembly.handling.dataset.abort();
    for (const operation of this.operations.values()) operation.cancel?.();
    for (const waiter of [...this.pending.values()]) waiter.onClose(new Error('association closed'));
    this.pending.clear();
    this.emit('close');
  }
}
