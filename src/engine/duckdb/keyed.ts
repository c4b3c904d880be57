/**
 * The keyed form of a lookup statement, on DuckDB's statement trees (`json_serialize_sql`): a
 * SELECT that reads one table, filters it by `column = $param` conjuncts and orders it, rewritten
 * to return the answers for every parameter value at once, each row tagged with its key. Serve
 * runs it once per table version to answer the statement's cache misses from memory (see
 * `LakeReader.keyed`).
 */

/** Alias prefix of the key columns the keyed form adds to the select list (`__ingot_key_<param>`). */
export const KEY_PREFIX = '__ingot_key_';

type Node = Record<string, unknown>;

/** Calls `visit` on every object of a statement tree. */
function each(node: unknown, visit: (o: Node) => void): void {
  if (Array.isArray(node)) {
    for (const n of node) each(n, visit);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  visit(node as Node);
  for (const v of Object.values(node as Node)) each(v, visit);
}

const isEmpty = (v: unknown): boolean => v === null || v === undefined || (Array.isArray(v) && v.length === 0);

/**
 * Rewrites `statements` (one serialized SELECT, changed in place) into its keyed form for
 * `params`: each `column = $param` conjunct of the WHERE clause (either side, no cast, at the top
 * level of an AND) becomes `column = column` (true for every row whose column is not NULL: the
 * rows some value of the parameter selects), and `column AS __ingot_key_<param>` is added to the
 * select list. The rows of one key, in the keyed form's order, are then exactly the statement's
 * answer for that value (filtering keeps the ORDER BY order). Returns the column each parameter
 * is compared with, or undefined (tree unchanged or not to be used) when the statement is not
 * such a lookup: anything but one SELECT of one base table; GROUP BY, HAVING, QUALIFY, DISTINCT,
 * LIMIT/OFFSET, SAMPLE, CTEs, subqueries, window functions or a function in `aggregates`; a
 * parameter used anywhere else or not at all; a parameter not in `params`.
 */
export function keyedStatement(statements: unknown, params: string[], aggregates: ReadonlySet<string>): Record<string, string> | undefined {
  if (!Array.isArray(statements) || statements.length !== 1) return undefined;
  const node = (statements[0] as Node)['node'] as Node | undefined;
  if (!node || node['type'] !== 'SELECT_NODE') return undefined;
  const from = node['from_table'] as Node | undefined;
  if (!from || from['type'] !== 'BASE_TABLE' || !isEmpty(from['sample']) || !isEmpty(from['at_clause'])) return undefined;
  if (!isEmpty(node['group_expressions']) || !isEmpty(node['group_sets']) || !isEmpty(node['having']) || !isEmpty(node['qualify']) || !isEmpty(node['sample'])) return undefined;
  if (!isEmpty((node['cte_map'] as Node | undefined)?.['map'])) return undefined;
  if (!(node['modifiers'] as Node[] | undefined ?? []).every((m) => m['type'] === 'ORDER_MODIFIER')) return undefined;
  let refused = false;
  each([node['select_list'], node['modifiers'], node['where_clause']], (o) => {
    if (o['class'] === 'SUBQUERY' || o['class'] === 'WINDOW') refused = true;
    if (o['class'] === 'FUNCTION' && typeof o['function_name'] === 'string' && aggregates.has(o['function_name'].toLowerCase())) refused = true;
  });
  if (refused) return undefined;

  const where = node['where_clause'] as Node | undefined;
  if (!where) return undefined;
  const conjuncts = where['type'] === 'CONJUNCTION_AND' ? (where['children'] as Node[]) : [where];
  const columns: Record<string, string> = {};
  const refs: Record<string, Node> = {};
  for (const c of conjuncts) {
    if (c['type'] !== 'COMPARE_EQUAL') continue;
    const [l, r] = [c['left'] as Node, c['right'] as Node];
    const [col, param, side] = l?.['class'] === 'COLUMN_REF' && r?.['class'] === 'PARAMETER' ? [l, r, 'right'] : r?.['class'] === 'COLUMN_REF' && l?.['class'] === 'PARAMETER' ? [r, l, 'left'] : [];
    if (!col || !param || !side) continue;
    const name = String(param['identifier']);
    const names = col['column_names'] as string[];
    const column = names[names.length - 1]!;
    if (!params.includes(name) || (columns[name] !== undefined && columns[name] !== column)) return undefined;
    columns[name] = column;
    refs[name] = col;
    c[side] = structuredClone(col);
  }
  // every parameter must be one of those lookups, and appear nowhere else
  let stray = false;
  each(node, (o) => { if (o['class'] === 'PARAMETER') stray = true; });
  if (stray || params.some((p) => columns[p] === undefined)) return undefined;
  const list = node['select_list'] as Node[];
  for (const p of params) list.push({ ...structuredClone(refs[p]!), alias: `${KEY_PREFIX}${p}` });
  (statements[0] as Node)['named_param_map'] = [];
  return columns;
}
