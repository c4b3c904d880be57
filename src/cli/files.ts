import type { Command } from 'commander';
import { Option } from 'commander';
import type { Io } from './io.js';

/**
 * `ingot files retry <dataset> <path>`: admits a file a run rejected (it could not be read)
 * again, so the next run of the dataset reads it (`retryRejectedFile`).
 */
export function addFilesCommand(program: Command, io: Io): void {
  const files = program.command('files').description('the files a dataset\'s files source loaded or rejected');
  files
    .command('retry <dataset> <path>')
    .description('admit a rejected file again: the next run reads it (path as `ingot runs` shows it)')
    .addOption(new Option('-p, --project <dir>', 'project folder (with ingot.config.ts)').default('.'))
    .action(async (dataset: string, file: string, opts: { project: string }) => {
      const [{ loadProject }, { Lake }, { retryRejectedFile }, { openLocalEngine, localSettings }] = await Promise.all([
        import('../project.js'), import('../table/lake.js'), import('../sources/files.js'), import('../engine/registry.js')]);
      const project = await loadProject(opts.project);
      const { IngotError } = await import('../errors.js');
      if (!project.datasets.some((d) => d.name === dataset)) {
        throw new IngotError('DATASET_UNKNOWN', `no dataset ${dataset} in the project (datasets: ${project.datasets.map((d) => d.name).join(', ')})`, { dataset });
      }
      const engine = await openLocalEngine(localSettings(project.config, project.dir));
      try {
        const { version, error } = await retryRejectedFile(new Lake(project.lake, engine).table(dataset), dataset, file);
        io.out(`${dataset}: ${file} admitted again (it was rejected: ${error}); committed version ${version}: the next run reads it`);
      } finally {
        await engine.close();
      }
    });
}
