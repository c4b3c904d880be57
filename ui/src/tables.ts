/** The Tables pages: the list of tables; one table's schema, sample rows (paged), history and time travel. */
import { getJson, seg, withQuery, type HistoryEntry, type Page, type TableDetail, type TableInfo } from './api.js';
import { cellText, dataTable, h, num, time } from './dom.js';

const PAGE_ROWS = 20;

/** Renders the list of tables into `view`. */
export async function tablesPage(view: HTMLElement): Promise<void> {
  const { items } = await getJson<Page<TableInfo>>('/api/tables');
  const unreadable = items.some((t) => t.unreadable);
  view.append(h('h1', {}, 'Tables'), dataTable(['name', 'version', 'numRecords', 'numFiles', 'size', 'partitionColumns', 'lastModified', ...(unreadable ? ['unreadable'] : [])],
    items.map((t) => ({ ...t, size: t.sizeBytes === null ? '' : bytes(t.sizeBytes), partitionColumns: t.partitionColumns.join(', '), lastModified: time(typeof t.lastModified === 'number' ? new Date(t.lastModified).toISOString() : t.lastModified),
      unreadable: t.unreadable ? `${t.unreadable.error}: ${t.unreadable.message}` : '' })),
    {
      name: (r) => h('a', { href: `#/tables/${encodeURIComponent(String(r['name']))}` }, String(r['name'])),
      numRecords: (r) => num(r['numRecords']),
    }, 'data tables'));
}

/** Renders table `name` into `view`, at `?version=N` when given (time travel). */
export async function tablePage(view: HTMLElement, name: string, query: URLSearchParams): Promise<void> {
  const version = query.get('version') ?? undefined;
  const [detail, history] = await Promise.all([
    getJson<TableDetail>(`/api/tables/${seg(name)}`),
    getJson<Page<HistoryEntry>>(withQuery(`/api/tables/${seg(name)}/history`, { limit: 100 })),
  ]);
  const shown = version ?? String(detail.version);
  const picker = h('select', { name: 'version', onchange: (e: Event) => {
    const v = (e.target as HTMLSelectElement).value;
    location.hash = `#/tables/${encodeURIComponent(name)}${v === String(detail.version) ? '' : `?version=${v}`}`;
  } }, ...history.items.map((e) => h('option', { value: e.version, selected: String(e.version) === shown }, `version ${e.version} · ${e.operation}`)));
  view.append(
    h('h1', {}, name),
    h('p', { class: 'meta' }, `latest version ${detail.version}`,
      detail.partitionColumns.length ? ` · partitioned by ${detail.partitionColumns.join(', ')}` : '',
      ' · time travel: ', picker),
  );
  view.append(h('section', { class: 'card' }, h('h2', {}, 'Schema'),
    dataTable(['name', 'type', 'nullable'], detail.schema.fields.map((f) => ({ ...f, type: typeof f.type === 'string' ? f.type : JSON.stringify(f.type) })), {}, 'data schema')));

  const rowsCard = h('section', { class: 'card rows' });
  view.append(rowsCard);
  const cursors: (string | undefined)[] = [undefined];
  const showPage = async (index: number) => {
    const page = await getJson<Page<Record<string, unknown>>>(withQuery(`/api/tables/${seg(name)}/rows`, { limit: PAGE_ROWS, cursor: cursors[index], version }));
    cursors[index + 1] = page.next ?? undefined;
    const columns = page.items.length ? Object.keys(page.items[0]!) : detail.schema.fields.map((f) => f.name);
    const first = index * PAGE_ROWS;
    rowsCard.replaceChildren(
      h('h2', {}, `Rows at version ${shown}`),
      h('p', { class: 'meta' }, h('span', { class: 'row-count' }, num(page.count ?? page.items.length)), ` rows · showing ${page.items.length ? first + 1 : 0}–${first + page.items.length} `,
        h('button', { type: 'button', class: 'prev', disabled: index === 0, onclick: () => void showPage(index - 1) }, '‹ Previous'), ' ',
        h('button', { type: 'button', class: 'next', disabled: !page.next, onclick: () => void showPage(index + 1) }, 'Next ›')),
      h('div', { class: 'scroll' }, dataTable(columns, page.items, {}, 'data sample')),
    );
  };
  await showPage(0);

  view.append(h('section', { class: 'card' }, h('h2', {}, 'History'),
    dataTable(['version', 'timestamp', 'operation', 'parameters', 'metrics'],
      history.items.map((e) => ({ ...e, timestamp: time(typeof e.timestamp === 'number' ? new Date(e.timestamp).toISOString() : e.timestamp), parameters: e.operationParameters, metrics: e.operationMetrics })),
      {
        version: (r) => h('a', { href: `#/tables/${encodeURIComponent(name)}?version=${cellText(r['version'])}` }, cellText(r['version'])),
        parameters: (r) => h('code', {}, compact(r['parameters'])),
        metrics: (r) => h('code', {}, compact(r['metrics'])),
      }, 'data history')));
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
