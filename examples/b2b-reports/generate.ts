/**
 * Fixed-seed generator of the B2B platform's landing data (the reference system's `sources/`
 * CSVs, its `create_orders.py` and `generate_traces.py`):
 *
 *   landing/companies.csv, customers.csv, products.csv, inventory.csv   (reference data)
 *   landing/orders/month=2024-01-01/orders.csv                           (one file a month)
 *   landing/sales/month=2024-01-01/sales.csv                             (order lines)
 *   landing/weblogs/month=2024-01-01/access_2024-01.log                  (Apache combined format)
 *
 * Customers belong to a company (B2B clients) or to none (consumers), live in one of seven
 * countries and always browse from an IPv4 address of their country (addresses geoip-lite places
 * there) with one of their devices' user agents (real desktop, phone, tablet, smart TV and
 * console browsers). Log lines of signed-in customers carry their id as the Apache `user`; a
 * sign-in is `POST /login` answered 200. Anonymous visitors and a crawler browse too, and each
 * month's log has a few malformed lines (truncated, a bad timestamp, a bad status).
 *
 * `generate()` returns everything as records so tests compute the reports independently;
 * `npx tsx generate.ts [dir]` writes the files under `dir/landing` (default: this folder).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { seeded as prng } from '../seeded.js';

/** First and last month with orders and logs (logical dates of the monthly pipelines). */
export const FIRST_MONTH = '2023-07-01';
export const LAST_MONTH = '2024-06-01';

/** Address prefixes per country (every `.1`-`.254` host of each maps to the country in geoip-lite). */
export const IP_PREFIXES: Record<string, string[]> = {
  US: ['3.16.1.', '12.34.56.', '24.5.6.'],
  DE: ['5.9.10.', '46.4.20.', '88.198.40.'],
  GB: ['81.2.69.', '86.128.1.', '51.148.2.'],
  FR: ['90.3.4.', '82.64.5.', '78.192.6.'],
  ES: ['83.32.7.', '88.0.8.', '79.148.9.'],
  BR: ['177.10.1.', '189.20.2.', '200.30.3.'],
  JP: ['126.1.1.', '133.2.2.'],
};
/** Weight of each country among customers. */
const COUNTRY_WEIGHTS: [string, number][] = [['US', 5], ['DE', 3], ['GB', 3], ['FR', 2], ['ES', 6], ['BR', 2], ['JP', 1]];

