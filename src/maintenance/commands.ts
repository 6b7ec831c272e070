/**
 * The `verify` and `reindex` commands: run the maintenance work on the configured data directory with a
 * progress bar on stderr, print a report (human-readable, or JSON with --json) on stdout, and map the
 * outcome to an exit status.
 *
 * verify exits like fsck: 0 nothing wrong; 1 problems found and all repaired (--repair); 4 problems
 * found and left (without --repair, or some could not be repaired); 8 it could not run (no index, a
 * gateway has it open). reindex: 0 every file indexed; 1 some went to quarantine; 8 it could not run.
 */
import type { GatewayConfig } from '../config.js';
import { sopClassAcceptor } from '../core.js';
import { createLogger, type Logger } from '../log.js';
import { ProgressBar } from '../progress.js';
import type { AdoptOutcome } from './adopt.js';
import { reindexStore, type ReindexReport } from './reindex.js';
import { MaintenanceError, openSession, type MaintenanceOptions, type ProgressEvent } from './session.js';
import { IndexBusyError } from './sqlite-ops.js';
import { verifyStore, type VerifyReport } from './verify.js';

export const VerifyExit = { clean: 0, repaired: 1, problems: 4, cannotRun: 8 } as const;
export const ReindexExit = { indexed: 0, quarantined: 1, cannotRun: 8 } as const;

export interface CommandOutput {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
}

const STANDARD_OUTPUT: CommandOutput = { stdout: process.stdout, stderr: process.stderr };

export async function verifyCommand(
  config: GatewayConfig,
  flags: { repair?: boolean; json?: boolean } = {},
  output: CommandOutput = STANDARD_OUTPUT,
): Promise<number> {
  const repair = flags.repair ?? false;
  try {
    const session = await openSession(maintenanceOptions(config, output));
    let report: VerifyReport;
    try {
      report = await verifyStore(session, {
        repair,
        onProgress: flags.json ? undefined : progressBars(output.stderr),
      });
    } finally {
      await session.close();
    }
    output.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatVerify(report));
    if (report.problems === 0) return VerifyExit.clean;
    return repair && report.remaining === 0 ? VerifyExit.repaired : VerifyExit.problems;
  } catch (error) {
    return cannotRun('verify', error, output, VerifyExit.cannotRun);
  }
}

export async function reindexCommand(
  config: GatewayConfig,
  flags: { json?: boolean } = {},
  output: CommandOutput = STANDARD_OUTPUT,
): Promise<number> {
  try {
    const report = await reindexStore(maintenanceOptions(config, output), {
      onProgress: flags.json ? undefined : progressBars(output.stderr),
    });
    output.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReindex(report));
    return report.failed > 0 ? ReindexExit.quarantined : ReindexExit.indexed;
  } catch (error) {
    return cannotRun('reindex', error, output, ReindexExit.cannotRun);
  }
}

function maintenanceOptions(config: GatewayConfig, output: CommandOutput): MaintenanceOptions {
  // Logs go to stderr: stdout carries the report (and may be JSON).
  const log: Logger = createLogger(config.log.level === 'info' ? 'warn' : config.log.level, output.stderr);
  return {
    dataDir: config.data,
    log,
    ingest: { maxInstanceBytes: config.limits.maxInstanceBytes, acceptSopClass: sopClassAcceptor(config) },
  };
}

function cannotRun(command: string, error: unknown, output: CommandOutput, code: number): number {
  const known = error instanceof MaintenanceError || error instanceof IndexBusyError;
  const message = known ? (error as Error).message : ((error as Error).stack ?? String(error));
  output.stderr.write(`dicomweb-gateway ${command}: ${message}\n`);
  return code;
}

const PHASES: Record<ProgressEvent['phase'], string> = {
  index: 'checking every indexed file (size and SHA-256)',
  files: 'checking every file is indexed',
  repair: 'repairing unindexed files',
  reindex: 'indexing every file',
};

/** One progress bar per phase, each under a line naming it. */
function progressBars(out: NodeJS.WriteStream): (event: ProgressEvent) => void {
  let phase: ProgressEvent['phase'] | undefined;
  let bar: ProgressBar | undefined;
  return (event) => {
    if (event.phase !== phase) {
      bar?.done();
      phase = event.phase;
      out.write(`${PHASES[phase]}\n`);
      bar = new ProgressBar(event.total, out);
    }
    bar?.tick(event.failed);
    if (event.done === event.total) {
      bar?.done();
      bar = undefined;
    }
  };
}

