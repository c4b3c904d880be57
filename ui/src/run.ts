/**
 * A run's page: every dataset of the run with its state (succeeded, failed with the error,
 * skipped with the reason, not run because an upstream dataset failed, staged but not
 * committed; running and rows so far while it runs, live), its expectations, a retry of a failed
 * run (a write key's), and each task's log as a table with a level filter and a search.
 */
import { getJson, getText, onRuns, postJson, seg, withQuery, writeRefusal, ApiError, type RunInfo, type TaskInfo } from './api.js';
import { badge, dataTable, duration, h, longText, num, time } from './dom.js';

type RunDetail = RunInfo & { tasks: TaskInfo[]; current?: string | null; rowsSoFar?: number };

/** Renders run `id` into `view`; while it runs, live until the page changes. */
export async function runPage(view: HTMLElement, id: string): Promise<void> {
  const top = h('div', {});
  const body = h('div', {});
  view.append(top, body);
  const refusal = await writeRefusal();
  let run = await getJson<RunDetail>(`/api/runs/${seg(id)}`);
  const draw = (): void => {
    top.replaceChildren(
      h('h1', {}, 'Run ', h('code', { class: 'run-id' }, run.id), ' ', badge(run.status)),
      h('p', { class: 'meta' },
        `pipeline ${run.pipeline ?? '-'}${run.attributed ? ' (ran by ingot run)' : ''} · logical date ${run.logicalDate ?? '-'} · attempt ${run.attempt} · started ${time(run.startedAt)} · `,
        `${duration(run.durationMs)} · ${num(run.rows)} rows`),
      run.status === 'running' ? h('p', { class: 'progress', role: 'status' }, `running ${run.current ?? '(between datasets)'} · ${num(run.rowsSoFar ?? 0)} rows so far`) : '',
      run.error ? h('pre', { class: 'error run-error' }, run.error) : '',
      retry(run, refusal),
    );
    body.replaceChildren(tasksCard(run), checksCard(run));
  };
  draw();
  const logCard = h('section', { class: 'card' });
  view.append(logCard);
  await logs(logCard, run);
  if (run.status !== 'running') return;
  const off = onRuns((e) => {
    if (!view.isConnected) {
      off();
      return;
    }
    if (!e.runs.some((r) => r.id === run.id)) return;
    void getJson<RunDetail>(`/api/runs/${seg(id)}`).then((fresh) => {
      run = fresh;
      draw();
      if (run.status !== 'running') {
        off();
        void logs(logCard, run);
      }
    });
  });
}

/** Retry of a failed run: its pipeline's interval queued again (a new run of the same logical date). */
function retry(run: RunDetail, refusal: string | null): HTMLElement | string {
  if (run.status !== 'failed') return '';
  const out = h('span', { class: 'outcome' });
  const why = !run.pipeline || !run.logicalDate ? 'a run without a logical date is retried with ingot run --retry' : refusal;
  const button = h('button', { type: 'button', class: 'retry', disabled: why !== null, title: why ?? undefined, onclick: () => {
    button.disabled = true;
    postJson<{ logicalDate: string }>(`/api/pipelines/${seg(run.pipeline!)}/trigger`, { date: run.logicalDate })
      .then((r) => out.replaceChildren(h('span', { class: 'done', role: 'status' }, `Queued ${run.pipeline} for ${r.logicalDate} again: the scheduler runs it as a new run.`)),
        (err: unknown) => out.replaceChildren(h('span', { class: 'error', role: 'status' }, err instanceof ApiError ? `refused: ${err.code}: ${err.message}` : String(err))));
  } }, 'Retry');
  return h('p', { class: 'actions' }, button, ' ', why ? h('span', { class: 'hint refusal' }, `Retry disabled: ${why}.`) : '', out);
}

