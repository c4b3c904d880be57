/**
 * The dependency rules of docs/architecture.md, checked by `npm run lint`
 * (`depcruise src --config .dependency-cruiser.cjs`) and proven able to fail by
 * test/architecture.test.ts.
 *
 * Exceptions are narrow (`pathNot` naming exact files) and commented: each one is a known debt
 * being removed; delete it with the import it allows.
 */

/**
 * The floors of docs/architecture.md, bottom up: a module imports modules of its own floor or
 * below, never above.
 */
const FLOORS = [
  { name: 'base', path: '^src/(errors|env|version)\\.ts$' },
  { name: 'storage', path: '^src/storage/' },
  { name: 'table', path: '^src/table/' },
  { name: 'engine', path: '^src/engine/' },
  { name: 'operations', path: '^src/operations/' },
  { name: 'pipeline', path: '^src/pipeline/' },
  { name: 'sources', path: '^src/sources/' },
  { name: 'metadata', path: '^src/metadata/' },
  { name: 'plan', path: '^src/plan/' },
  { name: 'load', path: '^src/load/' },
  { name: 'run', path: '^src/run/' },
  { name: 'schedule', path: '^src/schedule/' },
  { name: 'serve', path: '^src/serve/' },
  { name: 'cli', path: '^src/(cli/|project\\.ts$|index\\.ts$)' },
];

/**
 * Imports that go up a floor today, by floor name: `from` files (exact paths) allowed to import
 * `to` modules above them. Each is to go.
 */
const FLOOR_EXCEPTIONS = {};

/** Driver packages, each allowed only in its engine's folder. */
const DUCKDB_DRIVER = '^node_modules/@duckdb/';
const SPARK_DRIVERS = '^node_modules/(@grpc/grpc-js|protobufjs|apache-arrow)/';

/**
 * Files that still use an engine directly, which other engineers are moving behind
 * src/engine/registry.ts. Delete a line with the import it allows.
 */
const DUCKDB_DRIVER_USERS_BEING_REMOVED = [];
const ENGINE_FOLDER_USERS_BEING_REMOVED = [
  '^src/index\\.ts$', // the public API exports DuckDBEngine, SparkEngine, the Spark Connect client, the DuckDB functions
];

const floorRules = FLOORS.slice(0, -1).map((floor, i) => {
  const exceptions = FLOOR_EXCEPTIONS[floor.name] ?? [];
  const above = FLOORS.slice(i + 1).map((f) => f.path);
  return exceptions.length === 0
    ? { name: `floor-${floor.name}`, severity: 'error', comment: `${floor.name} (floor ${i}) imports nothing above it (docs/architecture.md)`, from: { path: floor.path }, to: { path: above } }
    : [
        { name: `floor-${floor.name}`, severity: 'error', comment: `${floor.name} (floor ${i}) imports nothing above it (docs/architecture.md)`, from: { path: floor.path, pathNot: exceptions.map((e) => e.from) }, to: { path: above } },
        ...exceptions.map((e, n) => ({
          name: `floor-${floor.name}-exception-${n + 1}`,
          severity: 'error',
          comment: `${floor.name}: the files excepted from floor-${floor.name} import only what their exception names`,
          from: { path: e.from },
          to: { path: above, pathNot: e.to },
        })),
      ];
}).flat();

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'no import cycles under src/ (a cycle between folders is also a floor violation)',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'on-a-floor',
      severity: 'error',
      comment: 'every module of src/ stands on a floor of docs/architecture.md (add a new folder there and in FLOORS)',
      from: { path: '^src/', pathNot: FLOORS.map((f) => f.path) },
      to: {},
    },
    ...floorRules,
    {
      name: 'table-imports-storage-only',
      severity: 'error',
      comment: 'src/table is the Delta protocol alone: it imports src/storage, errors.ts, version.ts, node builtins and hyparquet (decoding checkpoints), nothing else',
      from: { path: '^src/table/' },
      to: { pathNot: ['^src/(table|storage)/', '^src/(errors|version)\\.ts$', 'node_modules/hyparquet/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'storage-imports-little',
      severity: 'error',
      comment: 'src/storage imports errors.ts, env.ts, node builtins and the AWS SDK only',
      from: { path: '^src/storage/' },
      to: { pathNot: ['^src/storage/', '^src/(errors|env)\\.ts$', '^node_modules/@aws-sdk/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'duckdb-driver-in-its-folder',
      severity: 'error',
      comment: '@duckdb/node-api is imported only under src/engine/duckdb/',
      from: { path: '^src/', pathNot: ['^src/engine/duckdb/', ...DUCKDB_DRIVER_USERS_BEING_REMOVED] },
      to: { path: DUCKDB_DRIVER },
    },
    {
      name: 'spark-drivers-in-their-folder',
      severity: 'error',
      comment: "the Spark Connect client's gRPC, protobuf and Arrow packages are imported only under src/engine/spark/",
      from: { path: '^src/', pathNot: '^src/engine/spark/' },
      to: { path: SPARK_DRIVERS },
    },
    {
      name: 'engine-folders-behind-the-registry',
      severity: 'error',
      comment: "only src/engine/registry.ts imports an engine's folder (src/engine/duckdb/, src/engine/spark/) from outside it",
      from: { path: '^src/', pathNot: ['^src/engine/(registry\\.ts$|duckdb/|spark/)', ...ENGINE_FOLDER_USERS_BEING_REMOVED] },
      to: { path: '^src/engine/(duckdb|spark)/' },
    },
    {
      name: 'engine-folders-apart',
      severity: 'error',
      comment: "an engine's folder does not import another engine's",
      from: { path: '^src/engine/(duckdb|spark)/' },
      to: { path: '^src/engine/(duckdb|spark)/', pathNot: '^src/engine/$1/' },
    },
    {
      name: 'resolvable',
      severity: 'error',
      comment: 'every import resolves (an import the cruiser cannot follow escapes every rule)',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // type-only imports count: a type from a floor above is a dependency on it
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.d.ts', '.json'],
    },
  },
};