function formatVerify(report: VerifyReport): string {
  const lines: string[] = [];
  const { checked } = report;
  lines.push(
    `verify ${report.dataDir}: ${checked.instances} indexed instances (${formatBytes(checked.bytes)}) and ` +
      `${checked.files} files checked`,
  );
  for (const message of report.indexIntegrity) lines.push(`  index damaged: ${message}`);
  for (const p of report.missingFiles)
    lines.push(`  missing file: ${p.fileKey} (SOP instance ${p.sopInstanceUid})`);
  for (const p of report.sizeMismatch) {
    lines.push(
      `  size mismatch: ${p.fileKey} (SOP instance ${p.sopInstanceUid}): ${p.actualSize} bytes, ` +
        `indexed with ${p.expectedSize}`,
    );
  }
  for (const p of report.hashMismatch) {
    lines.push(
      `  hash mismatch: ${p.fileKey} (SOP instance ${p.sopInstanceUid}): content differs from the index`,
    );
  }
  for (const p of report.unreadableFiles) {
    lines.push(`  unreadable file: ${p.fileKey} (SOP instance ${p.sopInstanceUid}): ${p.error}`);
  }
  for (const f of report.unindexedFiles) lines.push(`  unindexed file: ${f.fileKey} (${f.size} bytes)`);
  for (const c of report.counterProblems) lines.push(`  index counts: ${c.level} ${c.uid}: ${c.problem}`);
  if (report.notes.temporaryFiles > 0) {
    lines.push(
      `  note: ${report.notes.temporaryFiles} partial uploads in tmp/ (removed at start-up or by --repair)`,
    );
  }
  for (const key of report.notes.pendingRemovals) {
    lines.push(`  note: ${key} belongs to a deleted instance (removed at start-up or by --repair)`);
  }

  const repaired = report.repaired;
  if (repaired) {
    if (repaired.removedTemporary > 0)
      lines.push(`removed ${repaired.removedTemporary} partial uploads from tmp/`);
    for (const row of repaired.removedRows) {
      lines.push(`removed index row of SOP instance ${row.sopInstanceUid} (${row.reason}: ${row.fileKey})`);
    }
    for (const outcome of repaired.unindexedFiles) {
      // Quarantined files are listed once, below, with the damaged ones.
      if (outcome.action !== 'quarantined' && outcome.action !== 'failed')
        lines.push(describeOutcome(outcome));
    }
    for (const q of repaired.quarantined) lines.push(`quarantined ${q.fileKey} -> ${q.to}: ${q.reason}`);
    for (const key of repaired.removedPendingFiles) lines.push(`removed ${key} (deleted instance)`);
    for (const f of repaired.failed) lines.push(`could not repair ${f.fileKey}: ${f.reason}`);
  }

  if (report.problems === 0) {
    lines.push('no problems found');
  } else if (!repaired) {
    lines.push(
      `${plural(report.problems, 'problem')} found; \`dicomweb-gateway verify --repair\` repairs them`,
    );
  } else if (report.remaining === 0) {
    lines.push(`${plural(report.problems, 'problem')} found, all repaired`);
  } else {
    const advice = report.indexIntegrity.length > 0 ? ' (the index itself is damaged: run reindex)' : '';
    lines.push(`${plural(report.problems, 'problem')} found, ${report.remaining} left${advice}`);
  }
  return `${lines.join('\n')}\n`;
}

function describeOutcome(outcome: AdoptOutcome): string {
  switch (outcome.action) {
    case 'indexed':
      return `indexed ${outcome.fileKey} (SOP instance ${outcome.sopInstanceUid})`;
    case 'imported':
      return `imported ${outcome.fileKey} as ${outcome.storedAs} (SOP instance ${outcome.sopInstanceUid})`;
    case 'duplicate':
      return `removed ${outcome.fileKey}: same dataset as the indexed ${outcome.indexedFileKey}`;
    case 'superseded':
      return `indexed ${outcome.fileKey} in place of the older ${outcome.olderFileKey} (now ${outcome.quarantinedAs})`;
    case 'quarantined':
      return `quarantined ${outcome.fileKey} -> ${outcome.quarantinedAs}: ${outcome.reason}`;
    case 'already-indexed':
      return `${outcome.fileKey} is already indexed`;
    case 'failed':
      return `could not handle ${outcome.fileKey}: ${outcome.reason}`;
  }
}

function formatReindex(report: ReindexReport): string {
  const lines: string[] = [];
  if (report.backup) {
    const old = report.oldIndex;
    const held = old?.instances !== undefined ? `, which held ${plural(old.instances, 'instance')}` : '';
    const unreadable = old?.error ? ` (unreadable: ${old.error})` : '';
    lines.push(`moved the old index to ${report.backup}${held}${unreadable}`);
  }
  if (report.removedTemporary > 0) lines.push(`removed ${report.removedTemporary} partial uploads from tmp/`);
  for (const key of report.removedPendingFiles) lines.push(`removed ${key} (deleted instance)`);
  for (const outcome of report.details) {
    // Quarantined files are listed once, below, with the superseded ones.
    if (outcome.action !== 'quarantined' && outcome.action !== 'already-indexed') {
      lines.push(describeOutcome(outcome));
    }
  }
  for (const q of report.quarantined) lines.push(`quarantined ${q.fileKey} -> ${q.to}: ${q.reason}`);
  const c = report.counts;
  lines.push(
    `reindex ${report.dataDir}: ${plural(report.files, 'file')}: indexed ${c.indexed}, imported ${c.imported}, ` +
      `duplicates removed ${c.duplicate}, quarantined ${report.quarantined.length}, failed ${c.failed}; ` +
      `the index holds ${plural(report.instances, 'instance')}`,
  );
  return `${lines.join('\n')}\n`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
