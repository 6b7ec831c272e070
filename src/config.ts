/**
 * Configuration: one schema with defaults, overridden by a JSON config file, then by environment
 * variables, then by command-line flags; validated once at start-up with messages that name the key.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import {
  applyAuthDefaults,
  AUTH_SCHEMA,
  authConfigProblems,
  DEFAULT_AUTH_CONFIG,
  hasAuthMethod,
  SCOPES,
  type AuthConfig,
  type Scope,
} from './auth/auth-config.js';
import { isLoopbackHost, unsafeBindingProblem } from './auth/startup-check.js';

export { hasAuthMethod, isLoopbackHost, SCOPES };
export type { AuthConfig, Scope };

export type PeerService = 'store' | 'find' | 'move' | 'get';

export interface DimsePeer {
  aeTitle: string;
  host: string;
  port: number;
  allow: PeerService[];
  /** Associations with this peer use DICOM TLS, both ways. */
  tls: boolean;
}

export interface GatewayConfig {
  /** Storage root: files and the SQLite index live under it. */
  data: string;
  /** Replace a stored instance when one with the same SOP Instance UID but other content arrives. */
  overwrite: boolean;
  http: {
    port: number;
    host: string;
    /** Path prefix of the DICOMweb services. */
    root: string;
    /** Origins allowed to call the gateway from a browser; none by default. */
    corsOrigins: string[];
    /** Base URL clients see (e.g. behind a reverse proxy); derived from the request when empty. */
    publicBaseUrl: string;
    /** HTTPS on the HTTP port when set (PEM files). */
    tls?: { key: string; cert: string };
    /** Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-* headers are believed. */
    trustedProxies: string[];
  };
  auth: AuthConfig;
  audit: {
    enabled: boolean;
    /** JSON-lines audit trail; relative paths are under the data root. */
    file: string;
  };
  dimse: {
    port: number;
    host: string;
    aeTitle: string;
    /** Calling AE titles allowed to associate; empty means any. */
    allowedCallingAETitles: string[];
    /** Reject associations whose called AE title is not ours. */
    checkCalledAETitle: boolean;
    /** Largest P-DATA PDU we accept and announce (PS3.8 D.1). */
    maxPduLength: number;
    /** Storage SOP classes accepted: "all" (every storage class of the standard) or a list of UIDs. */
    storageSopClasses: 'all' | string[];
    /** Extra SOP class UIDs to accept for storage, e.g. private classes. */
    extraStorageSopClasses: string[];
    /** Associations open at once; more are rejected (transient, local limit exceeded). */
    maxAssociations: number;
    /** Seconds a new connection has to send its A-ASSOCIATE-RQ (the ARTIM timer, PS3.8 9.1.5). */
    artimTimeoutSeconds: number;
    /** Seconds without a PDU after which an association is aborted. */
    idleTimeoutSeconds: number;
    /** Who may store: any calling AE (modality push), or registered peers allowed to store. */
    storePolicy: 'any' | 'registered';
    /** Known DICOM nodes: what each may do here, and where C-MOVE sends to them. */
    peers: DimsePeer[];
    /** DICOM TLS (PS3.15 B.1) on a second port; off when absent. */
    tls?: {
      port: number;
      /** PEM files. */
      key: string;
      cert: string;
      /** Trusted CA certificates for client certificates (PEM). */
      ca?: string;
      /** Ask for, and verify, a client certificate. */
      requireClientCertificate: boolean;
    };
  };
  qido: {
    /** Person names match regardless of case (PS3.4 C.2.2.2.1 leaves it to the SCP). */
    caseInsensitivePersonNames: boolean;
  };
  limits: {
    /** Largest HTTP request body (STOW), in bytes. */
    maxBodyBytes: number;
    /** Largest single instance, in bytes, through either door. */
    maxInstanceBytes: number;
    /** Largest QIDO page a client may ask for. */
    qidoMaxLimit: number;
    /** Memory for cached rendered images and thumbnails, in bytes. */
    renderCacheBytes: number;
    /** Most parts (instances) in one STOW request. */
    maxStowParts: number;
    /** Largest request line plus headers, in bytes (answered 431). */
    maxHeaderBytes: number;
    /** Time a client has to send a whole request (0: none). */
    requestTimeoutSeconds: number;
    /** An HTTP connection with no traffic for this long is closed. */
    idleTimeoutSeconds: number;
    /** STOW requests handled at once; more get 429 with Retry-After. */
    maxConcurrentUploads: number;
  };
  log: {
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  };
}

