import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { quoteIdent, type Engine } from '../engine/engine.js';
import { IngotError, messageOf } from '../errors.js';
import { renderText, type TemplateContext } from '../pipeline/template.js';

/**
 * Writes the rows a source read (relation `relation`, without its `_source` column) as
 * `<projectDir>/<folder>/part-0.csv` with a header, `folder` being the dataset's `landing` with its
 * templates rendered. The file is written beside and renamed into place, so a reader sees the old
 * or the new file, never half of one. Errors: DATASET_INVALID (a template without a run date),
 * STORAGE_ERROR naming the file when it cannot be written.
 */
export async function landCsv(engine: Engine, relation: string, landing: string, ctx: { projectDir: string; dataset: string } & Omit<TemplateContext, 'dialect'>): Promise<string> {
  const dir = path.resolve(ctx.projectDir, renderText(landing, ctx, ctx.dataset));
  const file = path.join(dir, 'part-0.csv');
  const tmp = path.join(dir, `.part-0.${randomUUID()}.csv`);
  try {
    await fs.mkdir(dir, { recursive: true });
    await engine.writeFile(`SELECT * EXCLUDE ("_source") FROM ${quoteIdent(relation)}`, tmp, 'csv');
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw new IngotError('STORAGE_ERROR', `${ctx.dataset}: cannot land its rows as ${file}: ${messageOf(err)}`, { dataset: ctx.dataset, file }, { cause: err });
  }
  return file;
}
