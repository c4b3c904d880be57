import type { Project } from '../pipeline/project.js';
import { Runner } from '../run/runner.js';
import type { MetadataStore } from '../metadata/store.js';

/**
 * Runners for concurrent runs: a runner (its own engines) runs one run at a time, so N runs at
 * once need N runners. Opened on demand, reused, closed together. All record into one store.
 */
export class RunnerPool {
  private readonly idle: Runner[] = [];
  private readonly all: Runner[] = [];

  constructor(private readonly project: Project, private readonly store: MetadataStore) {}

  /** An idle runner, or a new one. */
  async acquire(): Promise<Runner> {
    const r = this.idle.pop();
    if (r) return r;
    const opened = await Runner.open(this.project, { metadata: this.store });
    this.all.push(opened);
    return opened;
  }

  /** Returns a runner after its run. */
  release(runner: Runner): void {
    this.idle.push(runner);
  }

  /** Interrupts the query each runner's engine is running (shutdown). */
  async interruptAll(): Promise<void> {
    for (const r of this.all) {
      r.interrupt();
    }
  }

  /** Closes every runner (not the store). */
  async close(): Promise<void> {
    await Promise.all(this.all.splice(0).map((r) => r.close()));
    this.idle.length = 0;
  }
}
