import type { ColumnRef, OutputColumnLineage } from '../engine.js';

/**
 * Column-level lineage of one SELECT from DuckDB's own parse tree (`json_serialize_sql`): for
 * each output column, the columns of schema-qualified tables (`layer.table`) its value is
 * computed from, through expressions, aggregates, window functions, CASE, casts, scalar
 * subqueries, CTEs, subqueries in FROM, joins (ON and USING), set operations (UNION...: a
 * column derives from the matching column of every branch) and `SELECT *` (with EXCLUDE). A
 * column derives from every column its expression reads, including a window's PARTITION BY and
 * ORDER BY; WHERE, GROUP BY and join conditions filter or group rows and are not counted.
 *
 * What cannot be followed is said in `unresolved`, never guessed: a star over a table whose
 * columns are unknown (`columnsOf` gave undefined), a name found in none or in several of the
 * FROM clause's relations, a table function, a recursive CTE, `COLUMNS(...)`, a star with
 * REPLACE or RENAME.
 */

type Node = Record<string, unknown>;

/** One column of a relation in scope: its name and where its value comes from. */
interface Col {
  name: string;
  from: ColumnRef[];
  unresolved: string[];
}

/**
 * A relation in a FROM clause: its columns, or, for a table whose columns are unknown, the
 * table (its columns resolve by name) or nothing (a table function: nothing resolves).
 */
interface Relation {
  alias: string;
  columns?: Col[];
  table?: string;
  what: string;
  /** Names a USING join merged: an unqualified reference reads both sides. */
  using?: Set<string>;
}

type Ctes = Map<string, Col[] | 'recursive'>;

/** Reads the table columns known outside the query (`layer.table` → names, or undefined when unknown). */
export type ColumnsOf = (table: string) => string[] | undefined;

/** The lineage of each output column of the statement tree `tree` (`json_serialize_sql`'s output, `error` false). */
export function lineageOfTree(tree: { statements?: { node: Node }[] }, columnsOf: ColumnsOf): OutputColumnLineage[] {
  const node = tree.statements?.[0]?.node;
  if (!node) return [];
  return queryNode(node, new Map(), [], columnsOf).map((c) => ({ name: c.name, from: dedupe(c.from), unresolved: [...new Set(c.unresolved)] }));
}

function dedupe(refs: ColumnRef[]): ColumnRef[] {
  const seen = new Map(refs.map((r) => [`${r.table}.${r.column}`, r]));
  return [...seen.keys()].sort().map((k) => seen.get(k)!);
}

function ctesOf(node: Node, outer: Ctes, scopes: Relation[][], columnsOf: ColumnsOf): Ctes {
  const map = ((node['cte_map'] as Node | undefined)?.['map'] as { key: string; value: Node }[] | undefined) ?? [];
  if (map.length === 0) return outer;
  const ctes: Ctes = new Map(outer);
  for (const { key, value } of map) {
    ctes.set(key, 'recursive');
    const body = (value['query'] as Node)['node'] as Node;
    let cols = queryNode(body, ctes, scopes, columnsOf);
    cols = renamed(cols, value['aliases'] as string[] | undefined);
    ctes.set(key, cols);
  }
  return ctes;
}

function renamed(cols: Col[], aliases: string[] | undefined): Col[] {
  if (!aliases?.length) return cols;
  return cols.map((c, i) => (i < aliases.length ? { ...c, name: aliases[i]! } : c));
}

/** The output columns of a query node (SELECT_NODE, SET_OPERATION_NODE, CTE_NODE...). */
function queryNode(node: Node, outerCtes: Ctes, outerScopes: Relation[][], columnsOf: ColumnsOf): Col[] {
  const ctes = ctesOf(node, outerCtes, outerScopes, columnsOf);
  if (node['type'] === 'SET_OPERATION_NODE') {
    const branches = node['children'] !== undefined
      ? (node['children'] as Node[]).map((c) => queryNode(c, ctes, outerScopes, columnsOf))
      : [queryNode(node['left'] as Node, ctes, outerScopes, columnsOf), queryNode(node['right'] as Node, ctes, outerScopes, columnsOf)];
    const first = branches[0] ?? [];
    return first.map((c, i) => ({
      name: c.name,
      from: branches.flatMap((b) => b[i]?.from ?? []),
      unresolved: branches.flatMap((b) => b[i]?.unresolved ?? [`a branch of ${String(node['setop_type']).toLowerCase()} has no column ${i + 1}`]),
    }));
  }
  if (node['type'] !== 'SELECT_NODE') {
    return [{ name: '*', from: [], unresolved: [`a ${String(node['type'])} query is not followed`] }];
  }
  const scope: Relation[] = [];
  fromRelations(node['from_table'] as Node | null, ctes, outerScopes, columnsOf, scope);
  const scopes = [scope, ...outerScopes];
  const out: Col[] = [];
  (node['select_list'] as Node[]).forEach((e, i) => {
    if (e['class'] === 'STAR') {
      out.push(...star(e, scope));
      return;
    }
    const acc: Col = { name: outputName(e, i), from: [], unresolved: [] };
    expression(e, scopes, ctes, columnsOf, out, acc);
    out.push(acc);
  });
  return out;
}

