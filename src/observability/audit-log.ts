/**
 * The audit trail, in the spirit of IHE ATNA (DICOM PS3.15 A.5): who stored, searched, retrieved or
 * deleted which study, through which door, from where, and whether it worked. One JSON object per
 * line, in one file per UTC day (`audit-YYYY-MM-DD.jsonl`), appended through a stream; files are
 * never rewritten or removed by the gateway (retention is the operator's).
 *
 * Patient identifiers stay out: events name studies, series and instances by UID, callers by user name,
 * AE title and address, and queries by the attributes they matched on, never by the values.
 */
import { appendFileSync, createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { lookupKeyword, lookupTag, parseHexTag, tagToHex } from '../dicom/dictionary.js';
import { isValidUid } from '../dicom/uid.js';
import { CATALOG, type AttributeField, type QueryLevel } from '../query/attributes.js';
import type { MatchCondition } from '../query/query-model.js';
import { queryPairs } from '../http/request-url.js';
import type { RequestOrigin } from '../ingest/origin.js';
import type { IngestListener } from '../ingest/store-instance.js';
import type { Logger } from '../log.js';
import { principalOf, requestOrigin } from './context.js';
import type { DeleteScope } from '../ingest/delete-instances.js';

export type AuditAction = 'store' | 'search' | 'retrieve' | 'delete' | 'login-failure';
export type AuditOutcome = 'success' | 'failure';
export type AuditDoor = 'http' | 'dimse' | 'cli';

export interface AuditActor {
  /** The authenticated user (HTTP, when an auth plugin sets one) or the operating system user (CLI). */
  user?: string;
  /** The calling AE title (DIMSE). */
  aeTitle?: string;
  /** The peer's IP address. */
  address?: string;
}

export interface AuditQuery {
  level?: QueryLevel;
  /** Keywords of the attributes the query matched on (never their values), sorted. */
  keys: string[];
}

/** ATNA event identification (PS3.15 A.5.3, codes of DCM): EventID code and EventActionCode. */
export interface AtnaEvent {
  eventId: '110104' | '110103' | '110112' | '110105' | '110114';
  action: 'C' | 'R' | 'U' | 'D' | 'E';
}

export interface AuditEvent {
  /** ISO 8601, UTC. */
  time: string;
  action: AuditAction;
  outcome: AuditOutcome;
  door: AuditDoor;
  /** STOW-RS, QIDO-RS, WADO-RS, WADO-URI, DELETE, C-STORE, C-FIND, C-MOVE, C-GET, import. */
  operation?: string;
  /** What a retrieval returned: instances, metadata, frames, bulkdata, rendered, thumbnail. */
  resource?: string;
  actor: AuditActor;
  study?: string;
  series?: string;
  instance?: string;
  /** login-failure: what was attempted. */
  attempted?: AuditAction;
  /** store: stored, replaced, duplicate. */
  result?: 'stored' | 'replaced' | 'duplicate';
  /** failure: the gateway's error code (INVALID_DICOM, DUPLICATE_CONFLICT ...), never a message. */
  reason?: string;
  /** HTTP status of the request, or DIMSE status of the operation. */
  status?: number;
  /** C-MOVE/C-GET: instances of this study sent (C-FIND: matches; delete: instances removed). */
  instances?: number;
  failed?: number;
  /** C-MOVE destination AE title. */
  destination?: string;
  query?: AuditQuery;
  requestId?: string;
  associationId?: number;
  atna: AtnaEvent;
}

export type AuditInput = Omit<AuditEvent, 'time' | 'atna'> & { atna?: AtnaEvent };

const ATNA: Record<AuditAction, AtnaEvent> = {
  // DICOM Instances Transferred, create: the gateway received instances.
  store: { eventId: '110104', action: 'C' },
  // Query.
  search: { eventId: '110112', action: 'E' },
  // DICOM Instances Transferred, read: instances, frames or bulk data left the gateway.
  retrieve: { eventId: '110104', action: 'R' },
  // DICOM Study Deleted.
  delete: { eventId: '110105', action: 'D' },
  // User Authentication.
  'login-failure': { eventId: '110114', action: 'E' },
};
/** DICOM Instances Accessed: metadata and rendered views, read without transferring instances. */
const ACCESSED: AtnaEvent = { eventId: '110103', action: 'R' };
const ACCESS_RESOURCES = new Set(['metadata', 'rendered', 'thumbnail']);

/** The actor of a DIMSE operation: the association's requestor. */
export interface DimseActor {
  callingAETitle: string;
  remoteAddress: string;
  associationId?: number;
}

export interface DimseFindAudit {
  /** Absent when the identifier could not be read. */
  level?: QueryLevel;
  conditions?: readonly MatchCondition[];
  /** DIMSE status of the final response. */
  status: number;
  /** Pending responses sent. */
  matches?: number;
}

export interface DimseRetrieveAudit {
  operation: 'C-MOVE' | 'C-GET';
  destination?: string;
  level?: QueryLevel;
  conditions?: readonly MatchCondition[];
  /** The instances the identifier named (empty when none, or when it could not be read). */
  instances: readonly { studyInstanceUid: string; sopInstanceUid: string }[];
  failedSopInstanceUids?: readonly string[];
  /** DIMSE status of the final response. */
  status: number;
}

/** What the DIMSE services call; AuditLog implements it. */
export interface DimseAuditSink {
  dimseFind(actor: DimseActor, info: DimseFindAudit): void;
  dimseRetrieve(actor: DimseActor, info: DimseRetrieveAudit): void;
}

export interface AuditLogOptions {
  /** Directory of the daily files; created if missing. */
  dir: string;
  /** Daily files are `<prefix>-YYYY-MM-DD<extension>`: by default `audit-2025-03-04.jsonl`. */
  prefix?: string;
  extension?: string;
  /** The clock (tests inject one). */
  now?: () => Date;
  /** The operating system user named as actor of CLI imports (default: the process's user). */
  cliUser?: string;
  log?: Logger;
}

interface OpenFile {
  day: string;
  path: string;
  stream: WriteStream;
  opened: Promise<void>;
  error?: Error;
}

/** After a write error, lines are dropped (and counted) for this long before the file is opened again. */
const RETRY_MS = 5000;

/**
 * The daily-file layout for a configured audit file (config `audit.file`): `<data>/audit/audit.jsonl`
 * means files `<data>/audit/audit-YYYY-MM-DD.jsonl`, one per UTC day.
 */
export function dailyFileLayout(file: string): { dir: string; prefix: string; extension: string } {
  const extension = extname(file);
  return { dir: dirname(file), prefix: basename(file, extension), extension };
}

export class AuditLog implements DimseAuditSink {
  readonly dir: string;
  private readonly prefix: string;
  private readonly extension: string;
  private readonly now: () => Date;
  private readonly cliUser: string | undefined;
  private readonly log: Logger | undefined;
  private file: OpenFile | undefined;
  private failedAt = 0;
  private closed = false;
  private errors = 0;
  /** Origins of the requests the ingest and delete listeners recorded events for. */
  private readonly audited = new WeakSet<RequestOrigin>();

  constructor(options: AuditLogOptions) {
    this.dir = options.dir;
    this.prefix = options.prefix ?? 'audit';
    this.extension = options.extension ?? '.jsonl';
    this.now = options.now ?? (() => new Date());
    this.log = options.log;
    this.cliUser = options.cliUser ?? osUser();
  }

  /** Creates the directory and opens today's file; throws when the audit log cannot be written. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o750 });
    await this.checkWritable();
  }

  /** Lines that could not be written since start. */
  get writeErrors(): number {
    return this.errors;
  }

  /** The file events of this moment go to. */
  pathFor(date: Date = this.now()): string {
    return join(this.dir, `${this.prefix}-${utcDay(date)}${this.extension}`);
  }

  /** Appends one event. Never throws: a failure is logged and counted. */
  record(input: AuditInput): void {
    const date = this.now();
    const { action, outcome, door, operation, resource, actor, ...rest } = input;
    const event: AuditEvent = {
      time: date.toISOString(),
      action,
      outcome,
      door,
      operation,
      resource,
      actor: cleanActor(actor),
      ...rest,
      atna: input.atna ?? (resource && ACCESS_RESOURCES.has(resource) ? ACCESSED : ATNA[action]),
    };
    let line: string;
    try {
      line = `${JSON.stringify(event)}\n`;
    } catch (error) {
      this.failed(error);
      return;
    }
    this.write(line, date);
  }

  /** An IngestService listener: one `store` event per instance, from any door. Never throws. */
  ingestListener(): IngestListener {
    return (event) => {
      try {
        this.recordStored(event);
      } catch (error) {
        this.failed(error);
      }
    };
  }

  /**
   * A DeleteService listener (`deletion.onDeleted(audit.deleteListener())`): one `delete` event per
   * deletion, with the number of instances, by the HTTP caller (the origin the DELETE route passed) or
   * else the CLI user. Never throws.
   */
  deleteListener(): (scope: DeleteScope, result: { instances: number }, origin?: RequestOrigin) => void {
    return (scope, result, origin) => {
      try {
        if (origin) this.audited.add(origin);
        this.record({
          action: 'delete',
          outcome: 'success',
          door: origin ? 'http' : 'cli',
          operation: origin ? 'DELETE' : 'delete',
          actor: origin ? { user: origin.user, address: origin.address } : { user: this.cliUser },
          study: uid(scope.studyInstanceUid),
          series: uid(scope.seriesInstanceUid),
          instance: uid(scope.sopInstanceUid),
          instances: result.instances,
          requestId: origin?.requestId,
        });
      } catch (error) {
        this.failed(error);
      }
    };
  }

  /**
   * Whether the ingest or delete listener recorded an event for the request of this origin (an instance
   * it stored or refused, what it deleted): the HTTP hook then records no request-level event.
   */
  recordedFor(origin: RequestOrigin): boolean {
    return this.audited.has(origin);
  }

  /** One `search` event per C-FIND. Never throws. */
  dimseFind(actor: DimseActor, info: DimseFindAudit): void {
    try {
      this.recordFind(actor, info);
    } catch (error) {
      this.failed(error);
    }
  }

  /**
   * One `retrieve` event per study a C-MOVE or C-GET sent (one without a study when nothing was sent).
   * Never throws.
   */
  dimseRetrieve(actor: DimseActor, info: DimseRetrieveAudit): void {
    try {
      this.recordRetrieve(actor, info);
    } catch (error) {
      this.failed(error);
    }
  }

  private recordFind(actor: DimseActor, info: DimseFindAudit): void {
    this.record({
      action: 'search',
      outcome: dimseSucceeded(info.status) ? 'success' : 'failure',
      door: 'dimse',
      operation: 'C-FIND',
      actor: dimseActor(actor),
      ...studyScope(info.conditions),
      status: info.status,
      instances: info.matches,
      query: info.level || info.conditions ? dimseQuery(info.level, info.conditions) : undefined,
      associationId: actor.associationId,
    });
  }

  private recordRetrieve(actor: DimseActor, info: DimseRetrieveAudit): void {
    const failed = new Set(info.failedSopInstanceUids ?? []);
    const byStudy = new Map<string, { instances: number; failed: number }>();
    for (const ref of info.instances) {
      const entry = byStudy.get(ref.studyInstanceUid) ?? { instances: 0, failed: 0 };
      entry.instances++;
      if (failed.has(ref.sopInstanceUid)) entry.failed++;
      byStudy.set(ref.studyInstanceUid, entry);
    }
    const common = {
      action: 'retrieve' as const,
      door: 'dimse' as const,
      operation: info.operation,
      actor: dimseActor(actor),
      status: info.status,
      destination: info.destination,
      query: info.level || info.conditions ? dimseQuery(info.level, info.conditions) : undefined,
      associationId: actor.associationId,
    };
    const ok = dimseSucceeded(info.status) || info.status === 0xb000;
    if (byStudy.size === 0) {
      this.record({ ...common, outcome: dimseSucceeded(info.status) ? 'success' : 'failure', instances: 0 });
      return;
    }
    for (const [study, counts] of byStudy) {
      this.record({
        ...common,
        outcome: ok && counts.failed === 0 ? 'success' : 'failure',
        study,
        instances: counts.instances,
        failed: counts.failed,
      });
    }
  }

  /** Throws unless today's file is open for appending (for /ready). */
  async checkWritable(): Promise<void> {
    if (this.closed) throw Object.assign(new Error('the audit log is closed'), { code: 'closed' });
    const file = this.fileFor(this.now(), true);
    if (!file) throw Object.assign(new Error('the audit log cannot be opened'), { code: 'failed' });
    await file.opened;
    if (file.error) throw file.error;
  }

  /** Resolves once every line recorded so far has been handed to the operating system. */
  flush(): Promise<void> {
    const file = this.file;
    if (!file || file.error || file.stream.destroyed) return Promise.resolve();
    return new Promise((resolve) => file.stream.write('', () => resolve()));
  }

  /** Writes what is pending and closes the file. Events after this are appended synchronously. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const file = this.file;
    this.file = undefined;
    if (file) await endStream(file.stream);
  }

  // ---------- internals ----------

  private recordStored(event: Parameters<IngestListener>[0]): void {
    const { outcome, origin } = event;
    const base = {
      action: 'store' as const,
      outcome: outcome.ok ? ('success' as const) : ('failure' as const),
      study: uid(outcome.instance.studyInstanceUid),
      series: uid(outcome.instance.seriesInstanceUid),
      instance: uid(outcome.instance.sopInstanceUid),
      result: outcome.ok ? outcome.status : undefined,
      reason: outcome.ok ? undefined : outcome.error.code,
    };
    switch (event.door) {
      case 'stow': {
        if (origin) this.audited.add(origin);
        this.record({
          ...base,
          door: 'http',
          operation: 'STOW-RS',
          actor: { user: origin?.user, address: origin?.address },
          requestId: origin?.requestId,
        });
        return;
      }
      case 'dimse':
        this.record({
          ...base,
          door: 'dimse',
          operation: 'C-STORE',
          actor: { aeTitle: event.callingAETitle, address: origin?.address },
          status: outcome.ok ? 0 : outcome.error.dimseStatus,
          associationId: origin?.associationId,
        });
        return;
      default:
        this.record({ ...base, door: 'cli', operation: String(event.door), actor: { user: this.cliUser } });
    }
  }

  private write(line: string, date: Date): void {
    if (this.closed) {
      // Late events (a response finishing during shutdown) still reach the file.
      try {
        appendFileSync(this.pathFor(date), line, { mode: 0o640 });
      } catch (error) {
        this.failed(error);
      }
      return;
    }
    const file = this.fileFor(date, false);
    if (!file) {
      this.errors++;
      return;
    }
    file.stream.write(line, (error) => {
      if (error) this.errors++;
    });
  }

  /** Today's open file; opens it (rotating at UTC midnight) unless a recent failure says wait. */
  private fileFor(date: Date, retryNow: boolean): OpenFile | undefined {
    const day = utcDay(date);
    const current = this.file;
    if (current && current.day === day && !current.error) return current;
    if (current?.error && !retryNow && Date.now() - this.failedAt < RETRY_MS) return undefined;
    if (current) {
      this.file = undefined;
      if (!current.error) void endStream(current.stream);
      else current.stream.destroy();
    }
    const path = this.pathFor(date);
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    } catch {
      // createWriteStream reports the same problem as a stream error
    }
    const stream = createWriteStream(path, { flags: 'a', mode: 0o640 });
    const file: OpenFile = {
      day,
      path,
      stream,
      opened: new Promise<void>((resolve) => {
        stream.once('ready', () => resolve());
        stream.once('error', () => resolve());
      }),
    };
    stream.on('error', (error) => {
      if (!file.error) {
        file.error = error;
        this.failedAt = Date.now();
        this.log?.error({ err: error, path }, 'cannot write the audit log');
      }
    });
    this.file = file;
    return file;
  }

  private failed(error: unknown): void {
    this.errors++;
    this.log?.error({ err: error }, 'an audit event could not be recorded');
  }
}