export const DEFAULT_CONFIG: GatewayConfig = {
  data: './data',
  overwrite: false,
  http: {
    port: 8080,
    host: '127.0.0.1',
    root: '/dicom-web',
    corsOrigins: [],
    publicBaseUrl: '',
    trustedProxies: [],
  },
  auth: DEFAULT_AUTH_CONFIG,
  audit: { enabled: true, file: 'audit/audit.jsonl' },
  dimse: {
    port: 11112,
    host: '0.0.0.0',
    aeTitle: 'DICOMWEB',
    allowedCallingAETitles: [],
    checkCalledAETitle: true,
    maxPduLength: 262144,
    storageSopClasses: 'all',
    extraStorageSopClasses: [],
    maxAssociations: 64,
    artimTimeoutSeconds: 30,
    idleTimeoutSeconds: 300,
    storePolicy: 'any',
    peers: [],
  },
  qido: { caseInsensitivePersonNames: true },
  limits: {
    maxBodyBytes: 4 * 1024 * 1024 * 1024,
    maxInstanceBytes: 2 * 1024 * 1024 * 1024,
    qidoMaxLimit: 1000,
    renderCacheBytes: 128 * 1024 * 1024,
    maxStowParts: 10000,
    maxHeaderBytes: 64 * 1024,
    requestTimeoutSeconds: 3600,
    idleTimeoutSeconds: 120,
    maxConcurrentUploads: 32,
  },
  log: { level: 'info' },
};

