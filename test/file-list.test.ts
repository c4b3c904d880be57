/**
 * The committed file list of a files source (src/sources/file-list.ts): a commit carries at most
 * SEAL_AT recent entries, older ones live in sealed parts merged geometrically, and the whole list
 * read back is every file loaded (latest entry winning), through real runs of a project whose
 * files source loads more files than a part holds.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadProject } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import { readCommit } from '../src/table/log.js';
import { FILES_DOMAIN, fileListWithout, fileListWrites, readFileList, SEAL_AT, type TrackedFile } from '../src/sources/file-list.js';
import type { DomainWrite } from '../src/table/write.js';
import { tempDir } from './fixtures.js';
import { readWithDeltaRs } from './helpers.js';

/** Applies `writes` to `domains` as a snapshot applies domainMetadata actions (a tombstone deletes). */
function apply(domains: Map<string, string>, writes: DomainWrite[]): void {
  for (const w of writes) {
    if (w.removed) domains.delete(w.domain);
    else domains.set(w.domain, w.configuration);
  }
}

describe('committed file list', () => {
  it('keeps each commit small, few parts, and every entry, the latest winning', () => {
    const domains = new Map<string, string>();
    const expected = new Map<string, TrackedFile>();
    let sealing = 0;
    let biggestPlain = 0;
    for (let batch = 0; batch < 300; batch++) {
      const loaded: Record<string, TrackedFile> = {};
      for (let i = 0; i < 37; i++) {
        // every 50th batch lands an old file again, changed: its new entry must win over the sealed one
        const name = batch % 50 === 49 && i === 0 ? 'landing/f-0-0.csv' : `landing/f-${batch}-${i}.csv`;
        loaded[name] = { size: batch * 100 + i, modified: 1_700_000_000_000 + batch };
        expected.set(name, loaded[name]!);
      }
      const writes = fileListWrites(readFileList(domains, 'bronze.x'), loaded);
      const bytes = writes.reduce((n, w) => n + w.configuration.length, 0);
      if (writes.length === 1) biggestPlain = Math.max(biggestPlain, bytes);
      else sealing++;
      apply(domains, writes);
      const recent = JSON.parse(domains.get(FILES_DOMAIN)!) as { files: object; sealed?: number[] };
      assert.ok(Object.keys(recent.files).length <= SEAL_AT, `batch ${batch}: ${Object.keys(recent.files).length} recent entries`);
      // parts grow geometrically: each at least twice the next newer one, so O(log n) of them
      const sizes = (recent.sealed ?? []).map((id) => Object.keys((JSON.parse(domains.get(`${FILES_DOMAIN}.${id}`)!) as { files: object }).files).length);
      for (let k = 1; k < sizes.length; k++) assert.ok(sizes[k]! * 2 < sizes[k - 1]!, `batch ${batch}: parts ${sizes.join(', ')}`);
      assert.equal([...domains.keys()].filter((d) => d.startsWith(`${FILES_DOMAIN}.`)).length, sizes.length, 'no part left behind');
    }
    const list = readFileList(domains, 'bronze.x');
    assert.deepEqual(list.files, Object.fromEntries(expected));
    assert.equal(Object.keys(list.files).length, 300 * 37 - 6, '11,094 distinct files (6 landed twice)');
    // a plain commit carries the recent part only: at most SEAL_AT entries, ~80 bytes each
    assert.ok(biggestPlain < SEAL_AT * 80, `biggest plain commit ${biggestPlain} bytes`);
    assert.ok(sealing >= 20 && sealing <= 30, `${sealing} commits sealed (one per ~${SEAL_AT} entries)`);
    assert.ok(list.parts.length <= Math.log2(11_095 / SEAL_AT) + 2, `${list.parts.length} parts`);

    // taking a file out (ingot files retry) rewrites the part holding it and keeps everything else
    const name = 'landing/f-3-7.csv';
    assert.ok(list.parts.some((p) => name in p.files), 'in a sealed part');
    const writes = fileListWithout(list, name)!;
    assert.deepEqual(writes.map((w) => w.domain), list.parts.filter((p) => name in p.files).map((p) => `${FILES_DOMAIN}.${p.id}`));
    apply(domains, writes);
    const after = readFileList(domains, 'bronze.x');
    expected.delete(name);
    assert.deepEqual(after.files, Object.fromEntries(expected));
    assert.equal(fileListWithout(after, name), undefined);
  });

  it('reads a list written before the split (one domain with every file) and seals it', () => {
    const files = Object.fromEntries(Array.from({ length: 1200 }, (_, i) => [`in/${i}.csv`, { size: i, modified: i }]));
    const domains = new Map([[FILES_DOMAIN, JSON.stringify({ files })]]);
    const list = readFileList(domains, 'bronze.old');
    assert.equal(Object.keys(list.files).length, 1200);
    apply(domains, fileListWrites(list, { 'in/new.csv': { size: 1, modified: 1 } }));
    const recent = JSON.parse(domains.get(FILES_DOMAIN)!) as { files: object; sealed: number[] };
    assert.deepEqual([Object.keys(recent.files).length, recent.sealed.length], [0, 1]);
    assert.equal(Object.keys(readFileList(domains, 'bronze.old').files).length, 1201);
  });

  it('names the table and domain of a list that is not one', () => {
    assert.throws(() => readFileList(new Map([[FILES_DOMAIN, '{"files": {}, "sealed": [4]}']]), 'bronze.bad'),
      /bronze\.bad: metadata domain ingot\.files of its table names part ingot\.files\.4, which the table does not have/);
    assert.throws(() => readFileList(new Map([[FILES_DOMAIN, '[1]']]), 'bronze.bad'), /bronze\.bad: metadata domain ingot\.files of its table is not a file list/);
  });

  describe('through runs of a files source', () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    before(async () => ({ dir, cleanup } = await tempDir('file-list')));
    after(() => cleanup());

    it('loads every file exactly once across sealed parts, each plain commit carrying the recent entries only', async (t) => {
      await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
      await fs.writeFile(path.join(dir, 'ingot.config.ts'), "export default { lake: './lake' };\n");
      await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'events.ts'), `export default ${JSON.stringify({ name: 'bronze.events', source: { kind: 'files', path: 'landing/*.csv', format: 'csv' }, materialization: 'append' })};\n`);
      await fs.mkdir(path.join(dir, 'landing'), { recursive: true });
      let landed = 0;
      const land = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++, landed++) await fs.writeFile(path.join(dir, 'landing', `part-${String(landed).padStart(5, '0')}.csv`), `id,v\n${landed},a\n${landed},b\n`);
      };
      const runner = await Runner.open(await loadProject(dir));
      t.after(() => runner.close());
      const table = runner.lake.table('bronze.events');
      const listed: string[][] = [];
      for (const n of [300, 300, 300, 300, 120]) {
        await land(n);
        const r = await runner.run('2024-01-01');
        assert.equal(r.status, 'success', r.error);
        assert.equal(r.datasets[0]!.inputs.length, n, 'only the files landed since');
        const version = (await table.snapshot()).version;
        // what each commit wrote of the list: the domains, with their entry counts (a tombstone: removed)
        listed.push((await readCommit(table.store, version)).flatMap((a) => ('domainMetadata' in a && a.domainMetadata.domain.startsWith(FILES_DOMAIN) ? [a.domainMetadata.removed ? `${a.domainMetadata.domain} removed`
          : `${a.domainMetadata.domain}: ${Object.keys((JSON.parse(a.domainMetadata.configuration) as { files: object }).files).length}`] : [])));
      }
      const nothing = await runner.run('2024-01-01');
      assert.equal(nothing.datasets[0]!.rowsOut, 0, 'nothing new: nothing read');

      const snapshot = await table.snapshot();
      const domains = new Map([...snapshot.domains.values()].map((d) => [d.domain, d.configuration]));
      const list = readFileList(domains, 'bronze.events');
      assert.equal(Object.keys(list.files).length, 1320);
      assert.ok(list.parts.length >= 1, 'sealed parts in the table');
      // 300 recent; 600 sealed into part 1; 300 recent; 600 sealed into part 2 and merged with part 1 into part 3; 120 recent
      assert.deepEqual(listed, [
        ['ingot.files: 300'],
        ['ingot.files.1: 600', 'ingot.files: 0'],
        ['ingot.files: 300'],
        ['ingot.files.3: 1200', 'ingot.files.1 removed', 'ingot.files: 0'],
        ['ingot.files: 120'],
      ]);
      const read = readWithDeltaRs(table.location);
      assert.equal(read.rows.length, 2 * 1320, 'two rows per file, each file once (read by delta-rs)');
      assert.equal(new Set(read.rows.map((r) => String(r['_source']))).size, 1320);
    });
  });
});
