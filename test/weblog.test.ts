import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Lake } from '../src/table/lake.js';
import { loadProject } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import type { RunResult } from '../src/metadata/records.js';
import { cli, tempDir } from './fixtures.js';

const geoip = createRequire(import.meta.url)('geoip-lite') as typeof import('geoip-lite');

/** mulberry32: a small deterministic PRNG, so the generated logs are the same on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** User agents with what they are (browser, os, device by the documented rule). */
const AGENTS: [string, string | null, string | null, string][] = [
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36', 'Chrome', 'Windows', 'desktop'],
  ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15', 'Safari', 'Mac OS', 'desktop'],
  ['Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0', 'Firefox', 'Linux', 'desktop'],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1', 'Mobile Safari', 'iOS', 'mobile'],
  ['Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1', 'Mobile Safari', 'iOS', 'tablet'],
  ['Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36', 'Chrome', 'Android', 'mobile'],
  ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', null, null, 'bot'],
  ['curl/8.4.0', null, null, 'bot'],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0', 'Edge', 'Windows', 'desktop'],
  ['some \\"quoted\\" agent', null, null, 'unknown'],
];
const HOSTS = ['8.8.8.8', '1.1.1.1', '81.2.69.142', '193.0.6.139', '202.12.27.33', '2001:4860:4860::8888', '2a00:1450:4001:81b::200e', '10.0.0.7', '192.168.1.20', 'crawler.example.net'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'HEAD', 'PUT'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const OFFSETS = [0, -420, 330, 60, -300];

interface Expected {
  line: number;
  host: string; ident: string | null; user: string | null; ms: number;
  method: string | null; path: string | null; protocol: string | null;
  status: number; bytes: number | null; referrer: string | null; user_agent: string;
}

/** Generates a combined log of `n` lines; returns its text, the good lines' values and the malformed lines' numbers and text. */
function generate(seed: number, n: number, day: string): { text: string; good: Expected[]; bad: Map<number, string> } {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const pad = (v: number, w = 2): string => String(v).padStart(w, '0');
  const lines: string[] = [];
  const good: Expected[] = [];
  const bad = new Map<number, string>();
  const dayStart = Date.parse(`${day}T00:00:00Z`);
  for (let i = 1; i <= n; i++) {
    if (r() < 0.01) {
      lines.push(''); // blank lines are skipped, but counted
      continue;
    }
    const ms = dayStart + Math.floor(r() * 86_400) * 1000;
    const offset = pick(OFFSETS);
    const local = new Date(ms + offset * 60_000);
    const stamp = `${pad(local.getUTCDate())}/${MONTHS[local.getUTCMonth()]}/${local.getUTCFullYear()}:${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())} ${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
    const host = pick(HOSTS);
    const user = r() < 0.1 ? 'frank' : null;
    let method: string | null = pick(METHODS);
    let target: string | null = r() < 0.1 ? `/search?q=\\"a b\\"&p=${i}` : `/page/${Math.floor(r() * 500)}.html`;
    let protocol: string | null = r() < 0.5 ? 'HTTP/1.1' : 'HTTP/2.0';
    let request = `${method} ${target} ${protocol}`;
    const shape = r();
    if (shape < 0.02) {
      request = '-';
      method = target = protocol = null;
    } else if (shape < 0.04) {
      request = `GET ${target}`;
      method = 'GET';
      protocol = null;
    }
    const status = pick([200, 200, 200, 301, 304, 404, 500]);
    const bytes = status === 304 || r() < 0.05 ? null : Math.floor(r() * 5_000_000);
    const referrer = r() < 0.4 ? null : `https://ref.example.com/p?id=${Math.floor(r() * 100)}`;
    const agent = pick(AGENTS)[0];
    let line = `${host} - ${user ?? '-'} [${stamp}] "${request}" ${status} ${bytes ?? '-'} "${referrer ?? '-'}" "${agent}"`;
    const fault = r();
    if (fault < 0.03) {
      const kind = Math.floor(r() * 6);
      if (kind === 0) line = line.slice(0, 20 + Math.floor(r() * 40)); // truncated
      else if (kind === 1) line = line.replace(stamp, `31/Feb/${local.getUTCFullYear()}:10:00:00 +0000`);
      else if (kind === 2) line = line.replace(`"${request}"`, '"\\x16\\x03\\x01\\x00\\xa5"');
      else if (kind === 3) line = line.replace(`" ${status} `, `" 2O0 `);
      else if (kind === 4) line = `${line} "trailing-field"`;
      else line = 'garbage without any structure';
      bad.set(i, line);
    } else {
      const unq = (s: string | null): string | null => s && s.replace(/\\"/g, '"');
      good.push({ line: i, host, ident: null, user, ms, method, path: unq(target), protocol, status, bytes, referrer, user_agent: unq(agent)! });
    }
    lines.push(line);
  }
  // CRLF line ends in one of the files
  const eol = seed % 2 ? '\r\n' : '\n';
  return { text: lines.join(eol) + eol, good, bad };
}

const DAYS = ['2024-03-01', '2024-03-02'];

describe('web-server logs: combined format, malformed lines quarantined', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const truth = new Map<string, ReturnType<typeof generate>>();
  let results: RunResult[] = [];

  before(async () => {
    ({ dir, cleanup } = await tempDir('weblog'));
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), "export default { lake: './lake' };\n");
    for (const [k, day] of DAYS.entries()) {
      const g = generate(1000 + k, k === 0 ? 3000 : 2000, day);
      truth.set(day, g);
      const folder = path.join(dir, 'landing', 'logs', `date=${day}`);
      await fs.mkdir(folder, { recursive: true });
      if (k === 0) await fs.writeFile(path.join(folder, 'access.log'), g.text);
      else await fs.writeFile(path.join(folder, 'access.log.gz'), gzipSync(g.text));
    }
    await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
    await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'access.ts'), `export default {
  name: 'bronze.access',
  source: { kind: 'files', path: 'landing/logs/date={date}/access.log*', format: 'combined' },
  materialization: 'replace partition',
  partitionBy: ['date'],
};\n`);
    const runner = await Runner.open(await loadProject(dir));
    try {
      results = await runner.runAll(DAYS);
    } finally {
      await runner.close();
    }
  });
  after(() => cleanup());

  const sql = async (query: string): Promise<Record<string, unknown>[]> => {
    const q = await cli(['sql', '-p', dir, '--format', 'json', query]);
    assert.equal(q.code, 0, q.err);
    return JSON.parse(q.out) as Record<string, unknown>[];
  };

  it('records the parsed and quarantined counts of each run', () => {
    assert.deepEqual(results.map((r) => r.status), ['success', 'success'], JSON.stringify(results.map((r) => r.error)));
    for (const [k, day] of DAYS.entries()) {
      const g = truth.get(day)!;
      const d = results[k]!.datasets[0]!;
      assert.ok(g.bad.size > 10, 'the generator made malformed lines');
      assert.equal(d.rowsOut, g.good.length, day);
      assert.equal(d.quarantined, g.bad.size, day);
      assert.deepEqual(d.expectations.map((e) => [e.name, e.action, e.failed]), [['log_line_parsed', 'quarantine', g.bad.size]]);
    }
  });

  it('parses every column of every good line', async () => {
    const { schema } = await new Lake(path.join(dir, 'lake')).table('bronze.access').snapshot();
    assert.deepEqual(schema.fields.map((f) => `${f.name} ${String(f.type)}`), [
      'host string', 'ident string', 'user string', 'time timestamp', 'method string', 'path string', 'protocol string',
      'status integer', 'bytes long', 'referrer string', 'user_agent string', '_line long', 'date date', '_source string',
      '_ingested_at timestamp', '_run_id string',
    ], 'no _raw or _parse_error in the kept rows');
    const rows = await sql(`SELECT CAST(date AS VARCHAR) AS date, _source, host, ident, "user", epoch_ms(time) AS ms, method, path, protocol, status, bytes, referrer, user_agent, _line
      FROM bronze.access ORDER BY date, _line`);
    const expected = DAYS.flatMap((day, k) => truth.get(day)!.good.map((e) => ({
      date: day, _source: `landing/logs/date=${day}/access.log${k === 1 ? '.gz' : ''}`, host: e.host, ident: e.ident, user: e.user, ms: e.ms,
      method: e.method, path: e.path, protocol: e.protocol, status: e.status, bytes: e.bytes, referrer: e.referrer, user_agent: e.user_agent, _line: e.line,
    })));
    assert.equal(rows.length, expected.length);
    const norm = (r: Record<string, unknown>): Record<string, unknown> => ({ ...r, ms: Number(r['ms']), bytes: r['bytes'] === null ? null : Number(r['bytes']), _line: Number(r['_line']) });
    for (let i = 0; i < rows.length; i++) assert.deepEqual(norm(rows[i]!), expected[i], `row ${i}`);
  });

  it('quarantines malformed lines with their line number and text', async () => {
    const rows = await sql(`SELECT CAST(date AS VARCHAR) AS date, _line, _raw, _parse_error, _failed_expectations, host, time, status FROM bronze.access_quarantine ORDER BY date, _line`);
    const expected = DAYS.flatMap((day) => [...truth.get(day)!.bad].map(([line, raw]) => [day, line, raw]));
    assert.deepEqual(rows.map((r) => [r['date'], Number(r['_line']), r['_raw']]), expected);
    for (const r of rows) {
      assert.equal(r['_failed_expectations'], 'log_line_parsed');
      assert.match(String(r['_parse_error']), /not a combined log line|is not|not a three-digit/);
      assert.deepEqual([r['host'], r['time'], r['status']], [null, null, null]);
    }
    const feb31 = rows.find((r) => String(r['_raw']).includes('31/Feb/'));
    assert.match(String(feb31?.['_parse_error']), /^time \[31\/Feb/);
  });

  it('enriches hosts and agents in SQL: ip_country, ua_browser, ua_os, ua_device', async () => {
    const rows = await sql('SELECT DISTINCT host, ip_country(host) AS country FROM bronze.access ORDER BY host');
    assert.equal(rows.length, HOSTS.length);
    for (const r of rows) assert.equal(r['country'], geoip.lookup(String(r['host']))?.country || null, String(r['host']));
    assert.ok(rows.filter((r) => r['country'] !== null).length >= 6, 'public addresses (IPv4 and IPv6) have a country');
    assert.equal(rows.find((r) => r['host'] === '8.8.8.8')!['country'], 'US');
    assert.equal(rows.find((r) => r['host'] === '10.0.0.7')!['country'], null);
    const agents = await sql('SELECT DISTINCT user_agent AS ua, ua_browser(user_agent) AS b, ua_os(user_agent) AS o, ua_device(user_agent) AS d FROM bronze.access');
    assert.equal(agents.length, AGENTS.length);
    for (const [ua, b, o, d] of AGENTS) {
      const got = agents.find((a) => a['ua'] === ua.replace(/\\"/g, '"'));
      assert.deepEqual([got?.['b'], got?.['o'], got?.['d']], [b, o, d], ua);
    }
    const [n] = await sql("SELECT ua_device(NULL) AS a, ua_device('') AS b, ip_country('not an ip') AS c, ip_country('::ffff:8.8.8.8') AS d");
    assert.deepEqual(n, { a: null, b: 'unknown', c: null, d: 'US' });
  });
});

describe('web-server logs: common format', () => {
  it('parses common lines and quarantines combined-only lines', async (t) => {
    const { dir, cleanup } = await tempDir('weblog-common');
    t.after(cleanup);
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), "export default { lake: './lake' };\n");
    await fs.mkdir(path.join(dir, 'landing'), { recursive: true });
    await fs.writeFile(path.join(dir, 'landing', 'a.log'), [
      '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
      '::1 - - [01/Jan/2024:00:00:00 +0530] "-" 408 -',
      '127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 "-" "curl/8"',
    ].join('\n'));
    await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
    await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'hits.ts'), "export default { name: 'bronze.hits', source: { kind: 'files', path: 'landing/*.log', format: 'common' }, materialization: 'overwrite' };\n");
    const runner = await Runner.open(await loadProject(dir));
    try {
      const [r] = await runner.runAll('full-refresh');
      assert.equal(r!.status, 'success', r!.error);
      assert.equal(r!.datasets[0]!.quarantined, 1);
    } finally {
      await runner.close();
    }
    const q = await cli(['sql', '-p', dir, '--format', 'json', 'SELECT host, ident, "user", CAST(time AS VARCHAR) AS time, method, path, protocol, status, CAST(bytes AS INTEGER) AS bytes, CAST(_line AS INTEGER) AS _line FROM bronze.hits ORDER BY _line']);
    assert.equal(q.code, 0, q.err);
    assert.deepEqual(JSON.parse(q.out), [
      { host: '127.0.0.1', ident: null, user: 'frank', time: '2000-10-10 20:55:36+00', method: 'GET', path: '/apache_pb.gif', protocol: 'HTTP/1.0', status: 200, bytes: 2326, _line: 1 },
      { host: '::1', ident: null, user: null, time: '2023-12-31 18:30:00+00', method: null, path: null, protocol: null, status: 408, bytes: null, _line: 2 },
    ]);
    const qq = await cli(['sql', '-p', dir, '--format', 'json', 'SELECT CAST(_line AS INTEGER) AS _line, _parse_error FROM bronze.hits_quarantine']);
    assert.deepEqual(JSON.parse(qq.out), [{ _line: 3, _parse_error: 'not a common log line (host ident user [time] "request" status bytes)' }]);
  });
});