function tasksCard(run: RunDetail): HTMLElement {
  return h('section', { class: 'card' }, h('h2', {}, `Datasets (${run.tasks.length})`),
    h('div', { class: 'scroll' }, dataTable(['dataset', 'state', 'rows', 'quarantined', 'expectations', 'attempts', 'duration', 'reason or error'],
      run.tasks.map((t) => ({
        ...t,
        duration: t.startedAt && t.endedAt ? duration(Date.parse(t.endedAt) - Date.parse(t.startedAt)) : '',
        expectations: t.expectations.length ? `${t.expectations.filter((e) => e.passed).length}/${t.expectations.length} passed` : '',
        'reason or error': t.error ?? t.reason ?? '',
      })),
      {
        dataset: (r) => h('a', { href: `#/datasets/${encodeURIComponent(String(r['dataset']))}` }, String(r['dataset'])),
        state: (r) => badge(String(r['state'])),
        rows: (r) => num(r['rows']),
        quarantined: (r) => num(r['quarantined']),
        'reason or error': (r) => longText(String(r['reason or error']), 200, r['error'] ? 'error' : 'reason'),
      }, 'data tasks')));
}

function checksCard(run: RunDetail): HTMLElement {
  const expectations = run.tasks.flatMap((t) => t.expectations.map((e) => ({ dataset: t.dataset, ...e })));
  return h('section', { class: 'card' }, h('h2', {}, 'Expectations'),
    expectations.length === 0 ? h('p', {}, 'No expectations in this run.') :
      h('div', { class: 'scroll' }, dataTable(['dataset', 'name', 'action', 'result', 'failed rows', 'rows checked', 'pass rate'], expectations.map((e) => ({
        ...e, result: e.passed ? 'passed' : 'failed', 'failed rows': e.failedRows, 'rows checked': e.rowsChecked, 'pass rate': e.passRate === null ? '' : `${(e.passRate * 100).toFixed(2)} %`,
      })), {
        result: (r) => badge(String(r['result'])),
        'failed rows': (r) => num(r['failed rows']),
        'rows checked': (r) => num(r['rows checked']),
      }, 'data expectations')));
}

/** The log card: a task picker, a level filter, a search box and the log as a table (time, level, event, details). */
async function logs(card: HTMLElement, run: RunDetail): Promise<void> {
  const withLog = run.tasks.filter((t) => t.hasLog || t.state === 'running' || t.state === 'staged');
  // the log shown first: a failed task's, else one with expectations, else the first
  const first = withLog.find((t) => t.state === 'failed') ?? withLog.find((t) => t.expectations.length > 0) ?? withLog[0];
  if (!first) {
    card.replaceChildren(h('h2', {}, 'Task log'), h('p', { class: 'hint' }, 'No task of this run wrote a log (runs of ingot run do not; runs of the scheduler, triggers and backfills do).'));
    return;
  }
  const select = h('select', { name: 'dataset', 'aria-label': 'task' }, ...withLog.map((t) => h('option', { value: t.dataset, selected: t === first }, t.dataset)));
  const level = h('select', { name: 'level', 'aria-label': 'level' }, ...['all levels', 'info', 'warn', 'error'].map((l) => h('option', { value: l === 'all levels' ? '' : l }, l)));
  const search = h('input', { type: 'search', name: 'search', placeholder: 'search', 'aria-label': 'search the log' });
  const table = h('div', { class: 'scroll log-table' });
  let lines: Record<string, unknown>[] = [];
  const show = (): void => {
    const q = search.value.trim().toLowerCase();
    const rows = lines.filter((l) => (!level.value || l['level'] === level.value) && (!q || JSON.stringify(l).toLowerCase().includes(q)));
    table.replaceChildren(h('p', { class: 'meta' }, `${rows.length} of ${lines.length} lines`), dataTable(['time', 'level', 'event', 'details'], rows.map((l) => {
      const { ts, level: lv, event, ...rest } = l;
      return { time: time(String(ts ?? '')), level: lv, event, details: Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ') };
    }), {
      level: (r) => badge(String(r['level'])),
      details: (r) => longText(String(r['details']), 300, 'details'),
    }, 'data log'));
  };
  const load = async (): Promise<void> => {
    table.replaceChildren(h('p', { class: 'meta' }, 'loading…'));
    const text = await getText(withQuery(`/api/runs/${seg(run.id)}/log`, { dataset: select.value }));
    lines = text.split('\n').filter((l) => l.trim()).map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return { level: 'info', event: 'text', message: l };
      }
    });
    show();
  };
  select.addEventListener('change', () => void load());
  level.addEventListener('change', show);
  search.addEventListener('input', show);
  card.replaceChildren(h('h2', {}, 'Task log'), h('p', { class: 'log-controls' }, select, ' ', level, ' ', search), table);
  await load();
}