const AE_TITLE = { type: 'string', pattern: '^(?! *$)[\\x20-\\x5b\\x5d-\\x7e]{1,16}$' } as const;
const UID = { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)*$', maxLength: 64 } as const;
const PORT = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const POSITIVE = { type: 'integer', minimum: 1 } as const;
const NON_EMPTY = { type: 'string', minLength: 1 } as const;

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    data: { type: 'string', minLength: 1 },
    overwrite: { type: 'boolean' },
    http: {
      type: 'object',
      additionalProperties: false,
      properties: {
        port: PORT,
        host: { type: 'string', minLength: 1 },
        root: { type: 'string', pattern: '^(/[A-Za-z0-9._~-]+)*$' },
        corsOrigins: { type: 'array', items: { type: 'string', pattern: '^(\\*|https?://[^/\\s]+)$' } },
        publicBaseUrl: { type: 'string', pattern: '^(|https?://\\S+)$' },
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['key', 'cert'],
          properties: { key: NON_EMPTY, cert: NON_EMPTY },
        },
        trustedProxies: { type: 'array', items: NON_EMPTY },
      },
    },
    auth: AUTH_SCHEMA,
    audit: {
      type: 'object',
      additionalProperties: false,
      properties: { enabled: { type: 'boolean' }, file: NON_EMPTY },
    },
    dimse: {
      type: 'object',
      additionalProperties: false,
      properties: {
        port: PORT,
        host: { type: 'string', minLength: 1 },
        aeTitle: AE_TITLE,
        allowedCallingAETitles: { type: 'array', items: AE_TITLE },
        checkCalledAETitle: { type: 'boolean' },
        maxPduLength: { type: 'integer', minimum: 4096, maximum: 16777216 },
        storageSopClasses: { anyOf: [{ const: 'all' }, { type: 'array', items: UID }] },
        extraStorageSopClasses: { type: 'array', items: UID },
        maxAssociations: POSITIVE,
        artimTimeoutSeconds: { type: 'number', exclusiveMinimum: 0 },
        idleTimeoutSeconds: { type: 'number', exclusiveMinimum: 0 },
        storePolicy: { enum: ['any', 'registered'] },
        peers: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['aeTitle', 'host', 'port'],
            properties: {
              aeTitle: AE_TITLE,
              host: { type: 'string', minLength: 1 },
              port: { type: 'integer', minimum: 1, maximum: 65535 },
              allow: { type: 'array', items: { enum: ['store', 'find', 'move', 'get'] }, uniqueItems: true },
              tls: { type: 'boolean' },
            },
          },
        },
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['port', 'key', 'cert'],
          properties: {
            port: PORT,
            key: { type: 'string', minLength: 1 },
            cert: { type: 'string', minLength: 1 },
            ca: { type: 'string', minLength: 1 },
            requireClientCertificate: { type: 'boolean' },
          },
        },
      },
    },
    qido: {
      type: 'object',
      additionalProperties: false,
      properties: { caseInsensitivePersonNames: { type: 'boolean' } },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxBodyBytes: POSITIVE,
        maxInstanceBytes: POSITIVE,
        qidoMaxLimit: POSITIVE,
        renderCacheBytes: { type: 'integer', minimum: 0 },
        maxStowParts: POSITIVE,
        maxHeaderBytes: { type: 'integer', minimum: 1024 },
        requestTimeoutSeconds: { type: 'number', minimum: 0 },
        idleTimeoutSeconds: { type: 'number', exclusiveMinimum: 0 },
        maxConcurrentUploads: POSITIVE,
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: { level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] } },
    },
  },
} as const;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Flags and environment variables that mirror config keys (the start-up contract). */
const OVERRIDES: {
  key: string;
  env: string;
  flag: string;
  type: 'string' | 'integer' | 'list' | 'boolean';
}[] = [
  { key: 'data', env: 'DICOMWEB_DATA', flag: 'data', type: 'string' },
  { key: 'http.port', env: 'DICOMWEB_HTTP_PORT', flag: 'http-port', type: 'integer' },
  { key: 'http.host', env: 'DICOMWEB_HTTP_HOST', flag: 'http-host', type: 'string' },
  { key: 'http.corsOrigins', env: 'DICOMWEB_CORS_ORIGINS', flag: 'cors-origins', type: 'list' },
  { key: 'http.publicBaseUrl', env: 'DICOMWEB_PUBLIC_BASE_URL', flag: 'public-base-url', type: 'string' },
  { key: 'dimse.port', env: 'DICOMWEB_DIMSE_PORT', flag: 'dimse-port', type: 'integer' },
  { key: 'dimse.aeTitle', env: 'DICOMWEB_AE_TITLE', flag: 'ae-title', type: 'string' },
  { key: 'overwrite', env: 'DICOMWEB_OVERWRITE', flag: 'overwrite', type: 'boolean' },
  {
    key: 'auth.insecureNoAuth',
    env: 'DICOMWEB_INSECURE_NO_AUTH',
    flag: 'insecure-no-auth',
    type: 'boolean',
  },
  { key: 'log.level', env: 'DICOMWEB_LOG_LEVEL', flag: 'log-level', type: 'string' },
];

export const CONFIG_FLAGS = OVERRIDES.map((o) => ({ flag: o.flag, boolean: o.type === 'boolean' }));

export interface ConfigSources {
  /** Path of a JSON config file (from --config or DICOMWEB_CONFIG). */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Parsed command-line flags, by flag name without dashes. */
  flags?: Record<string, string | boolean | undefined>;
  /** Base directory for a relative data path. */
  cwd?: string;
}

type Json = Record<string, unknown>;