// ---------- HTTP ----------

export interface HttpAuditOptions {
  /** The DICOMweb prefix (config http.root, e.g. "/dicom-web"). */
  root: string;
}

/** What an HTTP request was, for the audit log; undefined for requests that are not audited. */
export interface HttpAuditDescription {
  action: AuditAction;
  operation: string;
  resource?: string;
  study?: string;
  series?: string;
  instance?: string;
  query?: AuditQuery;
}

const COLLECTIONS: Record<string, QueryLevel> = { studies: 'STUDY', series: 'SERIES', instances: 'IMAGE' };
/** QIDO parameters that are not matching keys (PS3.18 8.3.4). */
const QIDO_CONTROL = new Set([
  'limit',
  'offset',
  'fuzzymatching',
  'includefield',
  'accept',
  'charset',
  'emptyvaluematching',
  'multiplevaluematching',
  'orderby',
]);

/**
 * Classifies a request by its route template (never its raw URL): STOW is store; QIDO (a path ending
 * in studies, series or instances) is search; WADO-RS, rendered, thumbnails and WADO-URI are retrieve;
 * DELETE is delete. The study, series and instance come from the path parameters (or WADO-URI's
 * query), when they are valid UIDs.
 */
export function describeHttpRequest(
  request: { method: string; route: string | undefined; params: unknown; url: string },
  root: string,
): HttpAuditDescription | undefined {
  const route = request.route;
  if (!route) return undefined;
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const params = (request.params ?? {}) as Record<string, unknown>;

  if (route === '/wado' && method === 'GET') {
    const query = new Map(safePairs(request.url));
    return {
      action: 'retrieve',
      operation: 'WADO-URI',
      resource: 'wado-uri',
      study: uid(query.get('studyUID')),
      series: uid(query.get('seriesUID')),
      instance: uid(query.get('objectUID')),
    };
  }
  if (!route.startsWith(`${root}/`)) return undefined;
  const segments = route
    .slice(root.length)
    .split('/')
    .filter((s) => s !== '');
  if (!segments[0] || !(segments[0] in COLLECTIONS)) return undefined;
  const scope = {
    study: uid(params.study),
    series: uid(params.series),
    instance: uid(params.instance),
  };
  const last = segments[segments.length - 1]!;

  switch (method) {
    case 'POST':
      return segments[0] === 'studies' && segments.length <= 2
        ? { action: 'store', operation: 'STOW-RS', ...scope }
        : undefined;
    case 'DELETE':
      return { action: 'delete', operation: 'DELETE', ...scope };
    case 'GET': {
      const level = COLLECTIONS[last];
      if (level) {
        const pairs = safePairs(request.url);
        const fromQuery = (keyword: string, hex: string) => {
          const values = pairs.filter(([k]) => k === keyword || k.toUpperCase() === hex).map(([, v]) => v);
          return values.length === 1 ? uid(values[0]) : undefined;
        };
        return {
          action: 'search',
          operation: 'QIDO-RS',
          study: scope.study ?? fromQuery('StudyInstanceUID', '0020000D'),
          series: scope.series ?? fromQuery('SeriesInstanceUID', '0020000E'),
          query: { level, keys: qidoKeys(pairs) },
        };
      }
      const resource = ACCESS_RESOURCES.has(last)
        ? last
        : segments.includes('frames')
          ? 'frames'
          : segments.includes('bulkdata')
            ? 'bulkdata'
            : 'instances';
      return { action: 'retrieve', operation: 'WADO-RS', resource, ...scope };
    }
    default:
      return undefined;
  }
}

