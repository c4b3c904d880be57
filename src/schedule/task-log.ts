import { appendFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Structured logs: one JSON object per line, `{ ts, level, event, ...fields }`. Each task (one
 * dataset of one run) gets its own file, `.ingot/logs/<pipeline>/<logical date>/<dataset>.<run id>.jsonl`,
 * appended across attempts and across a crashed run's takeover.
 */
export class TaskLog {
  constructor(readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
  }

  /** The log file of `dataset` in run `runId`, under `logDir`. */
  static for(logDir: string, pipeline: string, logicalDate: string, dataset: string, runId: string): TaskLog {
    return new TaskLog(path.join(logDir, pipeline, logicalDate, `${dataset}.${runId}.jsonl`));
  }

  /** Appends one event (synchronously, so a crash loses nothing written before it). */
  write(level: 'info' | 'warn' | 'error', event: string, fields: Record<string, unknown> = {}): void {
    appendFileSync(this.file, JSON.stringify({ ts: new Date().toISOString(), level, event, ...fields }) + '\n');
  }
}

/** A structured log line for the scheduler itself (stderr of `ingot serve`). */
export type LogFn = (level: 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>) => void;

/** Writes scheduler events as JSON lines to `out` (default stderr). */
export function jsonLog(out: (line: string) => void = (l) => process.stderr.write(l + '\n')): LogFn {
  return (level, event, fields = {}) => out(JSON.stringify({ ts: new Date().toISOString(), level, event, ...fields }));
}
