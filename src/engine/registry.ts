import type { LakeReader, LakeReaderSettings } from './reader.js';

/**
 * Opens the serving reader (`LakeReader`, see `engine/reader.ts`) with `settings`; its engine's
 * driver is loaded on this first use. Errors: the engine's, when it cannot start.
 */
export async function openLakeReader(settings: LakeReaderSettings): Promise<LakeReader> {
  const { DuckDBLakeReader } = await import('./duckdb/reader.js');
  return DuckDBLakeReader.open(settings);
}