/**
 * Audits DICOMweb requests when their response is sent (onResponse): search, retrieve and delete per
 * request; STOW per instance through the ingest listener, plus one event for a STOW request that
 * stored nothing at all (refused body). A 401 or 403 on any route is a login-failure.
 */
export function httpAuditHook(app: FastifyInstance, audit: AuditLog, options: HttpAuditOptions): void {
  app.addHook('onResponse', async (request, reply) => {
    try {
      auditResponse(audit, request, reply.statusCode, options.root);
    } catch (error) {
      request.log.error({ err: error }, 'an audit event could not be recorded');
    }
  });
}

function auditResponse(audit: AuditLog, request: FastifyRequest, status: number, root: string): void {
  if (request.method === 'OPTIONS') return;
  const described = describeHttpRequest(
    { method: request.method, route: request.routeOptions.url, params: request.params, url: request.url },
    root,
  );
  const common = {
    door: 'http' as const,
    actor: { user: principalOf(request), address: request.ip },
    status,
    requestId: String(request.id),
  };
  if (status === 401 || status === 403) {
    audit.record({
      ...common,
      action: 'login-failure',
      outcome: 'failure',
      operation: described?.operation,
      attempted: described?.action,
      study: described?.study,
      series: described?.series,
      instance: described?.instance,
    });
    return;
  }
  if (!described) return;
  // Stored and deleted instances were recorded by the ingest and delete listeners already.
  if (
    (described.action === 'store' || described.action === 'delete') &&
    audit.recordedFor(requestOrigin(request))
  )
    return;
  audit.record({ ...common, ...described, outcome: status < 400 ? 'success' : 'failure' });
}

