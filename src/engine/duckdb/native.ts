import { createRequire } from 'node:module';
import type * as DuckDB from '@duckdb/node-api';

let api: typeof DuckDB | undefined;

/**
 * DuckDB's Node API, loaded on first use. Its native library takes ~0.1–1.5 s to load (more on a
 * busy machine), so modules that import the engine (every project file imports `ingot`) load it
 * only when a query needs it: `DuckDBEngine.open` is the first caller in practice.
 */
export function duckdb(): typeof DuckDB {
  return (api ??= createRequire(import.meta.url)('@duckdb/node-api') as typeof DuckDB);
}
