import { messageOf } from '../errors.js';
import type { RunResult } from '../metadata/records.js';
import type { LogFn } from './task-log.js';

/**
 * POSTs a failed run to `url` (`env:NAME` reads it from the environment) as JSON:
 * `{ event: 'run_failed', project, pipeline, logicalDate, runId, attempt, trigger, error,
 * startedAt, endedAt, datasets: [{ dataset, status, attempts, error, log }] }`. Waits at most
 * 10 s; a failed delivery is logged, never thrown.
 */
export async function notifyFailure(url: string, run: RunResult, log: LogFn): Promise<void> {
  const target = url.startsWith('env:') ? process.env[url.slice(4)] : url;
  if (!target) return log('warn', 'webhook-skipped', { reason: `${url.slice(4)} is not set` });
  const body = {
    event: 'run_failed', project: run.project, pipeline: run.pipeline ?? null, logicalDate: run.logicalDate ?? null, runId: run.runId,
    attempt: run.attempt ?? 1, trigger: run.trigger ?? null, error: run.error ?? null,
    startedAt: run.startedAt.toISOString(), endedAt: run.endedAt.toISOString(),
    datasets: run.datasets.map((d) => ({ dataset: d.dataset, status: d.status, attempts: d.attempts ?? 1, error: d.error ?? null, log: d.log ?? null })),
  };
  try {
    const res = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    if (!res.ok) log('warn', 'webhook-failed', { status: res.status, runId: run.runId });
  } catch (err) {
    log('warn', 'webhook-failed', { error: messageOf(err), runId: run.runId });
  }
}
