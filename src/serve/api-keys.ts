import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { IngotError } from '../errors.js';
import type { MetadataStore } from '../metadata/store.js';
import { scramVerifier, type ScramVerifier } from './postgres/scram.js';

/** What a key may do; each scope includes the ones before it: read < write < admin. */
export type Scope = 'read' | 'write' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'write', 'admin'];

/** An API key as listed (never its secret). Times are epoch ms. */
export interface ApiKeyInfo {
  id: string;
  name: string | null;
  scope: Scope;
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** Whether `granted` covers `needed` (read < write < admin). */
export function allows(granted: Scope, needed: Scope): boolean {
  return SCOPES.indexOf(granted) >= SCOPES.indexOf(needed);
}

/** SHA-256 of a key, hex: what the store keeps. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * Creates a key of `scope` in the metadata store (`ingot_api_keys`) and returns it with its
 * id: `ingot_<id>_<43 random base64url characters>` (256 random bits). Only its SHA-256 hash is
 * stored, so the key is shown once. Errors: CONFIG_INVALID for an unknown scope.
 */
export async function createApiKey(store: MetadataStore, scope: string, name?: string, now = Date.now()): Promise<{ id: string; key: string }> {
  if (!SCOPES.includes(scope as Scope)) throw new IngotError('CONFIG_INVALID', `scope ${JSON.stringify(scope)}: expected read, write or admin`);
  const id = randomBytes(6).toString('hex');
  const key = `ingot_${id}_${randomBytes(32).toString('base64url')}`;
  await store.db.run('INSERT INTO ingot_api_keys (id, name, scope, hash, created_at) VALUES (?, ?, ?, ?, ?)', [id, name ?? null, scope, hashKey(key), now]);
  // the PostgreSQL protocol's SCRAM-SHA-256 needs a verifier of the key, not its plain hash
  const v = scramVerifier(key);
  await store.db.run('INSERT INTO ingot_api_key_scram (id, stored_key, server_key) VALUES (?, ?, ?)', [id, v.storedKey.toString('base64'), v.serverKey.toString('base64')]);
  return { id, key };
}

/** Every key, newest first, revoked ones included. */
export async function listApiKeys(store: MetadataStore): Promise<ApiKeyInfo[]> {
  const rows = await store.db.all<Record<string, unknown>>('SELECT id, name, scope, created_at, revoked_at, last_used_at FROM ingot_api_keys ORDER BY created_at DESC, id');
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  return rows.map((r) => ({
    id: String(r['id']), name: (r['name'] as string | null) ?? null, scope: r['scope'] as Scope,
    createdAt: Number(r['created_at']), revokedAt: num(r['revoked_at']), lastUsedAt: num(r['last_used_at']),
  }));
}

/** Revokes key `id` (it stops working at once on this process, within `KEY_CACHE_MS` on others). Errors: CONFIG_INVALID for an unknown or already revoked id. */
export async function revokeApiKey(store: MetadataStore, id: string, now = Date.now()): Promise<void> {
  const changed = await store.db.run('UPDATE ingot_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, id]);
  if (changed !== 1) throw new IngotError('CONFIG_INVALID', `no active API key with id ${JSON.stringify(id)} (see \`ingot keys list\`)`);
}

/**
 * The SCRAM-SHA-256 verifiers of every active key (see `serve/postgres/scram.ts`), with the key's
 * id and scope. Keys created before verifiers were stored have none: they authenticate over the
 * PostgreSQL protocol only with a cleartext password over TLS.
 */
export async function scramVerifiers(store: MetadataStore): Promise<(ScramVerifier & { id: string; scope: Scope })[]> {
  const rows = await store.db.all<{ id: string; scope: Scope; stored_key: string; server_key: string }>(
    'SELECT k.id, k.scope, s.stored_key, s.server_key FROM ingot_api_keys k JOIN ingot_api_key_scram s ON s.id = k.id WHERE k.revoked_at IS NULL');
  return rows.map((r) => ({ id: r.id, scope: r.scope, storedKey: Buffer.from(r.stored_key, 'base64'), serverKey: Buffer.from(r.server_key, 'base64') }));
}

/** How long a verified key is trusted without asking the store again, ms. */
export const KEY_CACHE_MS = 1000;

/**
 * Verifies presented keys against the store: the key's SHA-256 is looked up, then compared in
 * constant time. Results are cached for `KEY_CACHE_MS` (by hash), so a busy server asks the
 * store about a key at most once a second.
 */
export class KeyVerifier {
  private readonly cache = new Map<string, { at: number; key?: { id: string; scope: Scope } }>();

  constructor(private readonly store: MetadataStore) {}

  /** The key's id and scope, or undefined for an unknown or revoked key. */
  async verify(key: string, now = Date.now()): Promise<{ id: string; scope: Scope } | undefined> {
    if (key.length === 0 || key.length > 200) return undefined;
    const hash = hashKey(key);
    const hit = this.cache.get(hash);
    if (hit && now - hit.at < KEY_CACHE_MS) return hit.key;
    const [row] = await this.store.db.all<{ id: string; scope: Scope; hash: string }>('SELECT id, scope, hash FROM ingot_api_keys WHERE hash = ? AND revoked_at IS NULL', [hash]);
    const found = row && timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(hash, 'hex')) ? { id: row.id, scope: row.scope } : undefined;
    if (found && (!hit || now - hit.at > 60_000)) await this.store.db.run('UPDATE ingot_api_keys SET last_used_at = ? WHERE id = ?', [now, found.id]);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { at: now, ...(found ? { key: found } : {}) });
    return found;
  }

  /** Forgets cached verifications (after a revocation). */
  forget(): void {
    this.cache.clear();
  }
}
