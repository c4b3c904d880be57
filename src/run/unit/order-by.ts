import type { Dialect } from '../../engine/dialect.js';
import { tokenize } from '../../engine/sql-tokens.js';

/**
 * The ORDER BY list of a query's outermost SELECT (outside every parenthesis: not a window's,
 * a subquery's or a CTE's), e.g. `rank` for `... ORDER BY rank LIMIT 5`; undefined when the
 * query's rows have no order. Ordinals (`ORDER BY 1`) become the names of `columns` (the
 * output's columns in order) and `ALL` all of them, so the list can order the output again.
 */
export function topLevelOrderBy(sql: string, dialect: Dialect, columns: string[]): string | undefined {
  const tokens = tokenize(sql, dialect.lex);
  let depth = 0;
  let start = -1;
  let end = tokens.length;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.text === '(') depth++;
    else if (t.kind === 'punct' && t.text === ')') depth--;
    else if (depth === 0 && t.kind === 'ident') {
      const word = t.text.toUpperCase();
      if (word === 'ORDER' && nextWord(tokens, i)?.toUpperCase() === 'BY') {
        start = tokens.findIndex((x, k) => k > i && x.kind === 'ident' && x.text.toUpperCase() === 'BY') + 1;
        end = tokens.length;
      } else if (start >= 0 && ['LIMIT', 'OFFSET', 'FETCH'].includes(word)) {
        end = i;
        break;
      }
    } else if (depth === 0 && start >= 0 && t.kind === 'punct' && t.text === ';') {
      end = i;
      break;
    }
  }
  if (start <= 0) return undefined;
  const items: string[] = [];
  let item = '';
  depth = 0;
  for (const t of tokens.slice(start, end)) {
    if (t.kind === 'punct' && t.text === '(') depth++;
    if (t.kind === 'punct' && t.text === ')') depth--;
    if (depth === 0 && t.kind === 'punct' && t.text === ',') {
      items.push(item.trim());
      item = '';
    } else item += t.kind === 'space' ? ' ' : t.text;
  }
  items.push(item.trim());
  const resolved = items.flatMap((it) => {
    const m = /^(\d+|ALL)(\s+.*)?$/i.exec(it);
    if (!m) return [it];
    const rest = m[2] ?? '';
    if (m[1]!.toUpperCase() === 'ALL') return columns.map((c) => `${dialect.quoteIdent(c)}${rest}`);
    const name = columns[Number(m[1]) - 1];
    return name === undefined ? [it] : [`${dialect.quoteIdent(name)}${rest}`];
  });
  return resolved.filter((x) => x !== '').join(', ') || undefined;
}

function nextWord(tokens: { kind: string; text: string }[], i: number): string | undefined {
  for (let k = i + 1; k < tokens.length; k++) if (tokens[k]!.kind !== 'space') return tokens[k]!.text;
  return undefined;
}
