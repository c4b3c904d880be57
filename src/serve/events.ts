import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { messageOf } from '../errors.js';
import { pipelinesOf, startingPaused } from '../schedule/pipeline.js';
import type { ServeContext } from './context.js';
import { pipelinesOfRuns, projectGraph, runProgress } from './run-views.js';

/** How often the metadata store is looked at for changes, ms. */
const POLL_MS = 1000;
/** A comment line this often keeps proxies from closing an idle stream, ms. */
const KEEPALIVE_MS = 15_000;
/** Runs looked at each poll: the newest, and every running one. */
const RECENT_RUNS = 50;

/** One `runs` event: the runs that changed since the previous one (running ones with their progress) and the paused pipelines. */
export interface RunsEvent {
  runs: {
    id: string; pipeline: string | null; logicalDate: string | null; status: string; endedAt: string | null; rows: number | null; error: string | null;
    /** A running run: the dataset it is executing now (from the task logs) and the rows its finished datasets wrote. */
    current?: string | null; rowsSoFar?: number;
  }[];
  paused: string[];
}

/**
 * `GET /api/events` (read scope): server-sent events (`text/event-stream`) for the console's live
 * pages. One poller per server looks at the metadata store every second, whoever writes to it
 * (this server's scheduler, `ingot run`, `ingot backfill`, another `ingot serve`), and sends each
 * stream a `runs` event (`RunsEvent` as JSON) when a recent run starts, progresses or ends, or a
 * pipeline is paused or resumed; the first event holds the current state. The poller stops when
 * no stream is open and with the server.
 */
export function addEventRoutes(app: FastifyInstance, ctx: ServeContext): void {
  const streams = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | undefined;
  let keepalive: NodeJS.Timeout | undefined;
  const seen = new Map<string, string>();
  let pausedSeen = '';
  let polling = false;

  const snapshot = async (): Promise<{ changed: RunsEvent['runs']; all: RunsEvent['runs']; paused: string[] }> => {
    const recent = await ctx.store.runs(RECENT_RUNS);
    const running = await ctx.store.runs(undefined, { status: 'running' });
    const rows = [...new Map([...recent, ...running].map((r) => [r.run_id, r])).values()];
    const owners = await pipelinesOfRuns(ctx, rows);
    const order = (await projectGraph(ctx)).order.map((n) => n.dataset.name);
    const all: RunsEvent['runs'] = [];
    for (const r of rows) {
      const item: RunsEvent['runs'][number] = {
        id: r.run_id, pipeline: owners.get(r.run_id)?.pipeline ?? r.pipeline, logicalDate: r.logical_date, status: r.status,
        endedAt: r.ended_at === null ? null : new Date(r.ended_at).toISOString(), rows: r.rows_written, error: r.error,
      };
      if (r.status === 'running') {
        const progress = await runProgress(ctx, r, order);
        item.current = progress.find((p) => p.state === 'running')?.dataset ?? null;
        item.rowsSoFar = progress.reduce((n, p) => n + (p.rows ?? 0), 0);
      }
      all.push(item);
    }
    const changed = all.filter((x) => seen.get(x.id) !== JSON.stringify(x));
    for (const x of all) seen.set(x.id, JSON.stringify(x));
    // runs no longer among the recent ones are forgotten (a file-triggered server runs thousands an hour)
    if (seen.size > all.length) {
      const ids = new Set(all.map((x) => x.id));
      for (const id of seen.keys()) if (!ids.has(id)) seen.delete(id);
    }
    return { changed, all, paused: [...(await ctx.store.paused(startingPaused(pipelinesOf(ctx.project))))].sort() };
  };

  const send = (res: ServerResponse, event: RunsEvent): void => {
    res.write(`event: runs\ndata: ${JSON.stringify(event)}\n\n`);
  };

  const poll = async (): Promise<void> => {
    if (polling || streams.size === 0) return;
    polling = true;
    try {
      const { changed, paused } = await snapshot();
      const pausedNow = paused.join('\n');
      if (changed.length > 0 || pausedNow !== pausedSeen) {
        pausedSeen = pausedNow;
        for (const res of streams) send(res, { runs: changed, paused });
      }
    } catch (err) {
      for (const res of streams) res.write(`event: error\ndata: ${JSON.stringify({ message: messageOf(err) })}\n\n`);
    } finally {
      polling = false;
    }
  };

  const stop = (): void => {
    clearInterval(timer);
    clearInterval(keepalive);
    timer = keepalive = undefined;
  };

  app.addHook('onClose', async () => {
    stop();
    for (const res of streams) res.end();
    streams.clear();
  });

  app.get('/api/events', {
    schema: {
      tags: ['runs'], summary: 'Server-sent events: runs starting, progressing and ending, pipelines paused and resumed (text/event-stream)',
      description: 'Each `runs` event is JSON `{ runs: [{ id, pipeline, logicalDate, status, endedAt, rows, error, current?, rowsSoFar? }], paused: [names] }`: the runs that changed since the previous event (the first event: the newest runs and every running one).',
    },
  }, async (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive',
      'x-content-type-options': 'nosniff', 'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    // the first event: the current state of every recent run
    try {
      const first = await snapshot();
      pausedSeen = first.paused.join('\n');
      send(res, { runs: first.all, paused: first.paused });
      // other streams get what this look found changed
      for (const other of streams) if (first.changed.length) send(other, { runs: first.changed, paused: first.paused });
    } catch (err) {
      res.write(`event: error\ndata: ${JSON.stringify({ message: messageOf(err) })}\n\n`);
    }
    streams.add(res);
    req.raw.on('close', () => {
      streams.delete(res);
      if (streams.size === 0) stop();
    });
    timer ??= setInterval(() => void poll(), POLL_MS);
    keepalive ??= setInterval(() => { for (const r of streams) r.write(': keepalive\n\n'); }, KEEPALIVE_MS);
  });
}
