/**
 * The retail app of the retail-delivery example: a fixed-seed simulator writing purchases and
 * their delivery into a real PostgreSQL database (`retail`), the way the shop's application would.
 *
 * Tables (created on the first call, with role `ingot_reader`, SELECT only, for the pipelines):
 * - `branches (branch_id, code, name, city)`: the shop's 6 branches; each delivers to the
 *   customers of its city, at its own speed;
 * - `customers (customer_id, name, email, city, address, segment, created_at, updated_at)`:
 *   customers sign up, move (new address, maybe a new city and so a new branch) and change
 *   segment (consumer / small business / corporate) over time; each change sets `updated_at`
 *   to the moment it happened, so `updated_at` increases strictly from change to change;
 * - `orders (order_id, customer_id, branch_id, order_ts, items, amount, channel)`: one row per
 *   purchase, written when it is placed and never changed;
 * - `ordershistory (history_id, order_id, status, status_ts)`: the order's life, one row per
 *   status as it happens: NEW (at `order_ts`), INTRANSIT (dispatched hours later), DELIVERED
 *   (hours to days after that), each row written when its moment has come;
 * - `simulator_runs (batch, from_ts, to_ts)`: the simulator's own clock (not app data).
 *
 * Every call simulates the next `days` days of activity after the last call (the first starts
 * at 2024-03-04 00:00 UTC), in one transaction, rows in time order: ids (`order_id`,
 * `history_id`, `customer_id`) increase with time across calls, so a load by bookmark picks up
 * exactly the new rows. What happens on a day depends only on the seed and the day, so the same
 * days give the same rows however they are split into calls. Orders placed late in a call are
 * still NEW or INTRANSIT at its end; their later statuses are written by the following calls.
 *
 * Command line: `node --import tsx examples/retail-delivery/simulator.ts first|more [--days N]
 * [--orders-per-day N] [--seed N]` with DATABASE_URL pointing at the `retail` database (created
 * when absent); `first` simulates 7 days (on an empty database), `more` 1 day.
 */
import pg from 'pg';
import { fileURLToPath } from 'node:url';
import { seeded as generator } from '../seeded.js';

/** Options of one call; the same seed must be used by every call on a database. */
export interface SimulateOptions {
  /** Days to simulate after the last call (default 1). */
  days?: number;
  /** Mean orders a day (default 400). */
  ordersPerDay?: number;
  /** Seed of every random draw (default 42). */
  seed?: number;
}

/** What one call wrote. */
export interface SimulationSummary {
  batch: number;
  from: string;
  to: string;
  orders: number;
  history: number;
  signups: number;
  customerChanges: number;
}

/** The first simulated moment. */
export const START = Date.UTC(2024, 2, 4);
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Customers before the first day. */
const INITIAL_CUSTOMERS = 2_000;

/** Branches: code, name, city, and delivery speed (mean hours to dispatch, mean hours in transit). */
const BRANCHES = [
  { code: 'AMS', name: 'Amsterdam Centraal', city: 'Amsterdam', dispatchH: 4, transitH: 20 },
  { code: 'RTM', name: 'Rotterdam Zuid', city: 'Rotterdam', dispatchH: 6, transitH: 30 },
  { code: 'UTR', name: 'Utrecht Oost', city: 'Utrecht', dispatchH: 3, transitH: 16 },
  { code: 'EIN', name: 'Eindhoven Strijp', city: 'Eindhoven', dispatchH: 8, transitH: 44 },
  { code: 'GRO', name: 'Groningen Noord', city: 'Groningen', dispatchH: 10, transitH: 60 },
  { code: 'HAG', name: 'Den Haag Centrum', city: 'Den Haag', dispatchH: 5, transitH: 26 },
] as const;
/** How many customers live in each branch's city, relatively. */
const CITY_WEIGHTS = [30, 20, 15, 12, 8, 15];
const FIRST = ['Anna', 'Bram', 'Chloé', 'Daan', 'Emma', 'Finn', 'Greta', 'Hugo', 'Ilse', 'Jesse', 'Klaas', 'Lotte', 'Milan', 'Noor', 'Oscar', 'Pien', 'Ruben', 'Sanne', 'Thijs', 'Yara'];
const LAST = ['de Jong', 'Jansen', 'de Vries', 'van den Berg', 'Bakker', 'Visser', 'Smit', 'Meijer', 'de Boer', 'Mulder', 'Bos', 'Vos', 'Peters', 'Hendriks', "van 't Hof"];
const STREETS = ['Kerkstraat', 'Dorpsstraat', 'Molenweg', 'Stationsplein', 'Schoolstraat', 'Parklaan', 'Julianastraat', 'Beatrixlaan', 'Marktplein', 'Havenkade'];
const SEGMENTS = ['consumer', 'small business', 'corporate'] as const;
const CHANNELS = ['web', 'app', 'store'] as const;
const ITEM_PRICES = [4.99, 9.95, 12.5, 19.99, 24.0, 39.95, 59.0, 89.99];