export function loadConfig(sources: ConfigSources = {}): GatewayConfig {
  const env = sources.env ?? process.env;
  const flags = sources.flags ?? {};
  const merged = structuredClone(DEFAULT_CONFIG) as unknown as Json;

  const configFile = (flags.config as string | undefined) ?? sources.configFile ?? env.DICOMWEB_CONFIG;
  if (configFile) deepMerge(merged, readConfigFile(configFile), '');

  for (const override of OVERRIDES) {
    const fromEnv = env[override.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      setPath(merged, override.key, convert(fromEnv, override.type, `environment variable ${override.env}`));
    }
  }
  for (const override of OVERRIDES) {
    const fromFlag = flags[override.flag];
    if (fromFlag !== undefined) {
      const value =
        typeof fromFlag === 'boolean' ? fromFlag : convert(fromFlag, override.type, `--${override.flag}`);
      setPath(merged, override.key, value);
    }
  }

  validate(merged);
  const config = merged as unknown as GatewayConfig;
  // Defaults inside list items and optional sections.
  config.dimse.peers = config.dimse.peers.map((peer) => ({
    ...peer,
    allow: peer.allow ?? ['store', 'find', 'move', 'get'],
    tls: peer.tls ?? false,
  }));
  if (config.dimse.tls) config.dimse.tls.requireClientCertificate ??= false;
  applyAuthDefaults(config.auth);
  const authProblems = authConfigProblems(config.auth);
  if (authProblems.length) throw new ConfigError(`invalid configuration:\n  ${authProblems.join('\n  ')}`);
  const duplicates = config.dimse.peers.filter(
    (p, i, all) => all.findIndex((q) => q.aeTitle === p.aeTitle) !== i,
  );
  if (duplicates.length)
    throw new ConfigError(`config key "dimse.peers" lists AE title ${duplicates[0]!.aeTitle} twice`);
  // Patient data is not served to the network without credentials unless the operator says so.
  const unsafe = unsafeBindingProblem(config.http.host, config.auth, config.auth.insecureNoAuth);
  if (unsafe) throw new ConfigError(unsafe);
  config.data = resolve(sources.cwd ?? process.cwd(), config.data);
  config.audit.file = resolve(config.data, config.audit.file);
  config.http.root = config.http.root.replace(/\/+$/, '');
  config.http.publicBaseUrl = config.http.publicBaseUrl.replace(/\/+$/, '');
  return config;
}

function readConfigFile(path: string): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  return parsed as Json;
}

function deepMerge(target: Json, source: Json, prefix: string): void {
  for (const [key, value] of Object.entries(source)) {
    // JSON.parse makes "__proto__" an own key; merging it would write into Object.prototype.
    if (key === '__proto__')
      throw new ConfigError(`invalid configuration:\n  unknown config key "${prefix}${key}"`);
    const existing = target[key];
    if (isPlainObject(value) && isPlainObject(existing)) {
      deepMerge(existing, value, `${prefix}${key}.`);
    } else {
      target[key] = value;
    }
  }
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function setPath(target: Json, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) node = node[part] as Json;
  node[parts[parts.length - 1]!] = value;
}

function convert(raw: string, type: 'string' | 'integer' | 'list' | 'boolean', source: string): unknown {
  switch (type) {
    case 'string':
      return raw;
    case 'integer': {
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${source} must be an integer, got "${raw}"`);
      return Number(raw);
    }
    case 'boolean': {
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new ConfigError(`${source} must be true or false, got "${raw}"`);
    }
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
  }
}

const ajv = new Ajv({ allErrors: true, strict: true });
const validateSchema = ajv.compile(SCHEMA);

function validate(config: Json): void {
  if (validateSchema(config)) return;
  const messages = (validateSchema.errors ?? []).map(describeError);
  throw new ConfigError(`invalid configuration:\n  ${[...new Set(messages)].join('\n  ')}`);
}

function describeError(error: ErrorObject): string {
  const key = error.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty: string }).additionalProperty;
    return `unknown config key "${key ? `${key}.` : ''}${extra}"`;
  }
  return `config key "${key || '(root)'}" ${error.message ?? 'is invalid'}`;
}
