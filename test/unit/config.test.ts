import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CONFIG_FLAGS,
  ConfigError,
  DEFAULT_CONFIG,
  loadConfig,
  type GatewayConfig,
} from '../../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'config-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** Writes a config file (an object as JSON, a string as is) and returns its path. */
function configFile(content: unknown): string {
  const path = join(dir, `config-${++files}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const CWD = resolve('/srv/gateway');

/** Loads with an empty environment unless one is given, so the test runner's own variables do not leak in. */
function load(
  sources: {
    configFile?: string;
    env?: Record<string, string>;
    flags?: Record<string, string | boolean | undefined>;
  } = {},
): GatewayConfig {
  return loadConfig({ env: {}, cwd: CWD, ...sources });
}

/** Asserts loading fails with a ConfigError whose message matches every pattern. */
function fails(sources: Parameters<typeof load>[0], ...patterns: RegExp[]): void {
  assert.throws(
    () => load(sources),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `want ConfigError, got ${String(error)}`);
      assert.equal(error.name, 'ConfigError');
      for (const pattern of patterns) assert.match(error.message, pattern);
      return true;
    },
  );
}

const defaultsAt = (cwd: string): GatewayConfig => ({
  ...structuredClone(DEFAULT_CONFIG),
  data: resolve(cwd, 'data'),
  audit: { enabled: true, file: resolve(cwd, 'data', 'audit', 'audit.jsonl') },
});

// ---- defaults ----

test('defaults, with the data path resolved against cwd', () => {
  assert.deepEqual(load(), defaultsAt(CWD));
  const config = load();
  assert.equal(config.data, join(CWD, 'data'));
  assert.equal(config.http.port, 8080);
  assert.equal(config.http.host, '127.0.0.1');
  assert.equal(config.http.root, '/dicom-web');
  assert.deepEqual(config.http.corsOrigins, []);
  assert.equal(config.dimse.port, 11112);
  assert.equal(config.dimse.aeTitle, 'DICOMWEB');
  assert.equal(config.overwrite, false);
  assert.equal(config.log.level, 'info');
});

test('without cwd the data path is resolved against process.cwd()', () => {
  assert.equal(loadConfig({ env: {} }).data, resolve(process.cwd(), 'data'));
  assert.equal(loadConfig({ env: {}, flags: { data: 'rel/dir' } }).data, resolve(process.cwd(), 'rel/dir'));
});

test('the returned config is a copy: changing it leaves the defaults alone', () => {
  const before = structuredClone(DEFAULT_CONFIG);
  const config = load();
  config.http.port = 1;
  config.dimse.allowedCallingAETitles.push('X');
  config.http.corsOrigins.push('http://x');
  assert.deepEqual(DEFAULT_CONFIG, before);
  assert.deepEqual(load(), defaultsAt(CWD));
});

// ---- precedence ----

test('precedence: flags > env > file > defaults', () => {
  const file = configFile({
    http: { port: 1001, host: 'file.host' },
    dimse: { port: 1002, aeTitle: 'FILE_AE' },
    data: 'file-data',
    log: { level: 'warn' },
    auth: { insecureNoAuth: true },
  });
  const env = {
    DICOMWEB_HTTP_PORT: '2001',
    DICOMWEB_DIMSE_PORT: '2002',
    DICOMWEB_AE_TITLE: 'ENV_AE',
  };
  const flags = { 'http-port': '3001' };

  const all = load({ configFile: file, env, flags });
  assert.equal(all.http.port, 3001, 'flag wins over env and file');
  assert.equal(all.dimse.port, 2002, 'env wins over file');
  assert.equal(all.dimse.aeTitle, 'ENV_AE');
  assert.equal(all.http.host, 'file.host', 'file wins over defaults');
  assert.equal(all.data, join(CWD, 'file-data'));
  assert.equal(all.log.level, 'warn');
  assert.equal(all.http.root, '/dicom-web', 'defaults fill the rest');

  assert.equal(load({ configFile: file, env }).http.port, 2001);
  assert.equal(load({ configFile: file }).http.port, 1001);
  assert.equal(load({ env }).http.port, 2001);
  assert.equal(load({ flags }).http.port, 3001);
});

test('every override has a flag that beats its environment variable', () => {
  const env = {
    DICOMWEB_DATA: '/env/data',
    DICOMWEB_HTTP_PORT: '2001',
    DICOMWEB_HTTP_HOST: 'env.host',
    DICOMWEB_CORS_ORIGINS: 'http://env.example',
    DICOMWEB_PUBLIC_BASE_URL: 'http://env.example',
    DICOMWEB_DIMSE_PORT: '2002',
    DICOMWEB_AE_TITLE: 'ENV_AE',
    DICOMWEB_OVERWRITE: 'false',
    DICOMWEB_LOG_LEVEL: 'warn',
    DICOMWEB_INSECURE_NO_AUTH: 'false',
  };
  const flags = {
    data: '/flag/data',
    'http-port': '3001',
    'http-host': 'flag.host',
    'cors-origins': 'http://flag.example',
    'public-base-url': 'https://flag.example/base',
    'dimse-port': '3002',
    'ae-title': 'FLAG_AE',
    overwrite: true,
    'log-level': 'debug',
    'insecure-no-auth': true,
  };
  assert.deepEqual(CONFIG_FLAGS.map((f) => f.flag).sort(), Object.keys(flags).sort());
  assert.deepEqual(
    CONFIG_FLAGS.filter((f) => f.boolean).map((f) => f.flag),
    ['overwrite', 'insecure-no-auth'],
  );
  const config = load({ env, flags });
  assert.equal(config.data, resolve('/flag/data'));
  assert.equal(config.http.port, 3001);
  assert.equal(config.http.host, 'flag.host');
  assert.deepEqual(config.http.corsOrigins, ['http://flag.example']);
  assert.equal(config.http.publicBaseUrl, 'https://flag.example/base');
  assert.equal(config.dimse.port, 3002);
  assert.equal(config.dimse.aeTitle, 'FLAG_AE');
  assert.equal(config.overwrite, true);
  assert.equal(config.log.level, 'debug');
});

// ---- the environment contract ----

test('DICOMWEB_DATA: relative to cwd, absolute as is', () => {
  assert.equal(load({ env: { DICOMWEB_DATA: 'store' } }).data, join(CWD, 'store'));
  assert.equal(load({ env: { DICOMWEB_DATA: '../elsewhere' } }).data, resolve(CWD, '../elsewhere'));
  assert.equal(load({ env: { DICOMWEB_DATA: '/var/lib/dicom' } }).data, resolve('/var/lib/dicom'));
});

test('DICOMWEB_HTTP_PORT, DICOMWEB_HTTP_HOST, DICOMWEB_DIMSE_PORT, DICOMWEB_AE_TITLE', () => {
  const config = load({
    env: {
      DICOMWEB_HTTP_PORT: '8042',
      DICOMWEB_HTTP_HOST: '0.0.0.0',
      DICOMWEB_DIMSE_PORT: ' 4242 ',
      DICOMWEB_AE_TITLE: 'ORTHANC',
      DICOMWEB_INSECURE_NO_AUTH: 'yes',
    },
  });
  assert.equal(config.http.port, 8042);
  assert.equal(config.http.host, '0.0.0.0');
  assert.equal(config.dimse.port, 4242);
  assert.equal(config.dimse.aeTitle, 'ORTHANC');
  // Ports 0 and 65535 are the ends of the range.
  assert.equal(load({ env: { DICOMWEB_HTTP_PORT: '0' } }).http.port, 0);
  assert.equal(load({ env: { DICOMWEB_HTTP_PORT: '65535' } }).http.port, 65535);
});

test('DICOMWEB_CORS_ORIGINS: a comma-separated list, blanks dropped', () => {
  assert.deepEqual(
    load({ env: { DICOMWEB_CORS_ORIGINS: 'http://localhost:3000, https://viewer.example.org ,,*' } }).http
      .corsOrigins,
    ['http://localhost:3000', 'https://viewer.example.org', '*'],
  );
  // A list replaces the file's list rather than adding to it.
  const file = configFile({ http: { corsOrigins: ['http://file.example'] } });
  assert.deepEqual(load({ configFile: file }).http.corsOrigins, ['http://file.example']);
  assert.deepEqual(
    load({ configFile: file, env: { DICOMWEB_CORS_ORIGINS: 'http://env.example' } }).http.corsOrigins,
    ['http://env.example'],
  );
  fails({ env: { DICOMWEB_CORS_ORIGINS: 'http://ok.example, ftp://bad.example' } }, /"http\.corsOrigins\.1"/);
});

test('DICOMWEB_CONFIG names the config file; --config and an explicit configFile win over it', () => {
  const fromEnv = configFile({ http: { port: 1111 } });
  const fromSource = configFile({ http: { port: 2222 } });
  const fromFlag = configFile({ http: { port: 3333 } });
  assert.equal(load({ env: { DICOMWEB_CONFIG: fromEnv } }).http.port, 1111);
  assert.equal(load({ env: { DICOMWEB_CONFIG: fromEnv }, configFile: fromSource }).http.port, 2222);
  assert.equal(
    load({ env: { DICOMWEB_CONFIG: fromEnv }, configFile: fromSource, flags: { config: fromFlag } }).http
      .port,
    3333,
  );
});

test('DICOMWEB_PUBLIC_BASE_URL, DICOMWEB_OVERWRITE, DICOMWEB_LOG_LEVEL', () => {
  const config = load({
    env: {
      DICOMWEB_PUBLIC_BASE_URL: 'https://pacs.example.org/proxy//',
      DICOMWEB_OVERWRITE: 'yes',
      DICOMWEB_LOG_LEVEL: 'silent',
    },
  });
  assert.equal(config.http.publicBaseUrl, 'https://pacs.example.org/proxy', 'trailing slashes go');
  assert.equal(config.overwrite, true);
  assert.equal(config.log.level, 'silent');
  for (const [raw, value] of [
    ['1', true],
    ['TRUE', true],
    ['on', true],
    ['0', false],
    ['False', false],
    ['off', false],
    ['no', false],
  ] as const) {
    assert.equal(load({ env: { DICOMWEB_OVERWRITE: raw } }).overwrite, value, raw);
    assert.equal(load({ flags: { overwrite: raw } }).overwrite, value, `--overwrite=${raw}`);
  }
  fails(
    { env: { DICOMWEB_OVERWRITE: 'maybe' } },
    /environment variable DICOMWEB_OVERWRITE must be true or false/,
  );
  fails({ env: { DICOMWEB_LOG_LEVEL: 'verbose' } }, /"log\.level"/);
  fails({ env: { DICOMWEB_PUBLIC_BASE_URL: 'pacs.example.org' } }, /"http\.publicBaseUrl"/);
});

test('an empty environment variable counts as unset', () => {
  const file = configFile({ http: { port: 1234 }, dimse: { aeTitle: 'FILE' } });
  const config = load({
    configFile: file,
    env: { DICOMWEB_HTTP_PORT: '', DICOMWEB_AE_TITLE: '', DICOMWEB_DATA: '', DICOMWEB_CONFIG: '' },
  });
  assert.equal(config.http.port, 1234);
  assert.equal(config.dimse.aeTitle, 'FILE');
  assert.equal(config.data, join(CWD, 'data'));
});

test('a flag given as undefined counts as unset', () => {
  assert.equal(
    load({ env: { DICOMWEB_HTTP_PORT: '2000' }, flags: { 'http-port': undefined } }).http.port,
    2000,
  );
});

// ---- nested keys merge ----

test('nested keys merge with the defaults without dropping siblings', () => {
  const file = configFile({ dimse: { allowedCallingAETitles: ['MODALITY1', 'WORKSTATION'] } });
  const config = load({ configFile: file });
  const expected = defaultsAt(CWD);
  expected.dimse.allowedCallingAETitles = ['MODALITY1', 'WORKSTATION'];
  assert.deepEqual(config, expected);

  // And with an override of a sibling from the environment.
  const both = load({ configFile: file, env: { DICOMWEB_AE_TITLE: 'GATEWAY' } });
  assert.deepEqual(both.dimse.allowedCallingAETitles, ['MODALITY1', 'WORKSTATION']);
  assert.equal(both.dimse.aeTitle, 'GATEWAY');
  assert.equal(both.dimse.maxPduLength, DEFAULT_CONFIG.dimse.maxPduLength);
});

test('a full file of valid values loads', () => {
  const file = configFile({
    data: '/data',
    overwrite: true,
    http: {
      port: 80,
      host: '::',
      root: '/pacs/dicom-web',
      corsOrigins: ['*'],
      publicBaseUrl: 'http://example.org/',
      tls: { key: '/etc/k.pem', cert: '/etc/c.pem' },
      trustedProxies: ['10.0.0.0/8'],
    },
    auth: {
      tokens: [{ sha256: 'ab'.repeat(32), scopes: ['read', 'write'], name: 'ci' }],
      basic: [
        {
          user: 'u',
          passwordHash:
            '$scrypt$N=16384,r=8,p=1$9ZQshbDpzkWf2uGJPEybng$njZJ93kirfy4FpwgmQPCwFFw9m1LL5NEvpggVwCy7ig',
          scopes: ['admin'],
        },
      ],
      oidc: {
        issuer: 'https://idp.example',
        audience: ['a', 'b'],
        jwksUri: 'https://idp.example/jwks',
        scopeClaim: 'roles',
        scopeMap: { read: ['viewer'] },
        clockToleranceSeconds: 5,
      },
      publicThumbnails: true,
    },
    audit: { enabled: false, file: '/var/log/audit.jsonl' },
    dimse: {
      port: 104,
      host: '::',
      aeTitle: ' SPACED AE ',
      allowedCallingAETitles: ['A'],
      checkCalledAETitle: false,
      maxPduLength: 4096,
      storageSopClasses: ['1.2.840.10008.5.1.4.1.1.2'],
      extraStorageSopClasses: ['1.2.3.4'],
    },
    limits: {
      maxBodyBytes: 1,
      maxInstanceBytes: 2,
      qidoMaxLimit: 3,
      maxStowParts: 4,
      maxHeaderBytes: 2048,
      requestTimeoutSeconds: 0,
      idleTimeoutSeconds: 6,
      maxConcurrentUploads: 7,
    },
    log: { level: 'trace' },
  });
  const config = load({ configFile: file });
  assert.equal(config.http.root, '/pacs/dicom-web');
  assert.equal(config.http.publicBaseUrl, 'http://example.org');
  assert.deepEqual(config.dimse.storageSopClasses, ['1.2.840.10008.5.1.4.1.1.2']);
  assert.equal(config.dimse.aeTitle, ' SPACED AE ');
  assert.deepEqual(config.limits, {
    maxBodyBytes: 1,
    maxInstanceBytes: 2,
    qidoMaxLimit: 3,
    renderCacheBytes: 134217728,
    maxStowParts: 4,
    maxHeaderBytes: 2048,
    requestTimeoutSeconds: 0,
    idleTimeoutSeconds: 6,
    maxConcurrentUploads: 7,
  });
  assert.equal(config.auth.oidc?.scopeClaim, 'roles');
  assert.equal(config.audit.file, '/var/log/audit.jsonl');
  assert.equal(load({ configFile: configFile({ http: { root: '' } }) }).http.root, '');
});

// ---- errors name the key ----

test('unknown top-level and nested keys are named', () => {
  fails({ configFile: configFile({ port: 8080 }) }, /unknown config key "port"/);
  fails({ configFile: configFile({ http: { prot: 8080 } }) }, /unknown config key "http\.prot"/);
  fails(
    { configFile: configFile({ dimse: { aetitle: 'X' }, limits: { maxBody: 1 } }) },
    /unknown config key "dimse\.aetitle"/,
    /unknown config key "limits\.maxBody"/,
  );
});

test('a "__proto__" key is refused and does not pollute Object.prototype', () => {
  fails({ configFile: configFile('{"__proto__": {"polluted": true}}') }, /unknown config key "__proto__"/);
  fails({ configFile: configFile('{"http": {"__proto__": {"polluted": true}}}') }, /"http\.__proto__"/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
});

test('wrong types are named', () => {
  fails({ configFile: configFile({ http: { port: '8080' } }) }, /config key "http\.port" must be integer/);
  fails({ configFile: configFile({ http: { port: 80.5 } }) }, /config key "http\.port" must be integer/);
  fails({ configFile: configFile({ overwrite: 'yes' }) }, /config key "overwrite" must be boolean/);
  fails({ configFile: configFile({ http: 8080 }) }, /config key "http" must be object/);
  fails({ configFile: configFile({ data: 7 }) }, /config key "data" must be string/);
  fails({ configFile: configFile({ data: '' }) }, /config key "data"/);
  fails(
    { configFile: configFile({ http: { corsOrigins: 'http://x' } }) },
    /config key "http\.corsOrigins" must be array/,
  );
  fails({ configFile: configFile({ dimse: { storageSopClasses: 'some' } }) }, /"dimse\.storageSopClasses"/);
  fails(
    { configFile: configFile({ dimse: { extraStorageSopClasses: ['1.2.x'] } }) },
    /"dimse\.extraStorageSopClasses\.0"/,
  );
  fails({ configFile: configFile({ limits: { qidoMaxLimit: 0 } }) }, /"limits\.qidoMaxLimit" must be >= 1/);
  fails({ configFile: configFile({ http: { root: 'dicom-web' } }) }, /"http\.root"/);
  fails({ configFile: configFile({ http: { root: '/dicom-web/' } }) }, /"http\.root"/);
});

test('ports out of range are named, from the file, the environment and flags', () => {
  fails({ configFile: configFile({ http: { port: 65536 } }) }, /config key "http\.port" must be <= 65535/);
  fails({ configFile: configFile({ dimse: { port: -1 } }) }, /config key "dimse\.port" must be >= 0/);
  fails({ env: { DICOMWEB_HTTP_PORT: '70000' } }, /config key "http\.port" must be <= 65535/);
  fails({ env: { DICOMWEB_DIMSE_PORT: '-5' } }, /config key "dimse\.port" must be >= 0/);
  fails({ flags: { 'dimse-port': '99999' } }, /config key "dimse\.port"/);
});

test('non-integer ports from the environment or flags name the variable or flag', () => {
  for (const raw of ['80a', '8080.0', '0x50', '1e3', ' ', 'eighty']) {
    fails(
      { env: { DICOMWEB_HTTP_PORT: raw } },
      new RegExp(
        `environment variable DICOMWEB_HTTP_PORT must be an integer, got "${raw.replace('.', '\\.')}"`,
      ),
    );
  }
  fails({ env: { DICOMWEB_DIMSE_PORT: 'x' } }, /environment variable DICOMWEB_DIMSE_PORT must be an integer/);
  fails({ flags: { 'http-port': 'x' } }, /--http-port must be an integer/);
});

test('AE titles: 16 characters at most, no backslash, not all spaces', () => {
  assert.equal(load({ env: { DICOMWEB_AE_TITLE: 'A'.repeat(16) } }).dimse.aeTitle, 'A'.repeat(16));
  fails({ env: { DICOMWEB_AE_TITLE: 'A'.repeat(17) } }, /config key "dimse\.aeTitle"/);
  fails({ env: { DICOMWEB_AE_TITLE: 'BAD\\AE' } }, /config key "dimse\.aeTitle"/);
  fails({ env: { DICOMWEB_AE_TITLE: '    ' } }, /config key "dimse\.aeTitle"/);
  fails({ flags: { 'ae-title': 'TAB\tAE' } }, /config key "dimse\.aeTitle"/);
  fails(
    { configFile: configFile({ dimse: { allowedCallingAETitles: ['GOOD', 'B\\AD', 'X'.repeat(17)] } }) },
    /config key "dimse\.allowedCallingAETitles\.1"/,
    /config key "dimse\.allowedCallingAETitles\.2"/,
  );
});

test('every error is reported at once', () => {
  fails(
    { configFile: configFile({ http: { port: 'x' }, dimse: { aeTitle: 'A'.repeat(20) }, extra: 1 }) },
    /invalid configuration/,
    /"http\.port"/,
    /"dimse\.aeTitle"/,
    /unknown config key "extra"/,
  );
});

test('config file problems: invalid JSON, not an object, missing file', () => {
  const invalid = configFile('{ "http": { "port": 8080, } }');
  fails(
    { configFile: invalid },
    new RegExp(`config file ${invalid.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON`),
  );
  fails({ configFile: configFile('') }, /is not valid JSON/);
  for (const content of ['[]', 'null', '42', '"text"']) {
    fails({ configFile: configFile(content) }, /must hold a JSON object/);
  }
  const missing = join(dir, 'does-not-exist.json');
  fails({ configFile: missing }, /cannot read config file/, /does-not-exist\.json/, /ENOENT/);
  fails({ env: { DICOMWEB_CONFIG: missing } }, /cannot read config file .*does-not-exist\.json/);
  fails({ configFile: dir }, /cannot read config file/);
});

test('a non-loopback HTTP address needs an auth method or --insecure-no-auth', () => {
  assert.throws(
    () => load({ env: { DICOMWEB_HTTP_HOST: '0.0.0.0' } }),
    /http\.host 0\.0\.0\.0 is not a loopback address.*--insecure-no-auth/s,
  );
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) {
    assert.equal(load({ flags: { 'http-host': host } }).http.host, host);
  }
  assert.equal(
    load({ flags: { 'http-host': '0.0.0.0', 'insecure-no-auth': true } }).auth.insecureNoAuth,
    true,
  );
  const withToken = configFile({
    http: { host: '0.0.0.0' },
    auth: { tokens: [{ sha256: 'a'.repeat(64), scopes: ['read'] }] },
  });
  assert.equal(load({ configFile: withToken }).auth.tokens.length, 1);
});

test('auth, audit and limit keys are validated', () => {
  const bad = (config: unknown, pattern: RegExp) =>
    assert.throws(() => load({ configFile: configFile(config) }), pattern);
  bad({ auth: { tokens: [{ sha256: 'xyz', scopes: ['read'] }] } }, /auth\.tokens\.0\.sha256/);
  bad({ auth: { tokens: [{ sha256: 'a'.repeat(64), scopes: ['root'] }] } }, /auth\.tokens\.0\.scopes\.0/);
  bad({ auth: { basic: [{ user: 'u', passwordHash: 'plain', scopes: ['read'] }] } }, /passwordHash/);
  bad({ auth: { oidc: { issuer: 'x', audience: 'y' } } }, /auth\.oidc.*jwksUri/);
  bad({ limits: { maxConcurrentUploads: 0 } }, /limits\.maxConcurrentUploads/);
  bad({ http: { tls: { key: 'k' } } }, /http\.tls.*cert/);
  const config = load({
    configFile: configFile({
      auth: { oidc: { issuer: 'https://idp', audience: 'gw', jwksUri: 'https://idp/jwks' } },
      audit: { file: 'logs/a.jsonl' },
    }),
  });
  assert.equal(config.auth.oidc?.scopeClaim, 'scope');
  assert.equal(config.auth.oidc?.clockToleranceSeconds, 30);
  assert.equal(config.audit.file, join(CWD, 'data', 'logs', 'a.jsonl'));
});