/** A uniform float in [0, 1) from a seed and integer keys (a murmur3-style mix), for draws that must not depend on call order. */
function unit(seed: number, ...keys: number[]): number {
  let h = seed >>> 0;
  for (const k of keys) {
    h = Math.imul(h ^ (k >>> 0), 0xcc9e2d51);
    h = Math.imul((h << 15) | (h >>> 17), 0x1b873593) ^ Math.floor(k / 4294967296);
    h = (h ^ (h >>> 16)) >>> 0;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const weighted = (r: () => number, weights: number[]): number => {
  let x = r() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < weights.length; i++) if ((x -= weights[i]!) < 0) return i;
  return weights.length - 1;
};

/** A customer as the simulator tracks it. */
interface Customer {
  id: number;
  name: string;
  email: string;
  city: string;
  address: string;
  segment: string;
  at: number;
}

/** A customer signing up at `at`, its id not yet given (0). */
function newCustomer(r: () => number, at: number): Customer {
  const name = `${pick(r, FIRST)} ${pick(r, LAST)}`;
  const city = BRANCHES[weighted(r, CITY_WEIGHTS)]!.city;
  return { id: 0, name, email: '', city, address: `${pick(r, STREETS)} ${1 + Math.floor(r() * 180)}`, segment: SEGMENTS[weighted(r, [80, 15, 5])]!, at };
}

/** Gives customer `c` its id, and the e-mail address made from its name and id. */
function identify(c: Customer, id: number): void {
  c.id = id;
  c.email = `${c.name.replace(/ /g, '.')}.${id}@example.nl`.toLowerCase().normalize('NFD').replace(/[^a-z0-9.@]/g, '');
}

/** When order `id` (placed at `placedAt` from branch `branch`) is dispatched and delivered, in ms: from the seed and the order alone. */
function schedule(seed: number, id: number, placedAt: number, branch: number): { intransit: number; delivered: number } {
  const b = BRANCHES[branch]!;
  // exponential-ish tails: most orders on time, a few late
  const dispatch = b.dispatchH * HOUR_MS * (0.25 - Math.log(1 - unit(seed, id, 1) * 0.98) * 0.75);
  const transit = b.transitH * HOUR_MS * (0.3 - Math.log(1 - unit(seed, id, 2) * 0.98) * 0.7);
  const intransit = placedAt + Math.round(dispatch);
  return { intransit, delivered: intransit + Math.round(transit) };
}

const ts = (ms: number): string => new Date(ms).toISOString();

const SCHEMA = `
CREATE TABLE IF NOT EXISTS branches (branch_id int PRIMARY KEY, code text NOT NULL UNIQUE, name text NOT NULL, city text NOT NULL);
CREATE TABLE IF NOT EXISTS customers (customer_id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, city text NOT NULL,
  address text NOT NULL, segment text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS orders (order_id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, branch_id int NOT NULL REFERENCES branches,
  order_ts timestamptz NOT NULL, items int NOT NULL, amount numeric(10,2) NOT NULL, channel text NOT NULL);
CREATE TABLE IF NOT EXISTS ordershistory (history_id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders,
  status text NOT NULL CHECK (status IN ('NEW', 'INTRANSIT', 'DELIVERED')), status_ts timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS ordershistory_order ON ordershistory (order_id);
CREATE TABLE IF NOT EXISTS simulator_runs (batch int PRIMARY KEY, from_ts timestamptz NOT NULL, to_ts timestamptz NOT NULL);
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ingot_reader') THEN CREATE ROLE ingot_reader LOGIN; END IF;
END $$;
GRANT SELECT ON branches, customers, orders, ordershistory TO ingot_reader;`;

/** One thing that happens at `at` (ms): rows to write, in time order. */
type Event =
  | { at: number; kind: 'signup' | 'change'; customer: Customer }
  | { at: number; kind: 'order'; id: number; customer: number; branch: number; items: number; amount: string; channel: string }
  | { at: number; kind: 'status'; order: number; status: 'NEW' | 'INTRANSIT' | 'DELIVERED' };

/**
 * Simulates the next `days` days on the `retail` database at `url` (see the file comment) in one
 * transaction and returns what it wrote. Errors: PostgreSQL's (connection, permissions).
 */
export async function simulate(url: string, options: SimulateOptions = {}): Promise<SimulationSummary> {
  const { days = 1, ordersPerDay = 400, seed = 42 } = options;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SET TimeZone = 'UTC'");
    await client.query('BEGIN');
    await client.query(SCHEMA);
    await client.query('LOCK TABLE simulator_runs IN EXCLUSIVE MODE');
    const [last] = (await client.query<{ batch: number; to_ms: string }>('SELECT batch, (extract(epoch FROM to_ts) * 1000)::bigint::text AS to_ms FROM simulator_runs ORDER BY batch DESC LIMIT 1')).rows;
    const batch = (last?.batch ?? 0) + 1;
    const from = last ? Number(last.to_ms) : START;
    const to = from + days * DAY_MS;

    // the customers as they are now, and before the first day the initial ones and the branches
    const customers: Customer[] = [];
    if (!last) {
      await client.query(`INSERT INTO branches SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING`,
        [BRANCHES.map((_, i) => i + 1), BRANCHES.map((b) => b.code), BRANCHES.map((b) => b.name), BRANCHES.map((b) => b.city)]);
      const r = generator(seed);
      for (let i = 0; i < INITIAL_CUSTOMERS; i++) customers.push(newCustomer(r, START - 1 - Math.floor(r() * 365 * DAY_MS)));
      customers.sort((a, b) => a.at - b.at).forEach((c, i) => identify(c, i + 1));
    } else {
      const { rows } = await client.query<{ customer_id: number; name: string; email: string; city: string; address: string; segment: string; at: string }>(
        'SELECT customer_id, name, email, city, address, segment, (extract(epoch FROM updated_at) * 1000)::bigint::text AS at FROM customers ORDER BY customer_id');
      for (const c of rows) customers.push({ id: c.customer_id, name: c.name, email: c.email, city: c.city, address: c.address, segment: c.segment, at: Number(c.at) });
    }
    const byId = new Map(customers.map((c) => [c.id, c]));
    const events: Event[] = last ? [] : customers.map((c) => ({ at: c.at, kind: 'signup' as const, customer: c }));
    let nextCustomer = customers.reduce((m, c) => Math.max(m, c.id), 0) + 1;
    let nextOrder = Number((await client.query<{ m: string }>('SELECT coalesce(max(order_id), 0)::text AS m FROM orders')).rows[0]!.m) + 1;

    // statuses still to come for the orders of earlier calls
    const { rows: open } = await client.query<{ order_id: string; branch_id: number; placed: string; in_transit: boolean }>(
      `SELECT o.order_id::text, o.branch_id, (extract(epoch FROM o.order_ts) * 1000)::bigint::text AS placed, bool_or(h.status = 'INTRANSIT') AS in_transit
       FROM orders o JOIN ordershistory h USING (order_id) GROUP BY o.order_id HAVING bool_and(h.status <> 'DELIVERED') ORDER BY o.order_id`);
    for (const o of open) {
      const s = schedule(seed, Number(o.order_id), Number(o.placed), o.branch_id - 1);
      if (!o.in_transit && s.intransit < to) events.push({ at: s.intransit, kind: 'status', order: Number(o.order_id), status: 'INTRANSIT' });
      if (s.delivered < to) events.push({ at: s.delivered, kind: 'status', order: Number(o.order_id), status: 'DELIVERED' });
    }

    // each day: signups, customer changes and orders, drawn from the seed and the day alone
    for (let day = Math.round((from - START) / DAY_MS); day < Math.round((to - START) / DAY_MS); day++) {
      const r = generator(seed * 1_000_003 + day);
      const dayStart = START + day * DAY_MS;
      // orders follow the day: few at night, most around midday and in the evening
      const moment = (): number => {
        for (;;) {
          const t = r() * DAY_MS;
          const h = t / HOUR_MS;
          const density = 0.1 + Math.exp(-(((h - 12.5) / 2.5) ** 2)) + 0.8 * Math.exp(-(((h - 20) / 2) ** 2));
          if (r() * 1.2 < density) return dayStart + Math.floor(t);
        }
      };
      const dayEvents: Event[] = [];
      const signups = Math.round(ordersPerDay * 0.03 * (0.5 + r()));
      for (let i = 0; i < signups; i++) {
        const c = newCustomer(r, moment());
        dayEvents.push({ at: c.at, kind: 'signup', customer: c });
      }
      const changes = Math.round((nextCustomer - 1) * 0.01 * (0.5 + r()));
      for (let i = 0; i < changes; i++) {
        const who = 1 + Math.floor(r() * (nextCustomer - 1));
        const at = moment();
        const move = r() < 0.6;
        const city = move && r() < 0.4 ? BRANCHES[weighted(r, CITY_WEIGHTS)]!.city : undefined;
        const segment = SEGMENTS[weighted(r, [60, 30, 10])]!;
        const address = `${pick(r, STREETS)} ${1 + Math.floor(r() * 180)}`;
        dayEvents.push({ at, kind: 'change', customer: { id: who, name: '', email: '', city: city ?? '', address: move ? address : '', segment: move ? '' : segment, at } });
      }
      const orders = Math.round(ordersPerDay * (0.8 + 0.4 * r()) * (day % 7 >= 5 ? 1.3 : 1));
      for (let i = 0; i < orders; i++) {
        const at = moment();
        const items = 1 + Math.floor(-Math.log(1 - r() * 0.99) * 1.5);
        let cents = 0;
        for (let k = 0; k < items; k++) cents += Math.round(pick(r, ITEM_PRICES) * 100);
        dayEvents.push({ at, kind: 'order', id: 0, customer: Math.floor(r() * 1e9), branch: -1, items, amount: (cents / 100).toFixed(2), channel: pick(r, CHANNELS) });
      }
      // ids follow time; a customer is chosen among those signed up before the order
      dayEvents.sort((a, b) => a.at - b.at);
      for (const e of dayEvents) {
        if (e.kind === 'signup') {
          identify(e.customer, nextCustomer++);
          byId.set(e.customer.id, { ...e.customer });
          events.push(e);
        } else if (e.kind === 'change') {
          const c = byId.get(1 + (e.customer.id - 1) % (nextCustomer - 1))!;
          const changed = { ...c, at: e.at, city: e.customer.city || c.city, address: e.customer.address || c.address, segment: e.customer.segment || c.segment };
          byId.set(c.id, changed);
          events.push({ at: e.at, kind: 'change', customer: changed });
        } else if (e.kind === 'order') {
          const c = byId.get(1 + (e.customer % (nextCustomer - 1)))!;
          const branch = BRANCHES.findIndex((b) => b.city === c.city);
          const order = { ...e, id: nextOrder++, customer: c.id, branch };
          events.push(order, { at: e.at, kind: 'status', order: order.id, status: 'NEW' });
          const s = schedule(seed, order.id, e.at, branch);
          if (s.intransit < to) events.push({ at: s.intransit, kind: 'status', order: order.id, status: 'INTRANSIT' });
          if (s.delivered < to) events.push({ at: s.delivered, kind: 'status', order: order.id, status: 'DELIVERED' });
        }
      }
    }

    // write in time order: a status never precedes its order, ids increase with time
    const rank = { signup: 0, change: 1, order: 2, status: 3 } as const;
    events.sort((a, b) => a.at - b.at || rank[a.kind] - rank[b.kind] || (a.kind === 'status' && b.kind === 'status' ? a.order - b.order : 0));
    // within each table, no two rows at the same millisecond: `updated_at`, `order_ts` and `status_ts` increase strictly
    const latest = { customer: -Infinity, order: -Infinity, status: -Infinity };
    for (const e of events) {
      const stream = e.kind === 'signup' || e.kind === 'change' ? 'customer' : e.kind;
      if (e.at <= latest[stream]) e.at = latest[stream] + 1;
      if (e.kind === 'signup' || e.kind === 'change') e.customer.at = e.at;
      latest[stream] = e.at;
    }
    const signups = events.flatMap((e) => (e.kind === 'signup' ? [e.customer] : []));
    const changes = events.flatMap((e) => (e.kind === 'change' ? [e.customer] : []));
    const orderRows = events.filter((e) => e.kind === 'order');
    const statuses = events.filter((e) => e.kind === 'status');
    await client.query(`INSERT INTO customers SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $7::timestamptz[])`,
      [signups.map((c) => c.id), signups.map((c) => c.name), signups.map((c) => c.email), signups.map((c) => c.city), signups.map((c) => c.address), signups.map((c) => c.segment), signups.map((c) => ts(c.at))]);
    // several changes of one customer in a call: applied in time order, the last one stays
    await client.query(`UPDATE customers c SET city = u.city, address = u.address, segment = u.segment, updated_at = u.at
      FROM (SELECT DISTINCT ON (id) * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS u(id, city, address, segment, at) ORDER BY id, at DESC) u
      WHERE c.customer_id = u.id`,
    [changes.map((c) => c.id), changes.map((c) => c.city), changes.map((c) => c.address), changes.map((c) => c.segment), changes.map((c) => ts(c.at))]);
    await client.query(`INSERT INTO orders SELECT * FROM unnest($1::bigint[], $2::int[], $3::int[], $4::timestamptz[], $5::int[], $6::numeric[], $7::text[])`,
      [orderRows.map((o) => o.id), orderRows.map((o) => o.customer), orderRows.map((o) => o.branch + 1), orderRows.map((o) => ts(o.at)), orderRows.map((o) => o.items), orderRows.map((o) => o.amount), orderRows.map((o) => o.channel)]);
    const firstHistory = Number((await client.query<{ m: string }>('SELECT coalesce(max(history_id), 0)::text AS m FROM ordershistory')).rows[0]!.m) + 1;
    await client.query(`INSERT INTO ordershistory SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[])`,
      [statuses.map((_, i) => firstHistory + i), statuses.map((s) => s.order), statuses.map((s) => s.status), statuses.map((s) => ts(s.at))]);
    await client.query('INSERT INTO simulator_runs VALUES ($1, $2, $3)', [batch, ts(from), ts(to)]);
    await client.query('COMMIT');
    return { batch, from: ts(from), to: ts(to), orders: orderRows.length, history: statuses.length, signups: last ? signups.length : signups.length - INITIAL_CUSTOMERS, customerChanges: changes.length };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await client.end();
  }
}

