import { IngotError } from '../errors.js';
import { quoteIdent, type Engine, type FileScan } from '../engine/engine.js';
import { LINEAGE_COLUMNS } from '../pipeline/sources/definition.js';


/** The lineage column `column` is, compared as SQL compares names (case-insensitively), or undefined. */
export function lineageColumn(column: string): string | undefined {
  return LINEAGE_COLUMNS.find((c) => c === column.toLowerCase());
}

/** The error for input column `column` of `file` colliding with lineage column `lineage`. */
export function forgedLineageError(dataset: string, file: string, column: string): IngotError {
  const lineage = lineageColumn(column) ?? column;
  return new IngotError('INPUT_SCHEMA',
    `${dataset}: ${file}: column ${column} has the name of the lineage column ${lineage}, which ingot sets on every row (${LINEAGE_COLUMNS.join(', ')}): rename or drop that column in the input`,
    { dataset, file, column });
}

/**
 * Checks that the files of `scan`, attached as relation `name` by `Engine.attachFiles`, bring no
 * column named as a lineage column: their own values would otherwise replace or shadow ingot's.
 * The relation's own columns are those before the `values` columns; when one collides, each file
 * is described alone (the error path only) to name the file. `shown(file)` is a file's name in
 * messages (its path, or its `_source` value). Errors: INPUT_SCHEMA naming the dataset, the file and the column.
 */
export async function checkNoLineageColumns(engine: Engine, dataset: string, name: string, scan: FileScan, shown: (file: FileScan['files'][number]) => string): Promise<void> {
  const columns = (await engine.describe(`SELECT * FROM ${quoteIdent(name)}`)).fields.map((f) => f.name);
  const own = columns.slice(0, columns.length - Object.keys(scan.files[0]?.values ?? {}).length);
  const forged = own.find((c) => lineageColumn(c) !== undefined);
  if (forged === undefined) return;
  const probe = `${name}__lineage`;
  for (const f of scan.files) {
    await engine.attachFiles(probe, { ...scan, files: [{ path: f.path, values: {} }] });
    try {
      const hit = (await engine.describe(`SELECT * FROM ${quoteIdent(probe)}`)).fields.find((x) => lineageColumn(x.name) !== undefined);
      if (hit) throw forgedLineageError(dataset, shown(f), hit.name);
    } finally {
      await engine.drop(probe);
    }
  }
  throw forgedLineageError(dataset, scan.files.map(shown).join(', '), forged);
}