function outputName(e: Node, i: number): string {
  if (typeof e['alias'] === 'string' && e['alias'] !== '') return e['alias'];
  if (e['class'] === 'COLUMN_REF') {
    const names = e['column_names'] as string[];
    return names[names.length - 1]!;
  }
  return `#${i + 1}`;
}

function star(e: Node, scope: Relation[]): Col[] {
  const rel = e['relation_name'] as string;
  const text = `${rel ? `${rel}.` : ''}*`;
  if (e['columns'] === true || e['expr']) return [{ name: text, from: [], unresolved: [`COLUMNS(...) is not followed`] }];
  if (((e['replace_list'] as unknown[]) ?? []).length > 0 || ((e['rename_list'] as unknown[]) ?? []).length > 0) {
    return [{ name: text, from: [], unresolved: [`${text} with REPLACE or RENAME is not followed`] }];
  }
  const exclude = new Set(((e['exclude_list'] as unknown[]) ?? []).map(String).concat(((e['qualified_exclude_list'] as { column_names?: string[] }[]) ?? []).map((q) => q.column_names?.at(-1) ?? '')));
  const relations = rel ? scope.filter((r) => r.alias === rel) : scope;
  if (relations.length === 0) return [{ name: text, from: [], unresolved: [`${text}: no relation ${rel} in the FROM clause`] }];
  const out: Col[] = [];
  const seenUsing = new Set<string>();
  for (const r of relations) {
    if (!r.columns) {
      out.push({ name: text, from: [], unresolved: [`${text} over ${r.what}, whose columns are unknown`] });
      continue;
    }
    for (const c of r.columns) {
      if (exclude.has(c.name)) continue;
      // a USING column appears once in SELECT *
      if (!rel && r.using?.has(c.name)) {
        if (seenUsing.has(c.name)) continue;
        seenUsing.add(c.name);
      }
      out.push(c);
    }
  }
  return out;
}

/** Adds the relations of a FROM clause to `scope`. */
function fromRelations(t: Node | null, ctes: Ctes, outer: Relation[][], columnsOf: ColumnsOf, scope: Relation[]): void {
  if (!t || t['type'] === 'EMPTY') return;
  const alias = typeof t['alias'] === 'string' ? t['alias'] : '';
  const aliases = t['column_name_alias'] as string[] | undefined;
  switch (t['type']) {
    case 'BASE_TABLE': {
      const schema = t['schema_name'] as string;
      const name = t['table_name'] as string;
      const cte = schema === '' ? ctes.get(name) : undefined;
      if (cte === 'recursive') {
        scope.push({ alias: alias || name, what: `the recursive CTE ${name}` });
        return;
      }
      if (cte) {
        scope.push({ alias: alias || name, columns: renamed(cte, aliases), what: `the CTE ${name}` });
        return;
      }
      const table = schema === '' ? name : `${schema}.${name}`;
      const known = columnsOf(table);
      scope.push({
        alias: alias || name, table, what: table,
        ...(known ? { columns: renamed(known.map((c) => ({ name: c, from: [{ table, column: c }], unresolved: [] })), aliases) } : {}),
      });
      return;
    }
    case 'SUBQUERY': {
      const cols = queryNode((t['subquery'] as Node)['node'] as Node, ctes, outer, columnsOf);
      scope.push({ alias, columns: renamed(cols, aliases), what: `the subquery ${alias || '(unnamed)'}` });
      return;
    }
    case 'JOIN': {
      const left: Relation[] = [];
      const right: Relation[] = [];
      fromRelations(t['left'] as Node, ctes, outer, columnsOf, left);
      fromRelations(t['right'] as Node, ctes, outer, columnsOf, right);
      const using = (t['using_columns'] as string[] | undefined) ?? [];
      if (using.length > 0 || t['ref_type'] === 'NATURAL') {
        const names = new Set(using);
        for (const r of [...left, ...right]) r.using = new Set([...(r.using ?? []), ...names]);
      }
      scope.push(...left, ...right);
      return;
    }
    default:
      scope.push({ alias, what: `the ${String(t['type']).toLowerCase().replace(/_/g, ' ')} ${alias}`.trim() });
  }
}

