/**
 * A loader process for test/postgres-crash.test.ts: opens the project at `PROJECT` (dataset
 * bronze.orders: PostgreSQL `public.orders` of `INGOT_TEST_PG`, cursor `id`, append), then loops
 * forever: inserts `ROWS` rows into public.orders (one transaction), prints `inserted <max id>`,
 * runs the project for the next logical date (from day `FIRST_DAY` after 2020-01-01), prints
 * `done <rows loaded> <ms the run took>`. The test kills it with SIGKILL at random moments. Prints `ready` once open.
 *
 * Run: `node --import tsx test/workers/pg-load.ts` with the environment variables above.
 */
import pg from 'pg';
import { loadProject } from '../../src/project.js';
import { Runner } from '../../src/run/runner.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`pg-load worker: ${name} is not set`);
  return v;
};

const rows = Number(env('ROWS'));
const firstDay = Number(env('FIRST_DAY'));
const runner = await Runner.open(await loadProject(env('PROJECT')));
const client = new pg.Client({ connectionString: env('INGOT_TEST_PG') });
await client.connect();
console.log('ready');
for (let i = 0; ; i++) {
  const { rows: [inserted] } = await client.query<{ max: string }>(
    `WITH ins AS (INSERT INTO public.orders (amount, note) SELECT round((random() * 100)::numeric, 2), 'row ' || g FROM generate_series(1, ${rows}) AS g RETURNING id)
     SELECT max(id)::text AS max FROM ins`,
  );
  console.log(`inserted ${inserted!.max}`);
  const date = new Date(Date.UTC(2020, 0, 1 + firstDay + i)).toISOString().slice(0, 10);
  const t0 = performance.now();
  const result = await runner.run(date);
  if (result.status !== 'success') {
    console.error(`run ${date} failed: ${result.error}`);
    process.exit(1);
  }
  console.log(`done ${result.datasets[0]!.rowsOut} ${Math.round(performance.now() - t0)}`);
}
