import type { StructType } from '../table/schema.js';

/**
 * The key columns of a MERGE condition: when `on` is a conjunction of `target.<column> =
 * source.<column>` terms (in either order, `AND` between them, identifiers bare or double-quoted),
 * the columns each term names, resolved in the target's and the source's schema (a bare name
 * case-insensitively, a quoted one exactly). Used to prune the target files a merge reads (by
 * min/max stats in `merge.ts`, by the key index in `key-index.ts`).
 */
export interface KeyTerm {
  /** The target column's name as the target schema spells it; undefined when it has no such column. */
  target?: string;
  /** The source column's name as the source schema spells it; undefined when it has no such column. */
  source?: string;
}

const IDENT = String.raw`[A-Za-z_][A-Za-z0-9_]*|"(?:[^"]|"")+"`;
const EQUALITY = new RegExp(String.raw`^\s*(target|source)\.(${IDENT})\s*=\s*(target|source)\.(${IDENT})\s*$`, 'i');

/**
 * The terms of `on` (see `KeyTerm`), in order; undefined when `on` is not such a conjunction (a
 * term of another form, or comparing a side with itself).
 */
export function keyTerms(on: string, target: StructType, source: StructType): KeyTerm[] | undefined {
  const terms: KeyTerm[] = [];
  for (const term of on.split(/\s+AND\s+/i)) {
    const m = EQUALITY.exec(term);
    if (!m || m[1]!.toLowerCase() === m[3]!.toLowerCase()) return undefined;
    const [t, s] = m[1]!.toLowerCase() === 'target' ? [m[2]!, m[4]!] : [m[4]!, m[2]!];
    const targetName = resolve(t, target);
    const sourceName = resolve(s, source);
    terms.push({ ...(targetName !== undefined ? { target: targetName } : {}), ...(sourceName !== undefined ? { source: sourceName } : {}) });
  }
  return terms;
}

/** The field of `within` that identifier `ident` (bare or double-quoted) names. */
function resolve(ident: string, within: StructType): string | undefined {
  const exact = ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : undefined;
  return within.fields.find((f) => (exact !== undefined ? f.name === exact : f.name.toLowerCase() === ident.toLowerCase()))?.name;
}
