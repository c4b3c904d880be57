/**
 * The web UI of `ingot serve`: hash routes to pages, and the API key form. Routes:
 * `#/pipelines`, `#/runs/<id>`, `#/datasets/<name>`, `#/tables`, `#/tables/<name>?version=N`, `#/quality`,
 * `#/dashboards`, `#/dashboards/<name>`.
 */
import './style.css';
import { ApiError, apiKey, setApiKey } from './api.js';
import { dashboardPage, dashboardsPage } from './dashboards.js';
import { datasetPage } from './dataset.js';
import { h } from './dom.js';
import { pipelinesPage } from './pipelines.js';
import { qualityPage } from './quality.js';
import { runPage } from './run.js';
import { tablePage, tablesPage } from './tables.js';

type Page = (view: HTMLElement, arg: string, query: URLSearchParams) => Promise<void>;

const routes: [RegExp, Page, string][] = [
  [/^\/(?:pipelines)?$/, pipelinesPage, 'pipelines'],
  [/^\/runs\/(.+)$/, runPage, 'pipelines'],
  [/^\/datasets\/(.+)$/, datasetPage, 'pipelines'],
  [/^\/tables$/, tablesPage, 'tables'],
  [/^\/tables\/(.+)$/, tablePage, 'tables'],
  [/^\/quality$/, qualityPage, 'quality'],
  [/^\/dashboards$/, dashboardsPage, 'dashboards'],
  [/^\/dashboards\/(.+)$/, dashboardPage, 'dashboards'],
];

const main = document.querySelector<HTMLElement>('#main')!;

/** The form asking for an API key; `error` (a refused key) is shown above it. */
function keyForm(error?: ApiError): HTMLElement {
  const input = h('input', { type: 'password', name: 'key', placeholder: 'ingot_...', autocomplete: 'off', size: 48 });
  const form = h('form', { class: 'key-form', onsubmit: (e: Event) => {
    e.preventDefault();
    setApiKey(input.value);
    void render();
  } },
  h('label', {}, 'API key ', input), ' ', h('button', { type: 'submit' }, 'Use key'),
  h('p', { class: 'hint' }, 'Create one with ', h('code', {}, 'ingot keys create --scope read'), '. It is kept in this browser (localStorage).'));
  return h('section', { class: 'card' },
    error ? h('div', { class: 'auth-error', role: 'alert' }, `The server refused the key (${error.status} ${error.code}): ${error.message}`) : null,
    h('h2', {}, 'Sign in'), form);
}

async function render(): Promise<void> {
  const hash = decodeURI(location.hash.replace(/^#/, '')) || '/';
  const [path, qs] = [hash.split('?')[0]!, hash.split('?')[1] ?? ''];
  const view = h('div', { class: 'view' });
  main.replaceChildren(view);
  if (!apiKey()) {
    view.append(keyForm());
    return;
  }
  const route = routes.find(([re]) => re.test(path));
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a[data-page]')) a.classList.toggle('active', a.dataset['page'] === route?.[2]);
  if (!route) {
    view.append(h('p', { class: 'error' }, `No page ${path}`));
    return;
  }
  const arg = route[0].exec(path)?.[1] ?? '';
  try {
    await route[1](view, arg, new URLSearchParams(qs));
  } catch (err) {
    if (err instanceof ApiError && err.isAuth) view.replaceChildren(keyForm(err));
    else view.append(h('p', { class: 'error', role: 'alert' }, err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)));
  }
}

document.querySelector('#change-key')!.addEventListener('click', () => {
  setApiKey('');
  void render();
});
window.addEventListener('hashchange', () => void render());
void render();
