/**
 * CPU time spent during a measurement, from /proc: the server process's (all its threads) and the whole
 * machine's (server, client tools, kernel), so a phase can report what one operation costs and whether
 * the machine's cores, rather than the server's design, set the pace. Steal is time the hypervisor gave
 * this machine's cores to other guests: a high figure means the run was slowed by its neighbours.
 */
import { readFileSync } from 'node:fs';

/** Linux reports /proc CPU times in clock ticks of 1/100 s (USER_HZ) on every architecture Node runs on. */
const MS_PER_TICK = 10;

export interface CpuUse {
  /** Server process, user + system, in ms. */
  serverMs: number;
  /** All cores, busy (everything but idle, I/O wait and steal), in ms. */
  machineBusyMs: number;
  /** All cores, stolen by the hypervisor, in ms. */
  stealMs: number;
  /** Capacity of all cores over the measured wall time, in ms. */
  capacityMs: number;
}

function processTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at field 3: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function machineTicks(): { busy: number; steal: number; cores: number } {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  // cpu user nice system idle iowait irq softirq steal ...: idle and I/O wait are not busy.
  const [, user, nice, system, , , irq, softirq, steal] = lines[0]!.trim().split(/\s+/).map(Number);
  const cores = lines.filter((line) => /^cpu\d+ /.test(line)).length;
  return { busy: user! + nice! + system! + irq! + softirq!, steal: steal!, cores };
}

/** Starts measuring; call the returned function at the end of the measured stretch. */
export function cpuMeter(pid: number): () => CpuUse {
  const started = performance.now();
  const server = processTicks(pid);
  const machine = machineTicks();
  return () => {
    const end = machineTicks();
    return {
      serverMs: (processTicks(pid) - server) * MS_PER_TICK,
      machineBusyMs: (end.busy - machine.busy) * MS_PER_TICK,
      stealMs: (end.steal - machine.steal) * MS_PER_TICK,
      capacityMs: (performance.now() - started) * end.cores,
    };
  };
}

/** The figures a phase reports: CPU per operation, and how busy the machine was. */
export function cpuFigures(use: CpuUse, operations: number): CpuFigures {
  return {
    serverCpuMsPerOp: use.serverMs / operations,
    machineCpuMsPerOp: use.machineBusyMs / operations,
    machineBusyPercent: (100 * use.machineBusyMs) / use.capacityMs,
    stealPercent: (100 * use.stealMs) / use.capacityMs,
  };
}

export interface CpuFigures {
  serverCpuMsPerOp: number;
  machineCpuMsPerOp: number;
  machineBusyPercent: number;
  stealPercent: number;
}
