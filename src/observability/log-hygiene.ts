/**
 * Keeping patient data out of the logs. Fastify logs every request's URL ("incoming request"), and a
 * QIDO URL carries the search values (PatientName=Doe*, PatientID=12345); the request serializer here
 * keeps the path and the parameter names but replaces every value that could identify a patient.
 * The redact paths catch patient attributes in logged objects, in camelCase, keyword and tag form.
 */
import { randomUUID } from 'node:crypto';

export const REDACTED = '[redacted]';

/**
 * Query parameters whose values are not patient data: QIDO controls, WADO-URI and rendering
 * parameters, UIDs, modalities and SOP classes. Every other value is replaced in logged URLs.
 */
const SAFE_PARAMETERS = new Set(
  [
    'limit',
    'offset',
    'includefield',
    'fuzzymatching',
    'emptyvaluematching',
    'multiplevaluematching',
    'accept',
    'charset',
    'requestType',
    'contentType',
    'transferSyntax',
    'transfer-syntax',
    'studyUID',
    'seriesUID',
    'objectUID',
    'frameNumber',
    'rows',
    'columns',
    'region',
    'windowCenter',
    'windowWidth',
    'imageQuality',
    'quality',
    'viewport',
    'window',
    'iccprofile',
    'annotation',
    'StudyInstanceUID',
    'SeriesInstanceUID',
    'SOPInstanceUID',
    'SOPClassUID',
    'Modality',
    'ModalitiesInStudy',
    '0020000D',
    '0020000E',
    '00080018',
    '00080016',
    '00080060',
    '00080061',
  ].map((k) => k.toLowerCase()),
);

/** The URL with the values of all but the safe query parameters replaced by "[redacted]". */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const path = url.slice(0, q);
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const key = pair.slice(0, eq);
      let name: string;
      try {
        name = decodeURIComponent(key);
      } catch {
        return `${REDACTED}=${REDACTED}`;
      }
      return SAFE_PARAMETERS.has(name.trim().toLowerCase()) ? pair : `${key}=${REDACTED}`;
    })
    .join('&');
  return `${path}?${query}`;
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  headers?: Record<string, unknown>;
  socket?: { remoteAddress?: string; remotePort?: number };
}

/**
 * pino `req` serializer in place of fastify's: the same fields, with the URL's identifying values
 * redacted. Works for fastify requests and raw IncomingMessages.
 */
export function requestSerializer(request: LoggedRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: typeof request.url === 'string' ? redactUrl(request.url) : undefined,
    host: request.host ?? request.headers?.host,
    remoteAddress: request.ip ?? request.socket?.remoteAddress,
    remotePort: request.socket?.remotePort,
  };
}

/** Keys whose values are patient data, in camelCase, keyword and tag form. */
const PATIENT_KEYS = new Set([
  'patientName',
  'patientId',
  'patientBirthDate',
  'issuerOfPatientId',
  'otherPatientIds',
  'PatientName',
  'PatientID',
  'PatientBirthDate',
  'IssuerOfPatientID',
  'OtherPatientIDs',
  '00100010',
  '00100020',
  '00100021',
  '00100030',
  '00101000',
  '00101001',
]);
/** Headers that carry credentials, redacted in any `headers` object. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie'];
/** Levels below the top that are searched: deeper values are not looked at. */
const NESTED_LEVELS = 2;

/**
 * For pino's `formatters.log` and child bindings (log.ts): the logged object with the values of patient
 * attributes (at the top level and up to two levels down, in the own properties of objects of any class
 * and of arrays) and of credential headers replaced by "[redacted]". Only the objects on the way to a
 * replaced value are copied; the caller's are never changed.
 *
 * This takes the place of pino's `redact` option, which with wildcard paths copies and walks every
 * child logger's bindings: on a STOW request's two child loggers, a fifth of all it allocated.
 */
export function redactPatientData<T extends object>(object: T): T {
  return redactIn(object, 0) as T;
}

function redactIn(value: object, depth: number): object {
  let copy: object | undefined;
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    const inner = source[key];
    let replacement = inner;
    if (PATIENT_KEYS.has(key)) replacement = REDACTED;
    else if (inner !== null && typeof inner === 'object' && !ArrayBuffer.isView(inner)) {
      if (key === 'headers') replacement = withoutCredentials(inner);
      if (depth < NESTED_LEVELS) replacement = redactIn(replacement as object, depth + 1);
    }
    if (replacement !== inner) {
      copy ??= copyOf(value);
      Object.defineProperty(copy, key, {
        value: replacement,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return copy ?? value;
}

/**
 * A shallow copy. Objects of a class keep it (an error its message and stack, a request its getters)
 * for the serializers that pino applies after this formatter.
 */
function copyOf(value: object): object {
  if (Array.isArray(value)) return [...(value as unknown[])];
  const prototype = Object.getPrototypeOf(value) as object | null;
  if (prototype === Object.prototype) return { ...value };
  return Object.create(prototype, Object.getOwnPropertyDescriptors(value)) as object;
}

function withoutCredentials(headers: object): object {
  const present = CREDENTIAL_HEADERS.filter((name) => name in headers);
  if (present.length === 0) return headers;
  const copy: Record<string, unknown> = { ...headers };
  for (const name of present) copy[name] = REDACTED;
  return copy;
}

const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * A fastify genReqId: the caller's X-Request-ID when it is a sane token (at most 128 characters of a
 * restricted set), else a new UUID. Use with `requestIdHeader: false`, so fastify does not take the
 * header verbatim.
 */
export function requestIdFrom(request: { headers: Record<string, string | string[] | undefined> }): string {
  const header = request.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}
