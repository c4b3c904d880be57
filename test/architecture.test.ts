import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from './fixtures.js';

/**
 * The dependency rules of docs/architecture.md (`.dependency-cruiser.cjs`, run by `npm run lint`)
 * can fail: dependency-cruiser with the project's configuration over a small tree that breaks
 * them reports each break, and nothing where the tree keeps to the rules.
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONFIG = path.join(REPO, '.dependency-cruiser.cjs');
const DEPCRUISE = path.join(REPO, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

/** A throwaway src/ tree: the file path → its source. */
const TREE: Record<string, string> = {
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src'] }),
  'src/errors.ts': 'export class IngotError extends Error {}\n',
  'src/storage/store.ts': "import { IngotError } from '../errors.js';\nexport const fail = (): Error => new IngotError('x');\n",
  'src/engine/engine.ts': 'export interface Engine { query(sql: string): Promise<unknown[]> }\n',
  'src/engine/registry.ts': "import { DUCKDB } from './duckdb/engine.js';\nexport const ENGINES = [DUCKDB];\n",
  'src/engine/duckdb/engine.ts': "import { SPARK } from '../spark/engine.js';\nexport const DUCKDB = 'duckdb' + SPARK.length;\n",
  'src/engine/spark/engine.ts': "export const SPARK = 'spark';\n",
  // keeps to the rules: the table layer on storage
  'src/table/log.ts': "import { fail } from '../storage/store.js';\nexport const read = fail;\n",
  // breaks them: the table layer naming an engine (a type-only import counts)
  'src/table/table.ts': "import type { Engine } from '../engine/engine.js';\nexport type Reader = Engine;\n",
  // breaks them: a cycle
  'src/pipeline/graph.ts': "import { render } from './template.js';\nexport const graph = (): string => render();\n",
  'src/pipeline/template.ts': "import { graph } from './graph.js';\nexport const render = (): string => typeof graph;\n",
  // breaks them: a floor importing a floor above it
  'src/sources/dune.ts': "export const dune = 'dune';\n",
  'src/pipeline/engines.ts': "import { dune } from '../sources/dune.js';\nexport const engines = [dune];\n",
};

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

describe('dependency rules (.dependency-cruiser.cjs)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let violations: Violation[];

  before(async () => {
    ({ dir, cleanup } = await tempDir('architecture'));
    for (const [file, text] of Object.entries(TREE)) {
      await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await fs.writeFile(path.join(dir, file), text);
    }
    const stdout = await new Promise<string>((resolve, reject) => {
      // exits non-zero when it finds violations: the JSON report is on stdout either way
      execFile(process.execPath, [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', 'json'], { cwd: dir, maxBuffer: 16 << 20 }, (err, out, errText) => {
        if (out.trim().startsWith('{')) resolve(out);
        else reject(new Error(`dependency-cruiser failed: ${errText || err?.message}`));
      });
    });
    violations = (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
  });
  after(() => cleanup());

  const found = (rule: string, from: string, to?: string): boolean =>
    violations.some((v) => v.rule.name === rule && v.from === from && (to === undefined || v.to === to));

  it('reports src/table importing src/engine', () => {
    assert.ok(found('table-imports-storage-only', 'src/table/table.ts', 'src/engine/engine.ts'), JSON.stringify(violations, null, 1));
    assert.ok(found('floor-table', 'src/table/table.ts', 'src/engine/engine.ts'));
  });

  it('reports a cycle', () => {
    assert.ok(found('no-circular', 'src/pipeline/graph.ts') || found('no-circular', 'src/pipeline/template.ts'), JSON.stringify(violations, null, 1));
  });

  it('reports a folder importing a floor above it, and one engine folder importing another', () => {
    assert.ok(found('floor-pipeline', 'src/pipeline/engines.ts', 'src/sources/dune.ts'), JSON.stringify(violations, null, 1));
    assert.ok(found('engine-folders-apart', 'src/engine/duckdb/engine.ts', 'src/engine/spark/engine.ts'), JSON.stringify(violations, null, 1));
  });

  it('reports nothing where the tree keeps to the rules', () => {
    const clean = ['src/table/log.ts', 'src/storage/store.ts', 'src/engine/registry.ts', 'src/engine/engine.ts', 'src/errors.ts'];
    assert.deepEqual(violations.filter((v) => clean.includes(v.from)), []);
  });
});
