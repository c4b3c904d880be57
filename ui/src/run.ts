/** A run's page: its per-dataset rows, expectations, quarantine counts, and each task's log. */
import { getJson, getText, seg, withQuery, type RunInfo, type TaskInfo } from './api.js';
import { badge, dataTable, duration, h, num, time } from './dom.js';

/** Renders run `id` into `view`. */
export async function runPage(view: HTMLElement, id: string): Promise<void> {
  const run = await getJson<RunInfo & { tasks: TaskInfo[] }>(`/api/runs/${seg(id)}`);
  view.append(
    h('h1', {}, 'Run ', h('code', {}, run.id), ' ', badge(run.status)),
    h('p', { class: 'meta' },
      `pipeline ${run.pipeline ?? '-'} · logical date ${run.logicalDate ?? '-'} · attempt ${run.attempt} · started ${time(run.startedAt)} · `,
      `${duration(run.durationMs)} · ${num(run.rows)} rows`),
  );
  if (run.error) view.append(h('pre', { class: 'error' }, run.error));
  const tasks = h('section', { class: 'card' }, h('h2', {}, 'Datasets'),
    dataTable(['dataset', 'status', 'attempts', 'started', 'duration', 'rows', 'quarantined', 'expectations', 'error'],
      run.tasks.map((t) => ({
        ...t,
        started: time(t.startedAt),
        duration: t.startedAt && t.endedAt ? duration(Date.parse(t.endedAt) - Date.parse(t.startedAt)) : '',
        expectations: t.expectations.length ? `${t.expectations.filter((e) => e.passed).length}/${t.expectations.length} passed` : '',
      })),
      {
        dataset: (r) => h('a', { href: `#/tables/${encodeURIComponent(String(r['dataset']))}` }, String(r['dataset'])),
        status: (r) => badge(String(r['status'])),
        rows: (r) => num(r['rows']),
        quarantined: (r) => num(r['quarantined']),
      }, 'data tasks'));
  const expectations = run.tasks.flatMap((t) => t.expectations.map((e) => ({ dataset: t.dataset, ...e })));
  const checks = h('section', { class: 'card' }, h('h2', {}, 'Expectations'),
    expectations.length === 0 ? h('p', {}, 'No expectations in this run.') :
      dataTable(['dataset', 'name', 'action', 'passed', 'failedRows'], expectations, {
        passed: (r) => badge(r['passed'] ? 'passed' : 'failed'),
        failedRows: (r) => num(r['failedRows']),
      }, 'data expectations'));
  // the log shown first: a failed task's, else one with expectations, else the first
  const first = run.tasks.find((t) => t.status === 'failed') ?? run.tasks.find((t) => t.expectations.length > 0) ?? run.tasks[0];
  const select = h('select', { name: 'dataset' }, ...run.tasks.map((t) => h('option', { value: t.dataset, selected: t === first }, t.dataset)));
  const log = h('pre', { class: 'log' });
  const showLog = async () => {
    log.textContent = 'loading…';
    log.textContent = (await getText(withQuery(`/api/runs/${seg(run.id)}/log`, { dataset: select.value }))) || '(empty log)';
  };
  select.addEventListener('change', () => void showLog());
  view.append(tasks, checks, h('section', { class: 'card' }, h('h2', {}, 'Task log ', select), log));
  if (run.tasks.length) await showLog();
}
