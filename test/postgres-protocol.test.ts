/**
 * The pure parts of the PostgreSQL protocol server (src/serve/postgres/) against published
 * vectors and PostgreSQL's own formats; test/postgres-wire.test.ts runs the real clients.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, splitStatements } from '../src/serve/postgres/commands.js';
import { readsCatalog, rewriteCatalog } from '../src/serve/postgres/catalog.js';
import { MessageReader, MessageWriter } from '../src/serve/postgres/messages.js';
import { ScramFailure, ScramServer, scramVerifier } from '../src/serve/postgres/scram.js';
import { binaryOf, decodeParam, pgTypeOf, textOf, timestampMicros } from '../src/serve/postgres/types.js';

describe('PostgreSQL protocol pieces', () => {
  it('SCRAM-SHA-256: the exchange of RFC 7677 section 3 (user "user", password "pencil")', () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const server = new ScramServer({ salt, iterations: 4096, serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
    const first = server.first('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    assert.equal(first, 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    const pencil = { name: 'pencil', ...scramVerifier('pencil', salt, 4096) };
    const other = { name: 'other', ...scramVerifier('not pencil', salt, 4096) };
    const final = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
    const { match, serverFinal } = server.final(final, [other, pencil]);
    assert.equal(match.name, 'pencil');
    assert.equal(serverFinal, 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    assert.throws(() => server.final(final, [other]), ScramFailure);
    assert.throws(() => new ScramServer().first('p=tls-server-end-point,,n=,r=abc'), /channel binding/);
  });

  it('frames messages split anywhere across reads', () => {
    const w = new MessageWriter();
    const bytes = Buffer.concat([w.begin('Q').cstring('SELECT 1').end().take(), w.begin('S').end().take()]);
    const r = new MessageReader();
    const got: string[] = [];
    for (const b of bytes) {
      r.push(Buffer.from([b]));
      for (let m = r.next(); m; m = r.next()) got.push(`${m.type}:${m.body.toString('latin1')}`);
    }
    assert.deepEqual(got, ['Q:SELECT 1\0', 'S:']);
  });

  it('types: OIDs, text and binary formats as PostgreSQL writes them', () => {
    assert.deepEqual(pgTypeOf('DECIMAL(10,2)'), { oid: 1700, typlen: -1, typmod: (10 << 16 | 2) + 4 });
    assert.equal(pgTypeOf('TIMESTAMP WITH TIME ZONE').oid, 1184);
    assert.equal(pgTypeOf('VARCHAR[]').oid, 1009);
    assert.equal(pgTypeOf('STRUCT("a" INTEGER)').oid, 114);
    assert.equal(textOf(['a b', null, 'NULL', 'x'], 1009), '{"a b",NULL,"NULL",x}');
    assert.equal(textOf(true, 16), 't');
    assert.equal(textOf(new Uint8Array([1, 255]), 17), '\\x01ff');
    assert.equal(textOf({ a: 1n, b: [1, 'x'] }, 114), '{"a":1,"b":[1,"x"]}');
    // numeric_send: 12345.678 is digits 1, 2345, 6780 with weight 1, dscale 3
    assert.deepEqual([...binaryOf('-12345.678', 1700)], [0, 3, 0, 1, 0x40, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]);
    assert.deepEqual([...binaryOf('0.00', 1700)], [0, 0, 0, 0, 0, 0, 0, 2]);
    assert.equal(timestampMicros('2000-01-01 00:00:00'), 0n);
    assert.equal(timestampMicros('1999-12-31 23:59:59.5+00'), -500_000n);
    assert.equal(binaryOf('1970-01-01', 1082).readInt32BE(0), -10957);
    assert.deepEqual(decodeParam(Buffer.from('42'), 0, 0, 'INTEGER'), { type: 'BIGINT', value: 42n });
    assert.deepEqual(decodeParam(Buffer.from('2024-03-01 10:00:00'), 0, 1114, 'UNKNOWN'), { type: 'TIMESTAMP', value: '2024-03-01T10:00:00.000Z' });
    assert.throws(() => decodeParam(Buffer.from('x1'), 0, 23, 'UNKNOWN'), /invalid input syntax for type integer/);
  });

  it('session commands and statements: split at top-level semicolons, commands recognised, the rest left to the lake', () => {
    assert.deepEqual(splitStatements("SELECT ';' AS a; -- x;\nSELECT $$;$$; /* ; */"), ["SELECT ';' AS a", ' -- x;\nSELECT $$;$$']);
    const settings = new Map([['timezone', 'UTC']]);
    assert.deepEqual(classify('SET application_name = \'bi\'', settings), { kind: 'command', tag: 'SET', set: [['application_name', 'bi']] });
    assert.equal(classify('show TimeZone', settings).kind, 'command');
    assert.deepEqual(classify('DECLARE "c" BINARY CURSOR WITH HOLD FOR SELECT 1', settings), { kind: 'declare', name: 'c', sql: 'SELECT 1', binary: true, hold: true });
    assert.deepEqual(classify('FETCH FORWARD 100 FROM c', settings), { kind: 'fetch', name: 'c', count: 100, move: false });
    assert.deepEqual(classify('CREATE TABLE x (a INT)', settings), { kind: 'query', sql: 'CREATE TABLE x (a INT)' });
    assert.equal(classify('/* set x = 1 */ DROP TABLE silver.flights', settings).kind, 'query');
  });

  it('catalog rewrite: psql spellings and the catalog relations replaced by CTEs, parameters kept', () => {
    const q = "SELECT n.nspname, pg_catalog.pg_get_userbyid(n.nspowner) FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.~) '^(silver)$' COLLATE pg_catalog.default";
    assert.ok(readsCatalog(q));
    const r = rewriteCatalog(q);
    assert.match(r, /^WITH __ingot_lake_columns AS \(.*\), __ingot_lake_tables AS \(.*\), __ingot_pg_namespace AS \(SELECT \* FROM pg_catalog\.pg_namespace WHERE nspname NOT IN/);
    assert.match(r, /SELECT n\.nspname, 'ingot' FROM __ingot_pg_namespace n WHERE regexp_matches\(n\.nspname, '\^\(silver\)\$'\)$/);
    assert.match(rewriteCatalog('SELECT json_build_object($1::VARCHAR, 1) FROM pg_catalog.pg_class WHERE relname = $2'), /CAST\(\$1 AS VARCHAR\).*relname = \$2/s);
    assert.match(rewriteCatalog("WITH x AS (SELECT 1) SELECT * FROM information_schema.tables, x"), /^WITH __ingot_lake_columns AS \(.*\), __ingot_tables AS \(.*\), x AS \(SELECT 1\) SELECT \* FROM __ingot_tables, x$/s);
  });

  it('catalog rewrite: Metabase\'s and SQLAlchemy\'s spellings, and the lake\'s facts as relations', () => {
    const facts = [{ schema: 'silver', table: 'stations', description: "Stations' list", rows: 5, bytes: 1200, columns: [{ name: 'id', nullable: false, comment: 'Station id' }] }];
    const session = { database: 'weather', settings: new Map<string, string>(), tables: facts };
    // PostgreSQL's ~ matches anywhere; the engine's must match the whole text
    assert.match(rewriteCatalog("SELECT 1 FROM pg_namespace n WHERE n.nspname !~ '^pg_' AND n.nspname ~* 'X'", session), /NOT regexp_matches\(n\.nspname, '\^pg_'\) AND regexp_matches\(n\.nspname, 'X', 'i'\)/);
    // format('%I.%I', ...) and a computed ::regclass (Metabase's describe-fields)
    const fields = rewriteCatalog("SELECT col_description(CAST(CAST(FORMAT('%I.%I', CAST(c.table_schema AS TEXT), c.table_name) AS REGCLASS) AS OID), c.ordinal_position) FROM information_schema.columns AS c", session);
    assert.doesNotMatch(fields, /REGCLASS|FORMAT\(/i);
    assert.match(fields, /SELECT min\(description\) FROM __ingot_pg_description WHERE objoid = \(CAST\(\(SELECT min\(c\.oid\) FROM __ingot_pg_class c LEFT JOIN __ingot_pg_namespace n/);
    assert.match(fields, /regexp_full_match\(CAST\(CAST\(c\.table_schema AS TEXT\) AS VARCHAR\), '\[a-z_\]\[a-z0-9_\$\]\*'\)/);
    // the facts: one VALUES row per column and table, quotes doubled; bare catalog relations replaced too
    const stats = rewriteCatalog('SELECT relname, n_live_tup FROM pg_stat_user_tables JOIN pg_constraint ON true', session);
    assert.match(stats, /VALUES \('silver', 'stations', 'id', true, 'Station id'\)/);
    assert.match(stats, /VALUES \('silver', 'stations', 'Stations'' list', 5::BIGINT, 1200::BIGINT\)/);
    assert.match(stats, /FROM __ingot_pg_stat_user_tables JOIN __ingot_pg_constraint ON true$/);
    assert.ok(readsCatalog("SELECT obj_description(1, 'pg_class')"));
  });
});
