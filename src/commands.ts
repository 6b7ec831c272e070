/**
 * Command line: `serve` runs both doors; `import` feeds files through the ingest pipeline; `verify` and
 * `reindex` check and rebuild a stopped gateway's store; `hash-password` and `hash-token` make auth
 * config entries. Flags mirror config keys (see config.ts and the README).
 */
import { parseArgs } from 'node:util';
import { CONFIG_FLAGS, ConfigError, loadConfig, type GatewayConfig } from './config.js';
import { openCore } from './core.js';
import { importFile, listFiles } from './ingest/import-files.js';
import { createLogger } from './log.js';
import { HASH_USAGE, hashPasswordCommand, hashTokenCommand } from './auth/hash-cli.js';
import { reindexCommand, verifyCommand } from './maintenance/commands.js';
import { startGateway } from './main.js';
import { ProgressBar } from './progress.js';
import { DataDirectoryBusyError } from './storage/data-lock.js';

const USAGE = `Usage: dicomweb-gateway <command> [options]

Commands:
  serve                 run the DICOMweb (HTTP) and DIMSE doors
  import <path...>      store DICOM files or folders through the ingest pipeline
  verify [--repair]     check that index and files agree (gateway stopped); exit 0 clean, 1 repaired,
                        4 problems left, 8 could not run; --repair fixes what it finds
  reindex               rebuild the index from the files (gateway stopped); the old index is kept
                        as index.sqlite.bak-<time>; exit 1 if files went to quarantine/
${HASH_USAGE}
Options (each also settable in the config file or by environment variable):
  --config <file>       JSON config file                     (DICOMWEB_CONFIG)
  --data <dir>          storage root, default ./data         (DICOMWEB_DATA)
  --http-host <addr>    HTTP bind address, default 127.0.0.1 (DICOMWEB_HTTP_HOST)
  --http-port <n>       HTTP port, default 8080              (DICOMWEB_HTTP_PORT)
  --dimse-port <n>      DIMSE port, default 11112            (DICOMWEB_DIMSE_PORT)
  --ae-title <AE>       our AE title, default DICOMWEB       (DICOMWEB_AE_TITLE)
  --cors-origins <list> comma-separated allowed origins      (DICOMWEB_CORS_ORIGINS)
  --public-base-url <u> base URL clients see                 (DICOMWEB_PUBLIC_BASE_URL)
  --overwrite           replace instances that arrive again with other content
  --log-level <level>   fatal|error|warn|info|debug|trace|silent
  --json                verify, reindex: print the report as JSON
  --insecure-no-auth    serve a non-loopback http.host without authentication (DICOMWEB_INSECURE_NO_AUTH)
`;

async function main(argv: string[]): Promise<number> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    config: { type: 'string' },
    help: { type: 'boolean' },
    // verify and reindex
    repair: { type: 'boolean' },
    json: { type: 'boolean' },
    // hash-password and hash-token
    scopes: { type: 'string' },
    name: { type: 'string' },
    generate: { type: 'boolean' },
  };
  for (const { flag, boolean } of CONFIG_FLAGS) options[flag] = { type: boolean ? 'boolean' : 'string' };
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  // The hash commands need no configuration (they help write one).
  if (command === 'hash-password' || command === 'hash-token') {
    const args = {
      positionals: rest,
      scopes: values.scopes as string | undefined,
      name: values.name as string | undefined,
      generate: values.generate as boolean | undefined,
    };
    return command === 'hash-password' ? hashPasswordCommand(args) : hashTokenCommand(args);
  }
  const config = loadConfig({ flags: values as Record<string, string | boolean | undefined> });
  switch (command) {
    case 'serve':
      return serve(config);
    case 'import':
      return importCommand(config, rest);
    case 'verify':
    case 'reindex':
      if (rest.length > 0) {
        process.stderr.write(`${command} takes no arguments (the data directory is --data)\n`);
        return 2;
      }
      return command === 'verify'
        ? verifyCommand(config, { repair: values.repair === true, json: values.json === true })
        : reindexCommand(config, { json: values.json === true });
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

async function serve(config: GatewayConfig): Promise<number> {
  const log = createLogger(config.log.level);
  const gateway = await startGateway(config, log);
  return new Promise<number>((resolve) => {
    let signals = 0;
    const stop = (signal: string) => {
      if (++signals > 1) {
        log.warn({ signal }, 'second signal: exiting without draining');
        resolve(1);
        return;
      }
      log.info({ signal }, 'signal received');
      gateway.close().then(
        () => resolve(0),
        (error: unknown) => {
          log.error({ err: error }, 'error while shutting down');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

async function importCommand(config: GatewayConfig, paths: string[]): Promise<number> {
  if (paths.length === 0) {
    process.stderr.write('import needs at least one file or folder\n');
    return 2;
  }
  const log = createLogger(config.log.level === 'info' ? 'warn' : config.log.level);
  const core = await openCore(config, log);
  try {
    const files: string[] = [];
    for await (const file of listFiles(paths)) files.push(file);
    const progress = new ProgressBar(files.length, process.stderr);
    const failures: [string, string][] = [];
    let stored = 0;
    let duplicates = 0;
    for (const file of files) {
      const outcome = await importFile(core.ingest, file);
      if (!outcome.ok) failures.push([file, outcome.error.message]);
      else if (outcome.status === 'duplicate') duplicates++;
      else stored++;
      progress.tick(failures.length);
    }
    progress.done();
    process.stdout.write(
      `stored ${stored}, duplicates ${duplicates}, failed ${failures.length} (of ${files.length} files)\n`,
    );
    for (const [file, reason] of failures) process.stdout.write(`  failed: ${file}: ${reason}\n`);
    return failures.length > 0 ? 1 : 0;
  } finally {
    await core.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`dicomweb-gateway: ${(error as Error).message}\n`);
      process.exit(2);
    }
    if (error instanceof DataDirectoryBusyError) {
      process.stderr.write(`dicomweb-gateway: ${error.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`dicomweb-gateway: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
