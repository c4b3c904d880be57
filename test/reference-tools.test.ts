/**
 * The reference tools (delta-rs, pyarrow, Spark, moto, dlt) run deterministically: pinned in one
 * requirements file that CI and the bench share, installed at those versions, and every script
 * that runs them leaves with `os._exit` after flushing its result, so that a tool aborting during
 * interpreter teardown (deltalake: "terminate called without an active exception", exit 134)
 * cannot fail or pass a test by chance.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { LocalStore } from '../src/storage/local.js';
import { DeltaTable } from '../src/table/table.js';
import { tempDir } from './fixtures.js';
import { readWithDeltaRs, REPO_ROOT, writeSql } from './helpers.js';

const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';
const REQUIREMENTS = path.join(REPO_ROOT, 'test', 'reference', 'requirements.txt');
/** The tools the tests run; dlt only the bench (it is pinned, not required here). */
const TESTED = ['deltalake', 'pyarrow', 'moto', 'pyspark', 'delta-spark', 'psycopg', 'sqlalchemy', 'pandas'];
const ALL = [...TESTED, 'dlt'];

/** `name` → pinned version of test/reference/requirements.txt (extras dropped). */
async function pins(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of (await fs.readFile(REQUIREMENTS, 'utf8')).split('\n')) {
    const m = /^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*([=<>!~]=?)\s*([^\s;#]+)/.exec(line.trim());
    if (m) out.set(m[1]!.toLowerCase(), m[2] === '==' ? m[3]! : `${m[2]}${m[3]}`);
  }
  return out;
}

describe('reference tools', () => {
  it('are pinned to exact versions in one requirements file that CI and the bench both install', async () => {
    const pinned = await pins();
    for (const tool of ALL) assert.match(pinned.get(tool) ?? 'missing', /^\d+(\.\d+)+$/, `${tool} is pinned with == in test/reference/requirements.txt`);
    assert.equal(existsSync(path.join(REPO_ROOT, 'bench', 'requirements.txt')), false, 'no second list for the bench');
    assert.match(await fs.readFile(path.join(REPO_ROOT, '.ci', 'run'), 'utf8'), /pip install [^\n]*-r test\/reference\/requirements\.txt/);
    const benchSources = (await fs.readdir(path.join(REPO_ROOT, 'bench'))).filter((f) => /\.(ts|py)$/.test(f));
    for (const f of benchSources) {
      const text = await fs.readFile(path.join(REPO_ROOT, 'bench', f), 'utf8');
      assert.doesNotMatch(text, /bench\/requirements\.txt/, `bench/${f} names no other requirements file`);
    }
  });

  it('are installed at the pinned versions', async () => {
    const pinned = await pins();
    const code = `import json, os, sys\nfrom importlib.metadata import version, PackageNotFoundError\nout = {}\nfor n in ${JSON.stringify(TESTED)}:\n    try:\n        out[n] = version(n)\n    except PackageNotFoundError:\n        out[n] = None\nprint(json.dumps(out))\nsys.stdout.flush()\nos._exit(0)\n`;
    const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const installed = JSON.parse(r.stdout) as Record<string, string | null>;
    for (const tool of TESTED) {
      assert.equal(installed[tool], pinned.get(tool), `${tool} ${installed[tool] ?? 'not installed'}; test/reference/requirements.txt pins ${pinned.get(tool)}: python3 -m pip install -r test/reference/requirements.txt`);
    }
  });

  it('every Python script that runs a reference tool flushes its result and leaves with os._exit', async () => {
    const scripts = [
      ...(await fs.readdir(path.join(REPO_ROOT, 'test', 'reference'))).map((f) => path.join('test', 'reference', f)),
      ...(await fs.readdir(path.join(REPO_ROOT, 'bench'))).map((f) => path.join('bench', f)),
    ].filter((f) => f.endsWith('.py'));
    let checked = 0;
    for (const f of scripts) {
      const text = await fs.readFile(path.join(REPO_ROOT, f), 'utf8');
      const at = text.indexOf('if __name__ == "__main__":');
      // modules (canonical.py) have no main block; Airflow has its own virtualenv and is no reference tool
      if (at < 0 || path.basename(f).startsWith('airflow_')) continue;
      checked++;
      const main = text.slice(at);
      // functions imported from a module beside the script (read_spark.py's run, bench_process.py's run_main)
      const imported = new Map<string, string>();
      for (const m of text.matchAll(/^from (\w+) import ([^\n#]+)/gm)) {
        const file = path.join(REPO_ROOT, path.dirname(f), `${m[1]}.py`);
        if (!existsSync(file)) continue;
        const source = await fs.readFile(file, 'utf8');
        for (const name of m[2]!.split(',').map((x) => x.trim())) imported.set(name, source);
      }
      /** The text of `def name(` in `source`, up to the next top-level def or the main block; undefined if absent. */
      const bodyOf = (source: string, name: string): string | undefined => {
        const def = source.indexOf(`def ${name}(`);
        if (def < 0) return undefined;
        const stops = [source.indexOf('\ndef ', def + 1), source.indexOf('if __name__ == "__main__":')].filter((x) => x > def);
        return source.slice(def, stops.length > 0 ? Math.min(...stops) : undefined);
      };
      /** Whether calling `name` (defined in `source`) reaches os._exit, directly or through functions of that file. */
      const leavesIn = (source: string, name: string, depth = 0): boolean => {
        const body = bodyOf(source, name);
        if (body === undefined || depth > 3) return false;
        if (body.includes('os._exit(')) return true;
        return [...body.matchAll(/\b([A-Za-z_][A-Za-z0-9_]*)\(/g)].some((m) => m[1] !== name && leavesIn(source, m[1]!, depth + 1));
      };
      const leaves = (name: string): boolean => leavesIn(imported.get(name) ?? text, name);
      const flushes = (source: string): boolean => source.includes('sys.stdout.flush()');
      assert.ok(flushes(text) || [...imported].some(([name, source]) => flushes(source) && leavesIn(source, name)), `${f} flushes its output`);
      // the main block leaves through os._exit: directly, or through a function (of the file or imported beside it) that does
      const calls = [...main.matchAll(/\b([A-Za-z_][A-Za-z0-9_]*)\(/g)].map((m) => m[1]!);
      assert.ok(main.includes('os._exit(') || calls.some(leaves), `${f}: its main block ends with os._exit`);
    }
    assert.ok(checked >= 5, `${checked} scripts checked`);
    // Python snippets the bench runs (python3 -c) are wrapped the same way (bench/measure.ts: pythonSnippet)
    for (const f of (await fs.readdir(path.join(REPO_ROOT, 'bench'))).filter((x) => x.endsWith('.ts'))) {
      const text = await fs.readFile(path.join(REPO_ROOT, 'bench', f), 'utf8');
      for (const m of text.matchAll(/'-c', ([^,\]]+)/g)) assert.match(m[1]!, /^pythonSnippet\(/, `bench/${f}: python3 -c ${m[1]!.slice(0, 40)} goes through pythonSnippet`);
    }
  });

  it('read_delta.py gives the same result and exit code 0 on every run', async (t) => {
    const { dir, cleanup } = await tempDir('reference-runs');
    t.after(cleanup);
    const engine = await DuckDBEngine.open();
    t.after(() => engine.close());
    const table = new DeltaTable(new LocalStore(path.join(dir, 't')), engine);
    for (let i = 0; i < 12; i++) await writeSql(engine, table, `SELECT range AS id, ${i} AS batch FROM range(${i * 3}, ${i * 3 + 3})`, { mode: 'append' });
    // readWithDeltaRs fails on any exit code but 0 and on output that is not the table's JSON
    const seen = new Set<string>();
    for (let run = 0; run < 6; run++) {
      const read = readWithDeltaRs(path.join(dir, 't'));
      assert.equal(read.version, 11);
      assert.equal(read.rows.length, 36);
      seen.add(JSON.stringify(read.rows.map((r) => Number(r['id'])).sort((a, b) => a - b)));
    }
    assert.equal(seen.size, 1);
  });
});
