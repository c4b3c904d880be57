/**
 * Where a run's time goes, when environment variable `INGOT_PROFILE` is `1`: wall time per
 * phase (planning, each step stage, commits, checkpoints, exports, the run record...), summed
 * over the runs of the process and printed to stderr when the process exits, as
 * `phase  calls  total ms  ms per call  share of the runs' time`. Off (the default), `timed`
 * only calls its function. Phases nest: a phase's time includes its children's (names say so:
 * `step.write` includes `step.write.quarantine`). `INGOT_PROFILE=2` also labels each engine and
 * metadata call with the start of its first text argument (`engine.run CREATE TABLE "__checked…`),
 * to tell apart the queries of one method.
 */

const level = process.env['INGOT_PROFILE'];
const enabled = level === '1' || level === '2';
const labelled = level === '2';
const totals = new Map<string, { calls: number; ms: number }>();

/** Whether profiling is on (`INGOT_PROFILE=1` or `2`). */
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

/** Forgets the phases measured so far (a measurement after a warm-up). */
export function resetProfile(): void {
  totals.clear();
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

if (enabled) process.on('exit', () => process.stderr.write(`\ningot profile (INGOT_PROFILE=${level}), wall time per phase:\n${profileReport()}\n`));

/**
 * `target` with every method returning a promise timed as phase `<prefix>.<method>` when
 * profiling (the object itself when not): the engines' and the metadata store's calls. With
 * `INGOT_PROFILE=2`, also as `<prefix>.<method> <first 48 characters of its first string argument>`.
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
        if (out instanceof Promise) {
          const label = labelled ? labelOf(args) : undefined;
          return out.finally(() => {
            const ms = performance.now() - t0;
            addTime(`${prefix}.${key}`, ms);
            if (label !== undefined) addTime(`${prefix}.${key} ${label}`, ms);
          });
        }
        return out;
      };
    },
  });
}

/**
 * The first 48 characters of the first string argument, if any: whitespace runs as one space,
 * numbers and ids (runs of 6 or more hex digits) as `#`, so the calls of one query add up.
 */
function labelOf(args: unknown[]): string | undefined {
  const text = args.find((a): a is string => typeof a === 'string');
  return text === undefined ? undefined : text.replace(/\s+/g, ' ').replace(/[0-9a-f_-]{6,}|\d+/gi, (m) => (/\d/.test(m) ? '#' : m)).trim().slice(0, 48);
}