// ---------- helpers ----------

const KEYWORD_OF_FIELD = new Map<AttributeField, string>(CATALOG.map((e) => [e.field, e.keyword]));

/** Attribute keywords of QIDO query keys; hex tags become keywords, anything unrecognised "unknown". */
export function qidoKeys(pairs: readonly [string, string][]): string[] {
  const keys = new Set<string>();
  for (const [raw] of pairs) {
    const key = raw.trim();
    if (key === '' || QIDO_CONTROL.has(key.toLowerCase())) continue;
    keys.add(
      key
        .split('.')
        .map((part) => {
          const hex = parseHexTag(part);
          if (hex !== undefined) return lookupTag(hex)?.keyword ?? tagToHex(hex);
          return lookupKeyword(part) ? part : 'unknown';
        })
        .join('.'),
    );
  }
  return [...keys].sort();
}

/** Keywords of the attributes C-FIND / C-MOVE / C-GET conditions match on. */
export function conditionKeys(conditions: readonly MatchCondition[]): string[] {
  const keys = new Set<string>();
  for (const condition of conditions) {
    const fields =
      condition.kind === 'dateTimeRange' ? [condition.dateField, condition.timeField] : [condition.field];
    for (const field of fields) keys.add(KEYWORD_OF_FIELD.get(field) ?? field);
  }
  return [...keys].sort();
}

