/**
 * Summarises a V8 CPU profile (from `npm run bench -- --cpu-prof <dir>`, or node --cpu-prof): the
 * functions with the most self time, and the gateway's own source files by self and total time.
 *
 *   node --import tsx bench/profile.ts <file.cpuprofile> [--top 25] [--callers <function name>]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function where(frame: ProfileNode['callFrame']): string {
  const url = frame.url.replace(/^file:\/\//, '');
  const short = url.includes('/node_modules/')
    ? url.slice(url.lastIndexOf('/node_modules/') + 14)
    : url.includes('/dist/')
      ? url.slice(url.indexOf('/dist/') + 1)
      : url || '(native)';
  return `${frame.functionName || '(anonymous)'} ${short}${url ? `:${frame.lineNumber + 1}` : ''}`;
}

export function summarise(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self.entries()]
    .filter(([id]) => ['(idle)', '(program)'].includes(byId.get(id)!.callFrame.functionName))
    .reduce((a, [, t]) => a + t, 0);

  const selfByFunction = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  const totalByFile = new Map<string, number>();
  for (const [id, t] of self) {
    const frame = byId.get(id)!.callFrame;
    selfByFunction.set(where(frame), (selfByFunction.get(where(frame)) ?? 0) + t);
    const file = frame.url.includes('/dist/') ? frame.url.slice(frame.url.indexOf('/dist/') + 1) : undefined;
    if (file) selfByFile.set(file, (selfByFile.get(file) ?? 0) + t);
    // Inclusive time: charge every gateway file on the stack once.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const url = byId.get(at)!.callFrame.url;
      if (!url.includes('/dist/')) continue;
      const f = url.slice(url.indexOf('/dist/') + 1);
      if (seen.has(f)) continue;
      seen.add(f);
      totalByFile.set(f, (totalByFile.get(f) ?? 0) + t);
    }
  }
  const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
  const list = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, t]) => `${pct(t)} ${(t / 1000).toFixed(0).padStart(7)} ms  ${k}`)
      .join('\n');
  return [
    `profile: ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s wall, ${(total / 1e6).toFixed(1)} s sampled, ${pct(idle)} idle/program`,
    '',
    'self time by function:',
    list(selfByFunction),
    '',
    'self time by gateway file:',
    list(selfByFile),
    '',
    'total (inclusive) time by gateway file:',
    list(totalByFile),
  ].join('\n');
}

/** The call stacks (caller chains, innermost first) through which `name` spent its self time. */
export function callers(profile: Profile, name: string, top: number, depth = 8): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const stacks = new Map<string, number>();
  for (const [id, t] of self) {
    if (byId.get(id)!.callFrame.functionName !== name) continue;
    const chain: string[] = [];
    for (let at = parent.get(id); at !== undefined && chain.length < depth; at = parent.get(at)) {
      chain.push(where(byId.get(at)!.callFrame));
    }
    const key = chain.join('\n      <- ');
    stacks.set(key, (stacks.get(key) ?? 0) + t);
  }
  return [...stacks.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([stack, t]) => `${(t / 1000).toFixed(0).padStart(7)} ms  ${name}\n      <- ${stack}`)
    .join('\n');
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string' }, callers: { type: 'string' } },
    allowPositionals: true,
  });
  const top = Number(values.top ?? 25);
  for (const file of positionals) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const text = values.callers ? callers(profile, values.callers, top) : summarise(profile, top);
    process.stdout.write(`== ${file}\n${text}\n\n`);
  }
}
