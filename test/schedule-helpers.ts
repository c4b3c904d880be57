/**
 * Helpers of the scheduler tests: a small project with pipelines, and a real PostgreSQL server
 * (initdb + pg_ctl in a temp dir, as test/postgres.test.ts does).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Project } from '../src/pipeline/project.js';
import { loadProject, type ProjectConfig } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import { attachTables } from '../src/operations/query.js';

/** Default datasets: bronze.events (3 rows per date, append) and gold.daily (rows per day of bronze.events, replace partition). */
export const EVENTS = "-- materialization: append\nSELECT CAST({{logical_date}} AS DATE) AS day, range AS i FROM range(3)\n";
export const DAILY = '-- materialization: replace partition\n-- partition_by: day\nSELECT day, count(*) AS n FROM bronze.events WHERE day >= {{start}} AND day < {{end}} GROUP BY day\n';

/** Writes a project into `dir`: `config` is the object literal passed to defineConfig (TypeScript source); `datasets` maps `layer/name.sql` to SQL. */
export async function writeProject(dir: string, config: string, datasets: Record<string, string> = { 'bronze/events.sql': EVENTS, 'gold/daily.sql': DAILY }): Promise<Project<ProjectConfig>> {
  for (const [file, sql] of Object.entries(datasets)) {
    await fs.mkdir(path.dirname(path.join(dir, 'datasets', file)), { recursive: true });
    await fs.writeFile(path.join(dir, 'datasets', file), sql);
  }
  await fs.writeFile(path.join(dir, 'ingot.config.ts'), `import { defineConfig, pipeline } from 'ingot';\nexport default defineConfig(${config});\n`);
  return loadProject(dir);
}

/** Rows of a query over the project's lake. */
export async function query(project: Project<ProjectConfig>, sql: string): Promise<Record<string, unknown>[]> {
  const runner = await Runner.open(project);
  try {
    await attachTables(runner.lake, runner.engine, await runner.engine.references(sql));
    return await runner.engine.query(sql);
  } finally {
    await runner.close();
  }
}