/** Real user agents by the device ua-parser-js reports (no type: a desktop). */
export const USER_AGENTS: Record<string, string[]> = {
  desktop: [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
    'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  ],
  mobile: [
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36',
  ],
  tablet: [
    'Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
    'Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  ],
  smarttv: ['Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36'],
  console: ['Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)'],
};
const DEVICE_WEIGHTS: [string, number][] = [['desktop', 10], ['mobile', 6], ['tablet', 3], ['smarttv', 1], ['console', 1]];
const CRAWLER = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

export interface Company { company_id: number; name: string; country: string; industry: string }
export interface Customer { customer_id: string; name: string; email: string; company_id: number | null; country: string; ip: string; user_agents: string[] }
export interface Product { product_id: number; name: string; category: string; price: number }
export interface Inventory { product_id: number; warehouse: string; quantity: number }
export interface Order { order_id: number; customer_id: string; order_ts: string; status: string; month: string }
export interface Sale { sale_id: number; order_id: number; product_id: number; quantity: number; unit_price: number; amount: number; month: string }
/** A log line as written; `parsed` is false for the malformed ones. */
export interface LogLine { month: string; text: string; parsed: boolean; host: string; user: string | null; method: string; path: string; status: number; ua: string; ts: string }

export interface B2BData {
  companies: Company[];
  customers: Customer[];
  products: Product[];
  inventory: Inventory[];
  orders: Order[];
  sales: Sale[];
  logs: LogLine[];
}

/** The months from `FIRST_MONTH` to `LAST_MONTH` (first days, `YYYY-MM-DD`). */
export function months(): string[] {
  const out: string[] = [];
  for (let d = new Date(`${FIRST_MONTH}T00:00:00Z`); d.toISOString().slice(0, 10) <= LAST_MONTH; d.setUTCMonth(d.getUTCMonth() + 1)) out.push(d.toISOString().slice(0, 10));
  return out;
}

const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `[10/Oct/2000:13:55:36 +0000]`-style time of an ISO instant, in UTC offset `offsetMin` minutes. */
function apacheTime(iso: string, offsetMin: number): string {
  const d = new Date(Date.parse(iso) + offsetMin * 60_000);
  const p = (n: number): string => String(n).padStart(2, '0');
  const sign = offsetMin < 0 ? '-' : '+';
  const off = Math.abs(offsetMin);
  return `${p(d.getUTCDate())}/${MONTH_NAMES[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${sign}${p(Math.floor(off / 60))}${p(off % 60)}`;
}

/** Everything the platform holds (deterministic). */
export function generate(seed = 20240601): B2BData {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const weighted = (ws: [string, number][]): string => {
    let r = rnd() * ws.reduce((s, [, w]) => s + w, 0);
    for (const [v, w] of ws) if ((r -= w) < 0) return v;
    return ws[ws.length - 1]![0];
  };

  const industries = ['retail', 'logistics', 'software', 'manufacturing', 'health'];
  const companies: Company[] = Array.from({ length: 20 }, (_, i) => ({
    company_id: i + 1, name: `${pick(['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Vandelay', 'Stark'])} ${pick(['Corp', 'GmbH', 'Ltd', 'S.A.', 'KK'])} ${i + 1}`,
    country: weighted(COUNTRY_WEIGHTS), industry: pick(industries),
  }));
  const first = ['Ana', 'Ben', 'Chloé', 'Dmitri', 'Eva', 'Fran', 'Gus', 'Hana', 'Iker', 'Jo', 'Kai', 'Lucía', 'Max', 'Noa', 'Otto', 'Pia'];
  const last = ['García', 'Smith', 'Müller', 'Martin', 'Silva', 'Sato', "O'Brien", 'Rossi', 'Dubois', 'Jones'];
  const customers: Customer[] = Array.from({ length: 150 }, (_, i) => {
    const company = rnd() < 0.6 ? pick(companies) : null;
    const country = company && rnd() < 0.7 ? company.country : weighted(COUNTRY_WEIGHTS);
    const devices = [...new Set(Array.from({ length: 1 + int(3) }, () => weighted(DEVICE_WEIGHTS)))];
    const id = `c${String(i + 1).padStart(4, '0')}`;
    return {
      customer_id: id, name: `${pick(first)} ${pick(last)}`, email: `${id}@example.com`, company_id: company?.company_id ?? null, country,
      ip: `${pick(IP_PREFIXES[country]!)}${1 + int(254)}`, user_agents: devices.map((d) => pick(USER_AGENTS[d]!)),
    };
  });
  const categories = ['laptops', 'monitors', 'phones', 'printers', 'networking', 'furniture'];
  const products: Product[] = Array.from({ length: 30 }, (_, i) => ({
    product_id: i + 1, name: `${pick(['Pro', 'Lite', 'Max', 'Air', 'Flex'])} ${pick(categories)} ${i + 1}`, category: pick(categories),
    price: Math.round((20 + rnd() * 1500) * 100) / 100,
  }));
  const inventory: Inventory[] = products.flatMap((p) => ['MAD', 'FRA', 'NYC'].map((w) => ({ product_id: p.product_id, warehouse: w, quantity: int(500) })));
  // product popularity differs by country, so the report's country matters
  const favourite = new Map(Object.keys(IP_PREFIXES).map((c) => [c, Array.from({ length: 5 }, () => 1 + int(products.length))]));

  const orders: Order[] = [];
  const sales: Sale[] = [];
  const logs: LogLine[] = [];
  const paths = ['/', '/catalog', '/catalog/laptops', '/cart', '/checkout', '/account', '/api/orders', '/static/app.js'];
  for (const month of months()) {
    const start = Date.parse(`${month}T00:00:00Z`);
    const next = new Date(start);
    next.setUTCMonth(next.getUTCMonth() + 1);
    const span = next.getTime() - start;
    const at = (): string => new Date(start + int(span / 1000) * 1000).toISOString();
    const nOrders = 80 + int(60);
    for (let i = 0; i < nOrders; i++) {
      const customer = pick(customers);
      const order: Order = { order_id: orders.length + 1, customer_id: customer.customer_id, order_ts: at(), status: pick(['completed', 'completed', 'completed', 'shipped', 'cancelled']), month };
      orders.push(order);
      for (let l = 0, n = 1 + int(4); l < n; l++) {
        const product = products[(rnd() < 0.5 ? pick(favourite.get(customer.country)!) : 1 + int(products.length)) - 1]!;
        const quantity = 1 + int(5);
        sales.push({ sale_id: sales.length + 1, order_id: order.order_id, product_id: product.product_id, quantity, unit_price: product.price, amount: Math.round(quantity * product.price * 100) / 100, month });
      }
    }
    const lines: LogLine[] = [];
    const line = (host: string, user: string | null, method: string, p: string, status: number, ua: string): void => {
      const ts = at();
      const text = `${host} - ${user ?? '-'} [${apacheTime(ts, pick([0, 60, 120, -300]))}] "${method} ${p} HTTP/1.1" ${status} ${status === 304 ? '-' : 200 + int(50_000)} "${pick(['-', 'https://www.google.com/', 'https://shop.example.com/'])}" "${ua}"`;
      lines.push({ month, text, parsed: true, host, user, method, path: p, status, ua, ts });
    };
    for (let i = 0, n = 500 + int(200); i < n; i++) {
      const r = rnd();
      if (r < 0.7) {
        const c = pick(customers);
        const ua = pick(c.user_agents);
        if (rnd() < 0.25) line(c.ip, c.customer_id, 'POST', '/login', rnd() < 0.9 ? 200 : 401, ua);
        else line(c.ip, c.customer_id, pick(['GET', 'GET', 'POST']), pick(paths), pick([200, 200, 200, 304, 404]), ua);
      } else if (r < 0.95) {
        const country = pick(Object.keys(IP_PREFIXES));
        line(`${pick(IP_PREFIXES[country]!)}${1 + int(254)}`, null, 'GET', pick(paths), pick([200, 404]), pick(USER_AGENTS[weighted(DEVICE_WEIGHTS)]!));
      } else {
        line('66.249.66.1', null, 'GET', pick(paths), 200, CRAWLER);
      }
    }
    // malformed lines, at random places
    const bad = [
      `${pick(customers).ip} - - [01/Xyz/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/8.0"`,
      `${pick(customers).ip} - - [${apacheTime(at(), 0)}] "GET /cart HTTP/1.1" 2OO 512 "-" "-"`,
      `${pick(customers).ip} - - [${apacheTime(at(), 0)}] "GET /catalog HTT`,
    ];
    for (const text of bad) lines.splice(int(lines.length), 0, { month, text, parsed: false, host: '', user: null, method: '', path: '', status: 0, ua: '', ts: '' });
    logs.push(...lines);
  }
  return { companies, customers, products, inventory, orders, sales, logs };
}

/** RFC 4180 CSV of `rows` with columns `columns`. */
function csv(columns: string[], rows: object[]): string {
  const field = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.join(','), ...rows.map((r) => columns.map((c) => field((r as Record<string, unknown>)[c])).join(','))].join('\n') + '\n';
}

/** Writes the landing files of `data` under `dir/landing`. */
export async function write(dir: string, data: B2BData = generate()): Promise<void> {
  const landing = path.join(dir, 'landing');
  const put = async (rel: string, text: string): Promise<void> => {
    await fs.mkdir(path.dirname(path.join(landing, rel)), { recursive: true });
    await fs.writeFile(path.join(landing, rel), text);
  };
  await put('companies.csv', csv(['company_id', 'name', 'country', 'industry'], data.companies));
  await put('customers.csv', csv(['customer_id', 'name', 'email', 'company_id', 'country'], data.customers));
  await put('products.csv', csv(['product_id', 'name', 'category', 'price'], data.products));
  await put('inventory.csv', csv(['product_id', 'warehouse', 'quantity'], data.inventory));
  for (const month of months()) {
    await put(`orders/month=${month}/orders.csv`, csv(['order_id', 'customer_id', 'order_ts', 'status'], data.orders.filter((o) => o.month === month)));
    await put(`sales/month=${month}/sales.csv`, csv(['sale_id', 'order_id', 'product_id', 'quantity', 'unit_price', 'amount'], data.sales.filter((s) => s.month === month)));
    await put(`weblogs/month=${month}/access_${month.slice(0, 7)}.log`, data.logs.filter((l) => l.month === month).map((l) => l.text).join('\n') + '\n');
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? path.dirname(fileURLToPath(import.meta.url));
  await write(dir);
  console.log(`wrote ${path.join(dir, 'landing')}`);
}