function dimseQuery(
  level: QueryLevel | undefined,
  conditions: readonly MatchCondition[] | undefined,
): AuditQuery {
  return { level, keys: conditionKeys(conditions ?? []) };
}

/** The study (and series) a query names by a single UID, if it does. */
function studyScope(conditions: readonly MatchCondition[] | undefined): { study?: string; series?: string } {
  const single = (field: AttributeField) => {
    for (const c of conditions ?? []) {
      if (c.kind === 'single' && c.field === field) return uid(c.value);
      if (c.kind === 'list' && c.field === field && c.values.length === 1) return uid(c.values[0]);
    }
    return undefined;
  };
  return { study: single('studyInstanceUid'), series: single('seriesInstanceUid') };
}

function dimseActor(actor: DimseActor): AuditActor {
  return { aeTitle: actor.callingAETitle, address: actor.remoteAddress };
}

/** Success and pending statuses (PS3.7 C: 0x0000, 0xFF00, 0xFF01); warnings and failures are not. */
function dimseSucceeded(status: number): boolean {
  return status === 0x0000 || status === 0xff00 || status === 0xff01;
}

function cleanActor(actor: AuditActor): AuditActor {
  const out: AuditActor = {};
  const user = actor.user?.trim();
  const aeTitle = actor.aeTitle?.trim();
  const address = actor.address?.trim();
  if (user) out.user = user;
  if (aeTitle) out.aeTitle = aeTitle;
  if (address) out.address = address;
  return out;
}

function uid(value: unknown): string | undefined {
  return typeof value === 'string' && isValidUid(value) ? value : undefined;
}

function safePairs(url: string): [string, string][] {
  try {
    return queryPairs(url);
  } catch {
    return [];
  }
}

function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function osUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

function endStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.closed) {
      resolve();
      return;
    }
    stream.once('close', () => resolve());
    stream.once('error', () => resolve());
    stream.end();
  });
}
