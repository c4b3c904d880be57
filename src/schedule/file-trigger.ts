import { watch, type FSWatcher } from 'node:fs';
import { messageOf } from '../errors.js';
import { listingSignature, watchedFolder } from '../sources/files.js';
import type { LogFn } from './task-log.js';

/**
 * A file-arrival trigger (`trigger: { files }` on a pipeline): calls `run` as soon as files
 * matching the glob land, one call at a time. A local folder is watched for file-system events
 * (recursive `fs.watch`) and listed every `pollMs` as a fallback (events can be lost, and some
 * file systems have none); an `s3://` prefix is listed every `pollMs` (ListObjectsV2). A listing
 * that differs from the last one seen wakes the trigger; so does an event. While a run is going,
 * wake-ups are remembered: the next run starts when it ends and takes the files that arrived
 * meanwhile. `run` returns whether it did something (loaded files): then it is called again at
 * once, as a batch bounded by `maxFiles` / `maxBytes` may have left files for the next; else the
 * trigger sleeps until the next change. The first call happens at start (files that landed
 * while the server was down).
 */
export class FileTrigger {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pending = false;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private signature: string | undefined;

  /**
   * `pattern`: the glob (relative to `projectDir`, or `s3://...`); `pollMs`: listing period in
   * milliseconds; `run`: one run over the new files, resolving to whether it loaded anything.
   */
  constructor(
    private readonly name: string,
    private readonly pattern: string,
    private readonly projectDir: string,
    private readonly pollMs: number,
    private readonly run: () => Promise<boolean>,
    private readonly log: LogFn,
  ) {}

  /** Starts watching (and runs once for files already waiting). */
  start(): void {
    const folder = watchedFolder(this.pattern, this.projectDir);
    if (folder !== undefined) {
      try {
        this.watcher = watch(folder, { recursive: true }, () => this.wake());
        this.watcher.on('error', (err) => this.log('warn', 'trigger-watch-failed', { pipeline: this.name, error: messageOf(err), fallback: `listing every ${this.pollMs} ms` }));
      } catch (err) {
        // the folder does not exist yet, or the platform has no recursive watch: the listing finds the files
        this.log('info', 'trigger-polling', { pipeline: this.name, folder, reason: messageOf(err), pollMs: this.pollMs });
      }
    }
    const poll = (): void => {
      if (this.stopped) return;
      this.poll().finally(() => { if (!this.stopped) this.timer = setTimeout(poll, this.pollMs); });
    };
    this.timer = setTimeout(poll, this.pollMs);
    this.wake();
  }

  /** Lists the files; wakes the trigger when the listing changed since the last one. */
  private async poll(): Promise<void> {
    try {
      const signature = await listingSignature(this.pattern, this.projectDir);
      if (signature !== this.signature) {
        this.signature = signature;
        this.wake();
      }
    } catch (err) {
      this.log('warn', 'trigger-listing-failed', { pipeline: this.name, files: this.pattern, error: messageOf(err) });
    }
  }

  /** Something may have landed: run now, or after the run in progress. */
  wake(): void {
    this.pending = true;
    if (this.loop || this.stopped) return;
    this.loop = (async () => {
      while (this.pending && !this.stopped) {
        this.pending = false;
        try {
          if (await this.run()) this.pending = true;
        } catch (err) {
          this.log('error', 'trigger-run-crashed', { pipeline: this.name, error: messageOf(err) });
        }
      }
    })().finally(() => {
      this.loop = undefined;
      // woken between the last check and here
      if (this.pending && !this.stopped) this.wake();
    });
  }

  /** Whether a run is going or due. */
  get busy(): boolean {
    return this.loop !== undefined || this.pending;
  }

  /** Stops watching and waits for the run in progress, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.watcher?.close();
    await this.loop;
  }
}
