/**
 * Where a run's time goes, when environment variable `INGOT_PROFILE` is `1`: wall time per
 * phase (planning, each step stage, commits, checkpoints, exports, the run record...), summed
 * over the runs of the process and printed to stderr when the process exits, as
 * `phase  calls  total ms  ms per call  share of the runs' time`. Off (the default), `timed`
 * only calls its function. Phases nest: a phase's time includes its children's (names say so:
 * `step.write` includes `step.write.quarantine`).
 */

const enabled = process.env['INGOT_PROFILE'] === '1';
const totals = new Map<string, { calls: number; ms: number }>();

/** Whether profiling is on (`INGOT_PROFILE=1`). */
export function profiling(): boolean {
  return enabled;
}

/** Adds `ms` milliseconds (one call) to phase `name`. */
export function addTime(name: string, ms: number): void {
  if (!enabled) return;
  const t = totals.get(name) ?? { calls: 0, ms: 0 };
  t.calls++;
  t.ms += ms;
  totals.set(name, t);
}

/** Runs `fn`, adding its wall time to phase `name` when profiling. Rethrows what `fn` throws (the time counts). */
export async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (!enabled) return fn();
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    addTime(name, performance.now() - t0);
  }
}

/** The phases measured so far, as a text table (the share is of phase `run`, the runs' total). */
export function profileReport(): string {
  const run = totals.get('run')?.ms ?? 0;
  const rows = [...totals].sort(([a], [b]) => a.localeCompare(b));
  const width = Math.max(5, ...rows.map(([n]) => n.length));
  const lines = [`${'phase'.padEnd(width)}  ${'calls'.padStart(6)}  ${'total ms'.padStart(9)}  ${'ms/call'.padStart(8)}  share`];
  for (const [name, { calls, ms }] of rows) {
    lines.push(`${name.padEnd(width)}  ${String(calls).padStart(6)}  ${ms.toFixed(0).padStart(9)}  ${(ms / calls).toFixed(2).padStart(8)}  ${run > 0 ? `${((100 * ms) / run).toFixed(1)}%` : ''}`);
  }
  return lines.join('\n');
}

if (enabled) process.on('exit', () => process.stderr.write(`\ningot profile (INGOT_PROFILE=1), wall time per phase:\n${profileReport()}\n`));

/**
 * `target` with every method returning a promise timed as phase `<prefix>.<method>` when
 * profiling (the object itself when not): the engines' and the metadata store's calls.
 */
export function profiled<T extends object>(target: T, prefix: string): T {
  if (!enabled) return target;
  return new Proxy(target, {
    get(obj, key, receiver) {
      const value = Reflect.get(obj, key, receiver) as unknown;
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      return (...args: unknown[]) => {
        const t0 = performance.now();
        const out = (value as (...a: unknown[]) => unknown).apply(obj, args);
        if (out instanceof Promise) return out.finally(() => addTime(`${prefix}.${key}`, performance.now() - t0));
        return out;
      };
    },
  });
}
