/**
 * The Tables pages: the list of tables; one table's schema (with column descriptions), rows (paged,
 * filtered and sorted through the API's filters), history (paged) and time travel.
 */
import { getJson, seg, withQuery, type HistoryEntry, type Page, type TableDetail, type TableInfo } from './api.js';
import { cellText, dataTable, h, num, time } from './dom.js';
import { pager } from './pipelines.js';

const PAGE_ROWS = 20;
const PAGE_HISTORY = 20;
/** The API's filter operators (`<col>.<op>=value`). */
const OPS: [string, string][] = [['eq', '='], ['ne', '≠'], ['gt', '>'], ['gte', '≥'], ['lt', '<'], ['lte', '≤'], ['in', 'in (a,b,c)']];

/** Renders the list of tables into `view`. */
export async function tablesPage(view: HTMLElement): Promise<void> {
  const { items } = await getJson<Page<TableInfo>>('/api/tables');
  const unreadable = items.some((t) => t.unreadable);
  view.append(h('h1', {}, 'Tables'), h('div', { class: 'scroll' }, dataTable(['name', 'version', 'rows', 'files', 'size', 'partitioned by', 'last modified', ...(unreadable ? ['unreadable'] : [])],
    items.map((t) => ({ ...t, rows: t.numRecords, files: t.numFiles, size: t.sizeBytes === null ? '' : bytes(t.sizeBytes), 'partitioned by': t.partitionColumns.join(', '), 'last modified': time(typeof t.lastModified === 'number' ? new Date(t.lastModified).toISOString() : t.lastModified),
      unreadable: t.unreadable ? `${t.unreadable.error}: ${t.unreadable.message}` : '' })),
    {
      name: (r) => h('a', { href: `#/tables/${encodeURIComponent(String(r['name']))}` }, String(r['name'])),
      rows: (r) => num(r['rows']),
      unreadable: (r) => h('span', { class: 'error wrap' }, String(r['unreadable'])),
    }, 'data tables')));
}