/** Adds to `acc` the columns expression `e` reads (`earlier`: the select list so far, for lateral aliases). */
function expression(e: unknown, scopes: Relation[][], ctes: Ctes, columnsOf: ColumnsOf, earlier: Col[], acc: Col): void {
  if (Array.isArray(e)) {
    for (const x of e) expression(x, scopes, ctes, columnsOf, earlier, acc);
    return;
  }
  if (e === null || typeof e !== 'object') return;
  const o = e as Node;
  if (o['class'] === 'COLUMN_REF') {
    const r = resolve(o['column_names'] as string[], scopes, earlier);
    acc.from.push(...r.from);
    acc.unresolved.push(...r.unresolved);
    return;
  }
  if (o['class'] === 'SUBQUERY') {
    // a scalar subquery (or EXISTS / IN): its select list's lineage, its own scope inside ours
    for (const c of queryNode((o['subquery'] as Node)['node'] as Node, ctes, scopes, columnsOf)) {
      acc.from.push(...c.from);
      acc.unresolved.push(...c.unresolved);
    }
    if (o['child']) expression(o['child'], scopes, ctes, columnsOf, earlier, acc);
    return;
  }
  if (o['class'] === 'STAR') {
    // count(*) and the like: a row count, no column
    return;
  }
  for (const v of Object.values(o)) if (v !== null && typeof v === 'object') expression(v, scopes, ctes, columnsOf, earlier, acc);
}

/** The lineage of a column reference (`a`, `t.a`, `layer.table.a`) in the scopes, innermost first. */
function resolve(names: string[], scopes: Relation[][], earlier: Col[]): { from: ColumnRef[]; unresolved: string[] } {
  const column = names[names.length - 1]!;
  const text = names.join('.');
  if (names.length >= 2) {
    const qualifier = names.slice(0, -1).join('.');
    for (const scope of scopes) {
      const r = scope.find((x) => x.alias === qualifier || x.table === qualifier);
      if (!r) continue;
      return ofRelation(r, column, text);
    }
    // DuckDB also reads `a.b` as field b of struct column a
    return { from: [], unresolved: [`${text}: no relation ${qualifier} in the FROM clause (a struct field is not followed)`] };
  }
  for (const scope of scopes) {
    const known = scope.filter((r) => r.columns?.some((c) => c.name === column));
    if (known.length === 1 || (known.length > 1 && known.every((r) => r.using?.has(column)))) {
      const parts = known.map((r) => ofRelation(r, column, text));
      return { from: parts.flatMap((p) => p.from), unresolved: parts.flatMap((p) => p.unresolved) };
    }
    if (known.length > 1) return { from: [], unresolved: [`${text} is ambiguous: it is a column of ${known.map((r) => r.what).join(' and ')}`] };
    const unknown = scope.filter((r) => !r.columns);
    const alias = earlier.find((c) => c.name === column);
    if (unknown.length === 0 && alias) return { from: alias.from, unresolved: alias.unresolved };
    if (unknown.length === 1 && scope.length === 1) return ofRelation(unknown[0]!, column, text);
    if (unknown.length > 0) return { from: [], unresolved: [`${text}: not a known column of the FROM clause, and ${unknown.map((r) => r.what).join(', ')} ${unknown.length > 1 ? 'have' : 'has'} unknown columns`] };
  }
  const alias = earlier.find((c) => c.name === column);
  if (alias) return { from: alias.from, unresolved: alias.unresolved };
  return { from: [], unresolved: [`${text}: no relation of the FROM clause has this column`] };
}

function ofRelation(r: Relation, column: string, text: string): { from: ColumnRef[]; unresolved: string[] } {
  if (r.columns) {
    const c = r.columns.find((x) => x.name === column);
    if (!c) return { from: [], unresolved: [`${text}: ${r.what} has no column ${column}`] };
    return { from: c.from, unresolved: c.unresolved };
  }
  if (r.table) return { from: [{ table: r.table, column }], unresolved: [] };
  return { from: [], unresolved: [`${text}: a column of ${r.what}, which is not followed`] };
}
