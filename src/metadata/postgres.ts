import pg from 'pg';
import { redactUrl } from './redact.js';
import type { SqlDb } from './sql-db.js';

/**
 * A metadata store database in PostgreSQL, shared by every ingot process configured with the same
 * URL. `?` placeholders become `$1`, `$2`... A small pool (2 connections) per process.
 */
export class PostgresDb implements SqlDb {
  readonly location: string;
  private readonly pool: pg.Pool;
  private readonly texts = new Map<string, string>();

  constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 2 });
    // an idle client losing its connection must not crash the process
    this.pool.on('error', () => {});
    this.location = redactUrl(url);
  }

  private text(sql: string): string {
    let t = this.texts.get(sql);
    if (!t) {
      let i = 0;
      t = sql.replace(/\?/g, () => `$${++i}`);
      this.texts.set(sql, t);
    }
    return t;
  }

  async run(sql: string, params: unknown[] = []): Promise<number> {
    const r = await this.pool.query(this.text(sql), params);
    return r.command === 'SELECT' ? r.rows.length : (r.rowCount ?? 0);
  }

  async all<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query(this.text(sql), params)).rows as T[];
  }

  /** Runs several statements separated by `;` (schema creation), under an advisory lock so concurrent first starts do not race. */
  async exec(sql: string): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock(472011)');
      try {
        await client.query(sql);
      } finally {
        await client.query('SELECT pg_advisory_unlock(472011)');
      }
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