/** Renders table `name` into `view`, at `?version=N` when given (time travel). */
export async function tablePage(view: HTMLElement, name: string, query: URLSearchParams): Promise<void> {
  const version = query.get('version') ?? undefined;
  const [detail, history] = await Promise.all([
    getJson<TableDetail>(`/api/tables/${seg(name)}`),
    getJson<Page<HistoryEntry>>(withQuery(`/api/tables/${seg(name)}/history`, { limit: 1000 })),
  ]);
  const shown = version ?? String(detail.version);
  const picker = h('select', { name: 'version', onchange: (e: Event) => {
    const v = (e.target as HTMLSelectElement).value;
    location.hash = `#/tables/${encodeURIComponent(name)}${v === String(detail.version) ? '' : `?version=${v}`}`;
  } }, ...history.items.map((e) => h('option', { value: e.version, selected: String(e.version) === shown }, `version ${e.version} · ${e.operation}`)));
  view.append(
    h('h1', {}, h('span', { class: 'wrap' }, name), ' ', h('a', { class: 'small', href: `#/datasets/${encodeURIComponent(name)}` }, 'dataset')),
    h('p', { class: 'meta' }, `latest version ${detail.version}`,
      detail.partitionColumns.length ? ` · partitioned by ${detail.partitionColumns.join(', ')}` : '',
      ' · time travel: ', picker),
  );
  view.append(h('section', { class: 'card' }, h('h2', {}, 'Schema'),
    h('div', { class: 'scroll' }, dataTable(['name', 'type', 'nullable', 'description'], detail.schema.fields.map((f) => ({ ...f, type: typeof f.type === 'string' ? f.type : JSON.stringify(f.type), nullable: f.nullable ? 'yes' : 'no', description: f.description ?? '' })),
      { description: (r) => h('span', { class: 'wrap' }, String(r['description'])) }, 'data schema'))));

  const rowsCard = h('section', { class: 'card rows' });
  view.append(rowsCard);
  let cursors: (string | undefined)[] = [undefined];
  const names = detail.schema.fields.map((f) => f.name);
  const column = h('select', { name: 'filter-column', 'aria-label': 'filter column' }, h('option', { value: '' }, 'filter…'), ...names.map((c) => h('option', { value: c }, c)));
  const op = h('select', { name: 'filter-op', 'aria-label': 'filter operator' }, ...OPS.map(([v, label]) => h('option', { value: v }, label)));
  const value = h('input', { type: 'text', name: 'filter-value', 'aria-label': 'filter value', size: 12 });
  const sort = h('select', { name: 'sort', 'aria-label': 'sort by' }, h('option', { value: '' }, 'file order'), ...names.flatMap((c) => [h('option', { value: `${c}:asc` }, `${c} ↑`), h('option', { value: `${c}:desc` }, `${c} ↓`)]));
  const problem = h('span', { class: 'error' });
  const filters = (): Record<string, string | undefined> => ({ ...(column.value && value.value !== '' ? { [`${column.value}.${op.value}`]: value.value } : {}), order: sort.value || undefined });
  const controls = h('form', { class: 'row-controls', onsubmit: (e: Event) => {
    e.preventDefault();
    cursors = [undefined];
    showPage(0).catch((err: unknown) => { problem.textContent = String((err as Error).message); });
  } }, column, ' ', op, ' ', value, ' ', sort, ' ', h('button', { type: 'submit' }, 'Apply'), ' ', problem);
  const showPage = async (index: number) => {
    problem.textContent = '';
    const page = await getJson<Page<Record<string, unknown>>>(withQuery(`/api/tables/${seg(name)}/rows`, { limit: PAGE_ROWS, cursor: cursors[index], version, ...filters() }));
    cursors[index + 1] = page.next ?? undefined;
    const columns = page.items.length ? Object.keys(page.items[0]!) : detail.schema.fields.map((f) => f.name);
    const first = index * PAGE_ROWS;
    rowsCard.replaceChildren(
      h('h2', {}, `Rows at version ${shown}`), controls,
      h('p', { class: 'meta' }, h('span', { class: 'row-count' }, num(page.count ?? page.items.length)), ` rows · showing ${page.items.length ? first + 1 : 0}–${first + page.items.length} `,
        h('button', { type: 'button', class: 'prev', disabled: index === 0, onclick: () => void showPage(index - 1) }, '‹ Previous'), ' ',
        h('button', { type: 'button', class: 'next', disabled: !page.next, onclick: () => void showPage(index + 1) }, 'Next ›')),
      h('div', { class: 'scroll' }, dataTable(columns, page.items, {}, 'data sample')),
    );
  };
  await showPage(0);

  const historyCard = h('section', { class: 'card history' });
  view.append(historyCard);
  const showHistory = async (offset: number) => {
    const page = await getJson<Page<HistoryEntry>>(withQuery(`/api/tables/${seg(name)}/history`, { limit: PAGE_HISTORY, offset }));
    historyCard.replaceChildren(h('h2', {}, 'History'),
      pager(offset, page.items.length, page.count ?? null, PAGE_HISTORY, (o) => void showHistory(o)),
      h('div', { class: 'scroll' }, dataTable(['version', 'timestamp', 'operation', 'parameters', 'metrics'],
        page.items.map((e) => ({ ...e, timestamp: time(typeof e.timestamp === 'number' ? new Date(e.timestamp).toISOString() : e.timestamp), parameters: e.operationParameters, metrics: e.operationMetrics })),
        {
          version: (r) => h('a', { href: `#/tables/${encodeURIComponent(name)}?version=${cellText(r['version'])}` }, cellText(r['version'])),
          parameters: (r) => h('code', {}, compact(r['parameters'])),
          metrics: (r) => h('code', {}, compact(r['metrics'])),
        }, 'data history')));
  };
  await showHistory(0);
}

function compact(v: unknown): string {
  if (!v || typeof v !== 'object') return cellText(v);
  return Object.entries(v).map(([k, x]) => `${k}=${cellText(x)}`).join(' ');
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}
