import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type Database from 'better-sqlite3';
import type { SqlDb } from './sql-db.js';

/**
 * A metadata store database in one SQLite file (created with its folder if absent). WAL mode, so
 * readers never block the writer; several processes on one machine may share the file (writes
 * wait up to 10 s for the lock).
 */
export class SqliteDb implements SqlDb {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(readonly location: string) {
    mkdirSync(path.dirname(location), { recursive: true });
    // loaded on first use: importing `ingot` (every project file does) loads no native library
    const open = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
    this.db = new open(location, { timeout: 10_000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
  }

  private prepare(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  async run(sql: string, params: unknown[] = []): Promise<number> {
    const s = this.prepare(sql);
    return s.reader ? s.all(...params).length : s.run(...params).changes;
  }

  async all<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.prepare(sql).all(...params) as T[];
  }

  /** Runs several statements separated by `;` (schema creation). */
  exec(sql: string): void {
    this.db.exec(sql);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