/** Creates database `name` on the server of `url` unless it exists; returns the URL of that database. */
export async function createDatabase(url: string, name = 'retail'): Promise<string> {
  const target = new URL(url);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const exists = (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount! > 0;
    if (!exists) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
  target.pathname = `/${name}`;
  return target.toString();
}

/**
 * The URL of the same database as `url` for role `ingot_reader` (SELECT only on the app tables,
 * created by `simulate`): what the pipelines connect with, as the reference's Spark user does.
 * `password` when the server asks for one (the role has none: set it with `ALTER ROLE`).
 */
export function readerUrl(url: string, password?: string): string {
  const u = new URL(url);
  u.username = 'ingot_reader';
  u.password = password ? encodeURIComponent(password) : '';
  return u.toString();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, ...rest] = process.argv.slice(2);
  const flag = (name: string): number | undefined => {
    const i = rest.indexOf(`--${name}`);
    return i >= 0 ? Number(rest[i + 1]) : undefined;
  };
  const url = process.env['DATABASE_URL'];
  if (!url || (command !== 'first' && command !== 'more')) {
    console.error('usage: DATABASE_URL=postgres://.../retail simulator.ts first|more [--days N] [--orders-per-day N] [--seed N]');
    process.exit(2);
  }
  const db = await createDatabase(url, decodeURIComponent(new URL(url).pathname.slice(1)) || 'retail');
  const summary = await simulate(db, { days: flag('days') ?? (command === 'first' ? 7 : 1), ordersPerDay: flag('orders-per-day'), seed: flag('seed') });
  console.log(JSON.stringify({ ...summary, readerUrl: readerUrl(db) }));
}
