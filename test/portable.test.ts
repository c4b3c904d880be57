import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { translatePortable } from '../src/engine/portable.js';
import { tokenize } from '../src/engine/sql-tokens.js';
import { dialectOf } from '../src/engine/registry.js';
import { IngotError } from '../src/errors.js';
import { Lake } from '../src/table/lake.js';
import { queryLake } from '../src/operations/query.js';
import { loadProject } from '../src/project.js';
import { renderSql } from '../src/pipeline/template.js';
import { Runner } from '../src/run/runner.js';
import { tempDir } from './fixtures.js';

const invalid = (pattern: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof IngotError, String(e));
  assert.equal(e.code, 'DATASET_INVALID');
  assert.match(e.message, pattern);
  return true;
};

const D = { duckdb: dialectOf('duckdb'), spark: dialectOf('spark') };

describe('portable functions', () => {
  it('tokenizes without losing a character, as each engine reads literals', () => {
    const sql = "SELECT 'it''s', E'a\\'b', $x$ingot.sha256(1)$x$, \"q\"\"\" /* a /* nested */ comment */ -- ingot.x(\n, `b`, 1.5e-3 FROM t";
    for (const dialect of ['duckdb', 'spark'] as const) assert.equal(tokenize(sql, D[dialect].lex).map((t) => t.text).join(''), sql);
    // Spark reads a backslash as an escape, DuckDB does not
    assert.deepEqual(tokenize("'a\\'b'", D.spark.lex).map((t) => t.kind), ['string']);
    assert.deepEqual(tokenize("'a\\'b'", D.duckdb.lex).map((t) => t.kind), ['string', 'ident', 'string']);
    assert.deepEqual(tokenize('/* a /* b */ c */x', D.duckdb.lex).map((t) => t.text), ['/* a /* b */ c */', 'x']);
  });

  it('rewrites calls per engine, leaving literals, quoted identifiers, comments and other names alone', () => {
    const sql = "SELECT ingot.sha256(name) AS h, 'ingot.sha256(x)' AS s, \"ingot.sha256(x)\" AS q, x.ingot.sha256(y) AS z /* ingot.sha256(x) */ -- ingot.sha256(x)\nFROM t";
    assert.equal(translatePortable(sql, D.duckdb, 'gold.x'),
      "SELECT sha256(name) AS h, 'ingot.sha256(x)' AS s, \"ingot.sha256(x)\" AS q, x.ingot.sha256(y) AS z /* ingot.sha256(x) */ -- ingot.sha256(x)\nFROM t");
    assert.equal(translatePortable(sql, D.spark, 'gold.x'),
      "SELECT sha2(name, 256) AS h, 'ingot.sha256(x)' AS s, \"ingot.sha256(x)\" AS q, x.ingot.sha256(y) AS z /* ingot.sha256(x) */ -- ingot.sha256(x)\nFROM t");
    // nested calls, argument expressions kept in parentheses, case-insensitive names
    assert.equal(translatePortable("INGOT.Date_Trunc('Month', ingot.parse_date(a || '-01', '%Y-%m-%d'))", D.spark, 'gold.x'),
      "CAST(date_trunc('month', (CAST(CASE WHEN date_format(try_to_timestamp((a || '-01'), 'yyyy-MM-dd'), 'yyyy-MM-dd') = (a || '-01') THEN try_to_timestamp((a || '-01'), 'yyyy-MM-dd') END AS DATE))) AS DATE)");
    // a regular expression's backslashes mean the same on Spark, whose literals take escapes
    assert.equal(translatePortable("ingot.regexp_extract(s, '(\\d+)''', 1)", D.spark, 'gold.x'), "regexp_extract(s, '(\\\\d+)\\'', 1)");
    assert.equal(translatePortable("ingot.regexp_extract(s, '(\\d+)''')", D.duckdb, 'gold.x'), "regexp_extract(s, '(\\d+)''', 0)");
    // a strftime format becomes a Spark pattern, letters quoted
    assert.equal(translatePortable("ingot.strftime(ts, '%Y-%m-%dT%H:%M at %% %j')", D.spark, 'gold.x'), "date_format(ts, 'yyyy-MM-dd\\'T\\'HH:mm\\' at % \\'DDD')");
    // SQL's doubled quote means one quote on Spark too (which would join two literals)
    assert.equal(translatePortable(String.raw`SELECT 'it''s', '''', '', 'a\\''b', r'x''', "q''" FROM t`, D.spark, 'gold.x'), String.raw`SELECT 'it\'s', '\'', '', 'a\\\'b', r'x''', "q''" FROM t`);
    assert.equal(translatePortable("SELECT 'it''s'", D.duckdb, 'gold.x'), "SELECT 'it''s'");
    // templates first, then portable functions, in the dialect given
    const ctx = { interval: { start: '2024-01-01', end: '2024-01-02' }, logicalDate: '2024-01-01', runId: 'r' };
    assert.equal(renderSql("SELECT ingot.date_add('month', 1, {{start}})", { ...ctx, dialect: D.spark }, 'gold.x'), "SELECT add_months((DATE '2024-01-01'), CAST(1 AS INT) * 1)");
    assert.equal(renderSql("SELECT ingot.date_add('month', 1, {{start}})", { ...ctx, dialect: D.duckdb }, 'gold.x'), "SELECT CAST((DATE '2024-01-01') + to_months(CAST(1 AS INTEGER)) AS DATE)");
  });

  it('names the dataset, the function and the argument in errors', () => {
    const t = (sql: string): string => translatePortable(sql, D.spark, 'gold.report');
    assert.throws(() => t('SELECT ingot.date_truncate(x)'), invalid(/^gold\.report: ingot\.date_truncate: not a portable function \(known: date_trunc, /));
    assert.throws(() => t("SELECT ingot.date_trunc('month')"), invalid(/^gold\.report: ingot\.date_trunc: takes 2 arguments, got 1: ingot\.date_trunc\(unit, value\)/));
    assert.throws(() => t("SELECT ingot.regexp_extract(s)"), invalid(/takes 2 to 3 arguments, got 1: ingot\.regexp_extract\(text, pattern, \[group\]\)/));
    assert.throws(() => t("SELECT ingot.date_trunc('fortnight', d)"), invalid(/^gold\.report: ingot\.date_trunc, argument 1: \(unit\) 'fortnight' is not supported \(supported: 'year', 'quarter', 'month', 'week', 'day'\)/));
    assert.throws(() => t('SELECT ingot.date_trunc(u, d)'), invalid(/ingot\.date_trunc, argument 1: \(unit\) must be a string literal/));
    assert.throws(() => t("SELECT ingot.strftime(d, '%Y %U')"), invalid(/^gold\.report: ingot\.strftime, argument 2: \(format\) '%Y %U': %U is not a portable specifier/));
    assert.throws(() => t('SELECT ingot.strftime(d, f)'), invalid(/argument 2: \(format\) must be a string literal/));
    assert.throws(() => t("SELECT ingot.regexp_extract(s, 'a', g)"), invalid(/ingot\.regexp_extract, argument 3: \(group\) must be an integer literal; got g/));
    assert.throws(() => t('SELECT ingot.sha256(, x)'), invalid(/takes 1 arguments, got 2/));
    assert.throws(() => t('SELECT ingot.sha256(name'), invalid(/ingot\.sha256: no closing parenthesis/));
  });

  it('loads per-engine overrides next to a dataset, and refuses ones it cannot place', async () => {
    const { dir, cleanup } = await tempDir('portable-overrides');
    try {
      const ds = path.join(dir, 'datasets', 'gold');
      await fs.mkdir(ds, { recursive: true });
      await fs.writeFile(path.join(dir, 'ingot.config.ts'), "import { defineConfig } from 'ingot';\nexport default defineConfig({ lake: './lake' });\n");
      await fs.writeFile(path.join(ds, 'lists.sql'), "-- description: list lengths\nSELECT 'portable' AS written_for, ingot.array_length([1, 2]) AS n\n");
      await fs.writeFile(path.join(ds, 'lists.duckdb.sql'), "-- DuckDB's own list functions\nSELECT 'duckdb' AS written_for, len(list_distinct([1, 1, 2])) AS n;\n");
      await fs.writeFile(path.join(ds, 'typed.ts'), "export default { name: 'gold.typed', sql: 'SELECT 1 AS v', materialization: 'overwrite' };\n");
      await fs.writeFile(path.join(ds, 'typed.spark.sql'), 'SELECT 2 AS v\n');
      const project = await loadProject(dir);
      const lists = project.datasets.find((d) => d.name === 'gold.lists')!;
      assert.deepEqual(lists.sqlByEngine, { duckdb: "SELECT 'duckdb' AS written_for, len(list_distinct([1, 1, 2])) AS n" });
      assert.equal(lists.description, 'list lengths');
      assert.deepEqual(project.datasets.find((d) => d.name === 'gold.typed')!.sqlByEngine, { spark: 'SELECT 2 AS v' });
      assert.equal(project.datasets.length, 2);

      // the DuckDB engine runs the DuckDB override
      const runner = await Runner.open(project);
      try {
        for (const r of await runner.runAll('full-refresh')) assert.equal(r.status, 'success', r.error);
      } finally {
        await runner.close();
      }
      const duck = await DuckDBEngine.open();
      try {
        assert.deepEqual(await queryLake(new Lake(project.lake, duck), duck, 'SELECT * FROM gold.lists'), [{ written_for: 'duckdb', n: '2' }]);
      } finally {
        await duck.close();
      }

      const refuses = async (file: string, text: string, pattern: RegExp): Promise<void> => {
        await fs.writeFile(path.join(ds, file), text);
        await assert.rejects(loadProject(dir), invalid(pattern));
        await fs.rm(path.join(ds, file));
      };
      await refuses('lists.postgres.sql', 'SELECT 1', /lists\.postgres\.sql: unknown engine "postgres" in an SQL override's file name \(known: duckdb, spark\): name it lists\.duckdb\.sql or lists\.spark\.sql/);
      await refuses('orphan.spark.sql', 'SELECT 1', /orphan\.spark\.sql: an SQL override for engine spark needs its dataset next to it \(orphan\.sql or orphan\.ts\)/);
      await refuses('lists.spark.sql', '-- materialization: append\nSELECT 1', /lists\.spark\.sql:1: an SQL override holds only the query; directives such as "-- materialization: append" go in the dataset's own file/);
      await refuses('other.ts', "export default { name: 'gold.other', sql: 'SELECT 1', materialization: 'overwrite', sqlByEngine: { postgres: 'SELECT 2' } };\n", /other\.ts: sqlByEngine\.postgres: unknown engine "postgres" \(known: duckdb, spark\)/);
    } finally {
      await cleanup();
    }
  });
});
