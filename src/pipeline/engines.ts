import { defaultEngineName, LOCAL_ENGINE, type EngineConfig, type EngineName } from '../engine/registry.js';
import type { DatasetDefinition } from './definition.js';

/**
 * The engine running `ds`: the in-process engine for a dataset with a source (it reads the raw
 * files), else the dataset's `engine`, else the project's default (`engine` in ingot.config.ts).
 */
export function datasetEngine(ds: Pick<DatasetDefinition, 'source' | 'engine'>, config: EngineConfig): EngineName {
  if (ds.source) return LOCAL_ENGINE;
  return ds.engine ?? defaultEngineName(config);
}
