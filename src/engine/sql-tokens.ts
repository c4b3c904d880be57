/**
 * A lexer for the SQL of DuckDB and Spark, just deep enough to rewrite SQL text without breaking
 * it: every token keeps its exact text, so joining the tokens gives the input back.
 */

/** A token: `string` a string literal, `quoted` a quoted identifier, `ident` a bare word, `space` whitespace or a comment, `punct` one character. */
export interface Token {
  kind: 'space' | 'string' | 'quoted' | 'ident' | 'number' | 'punct';
  text: string;
}

/** The lexical differences of the engines' SQL that rewriting needs (see `tokenize`). */
export interface LexRules {
  /** A backslash escapes the next character inside `'...'` literals. */
  backslashEscapes: boolean;
  /** `E'...'` literals take backslash escapes. */
  escapeStrings: boolean;
  /** `r'...'` / `r"..."` raw literals. */
  rawStrings: boolean;
  /** Dollar-quoted literals `$$...$$`, `$tag$...$tag$`. */
  dollarQuotes: boolean;
  /** `` `...` `` quoted identifiers. */
  backtickIdentifiers: boolean;
}

/**
 * Splits `sql` into tokens as a parser with rules `lex` reads it (an engine's `Dialect.lex`):
 * - `'...'` string literals: `''` inside stays in the literal; with `backslashEscapes` a
 *   backslash escapes the next character (`'it\'s'`), with `escapeStrings` only in `E'...'`
 *   literals; `rawStrings`: `r'...'` without escapes; `dollarQuotes`: `$$...$$`, `$tag$...$tag$`;
 * - quoted identifiers `"..."` (`""` inside) and, with `backtickIdentifiers`, `` `...` ``;
 * - comments `-- ...` to the end of the line and `/* ... *\/`, nested.
 * An unterminated literal, identifier or comment runs to the end (the engine reports it).
 */
export function tokenize(sql: string, lex: LexRules): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = sql.length;
  const push = (kind: Token['kind'], end: number): void => {
    tokens.push({ kind, text: sql.slice(i, end) });
    i = end;
  };
  /** End (exclusive) of a literal opened at `start` with `quote`: a doubled quote stays inside; `backslash`: `\x` too. */
  const closing = (start: number, quote: string, backslash: boolean): number => {
    let j = start + 1;
    while (j < n) {
      const c = sql[j]!;
      if (backslash && c === '\\') j += 2;
      else if (c === quote) {
        if (sql[j + 1] === quote) j += 2;
        else return j + 1;
      } else j++;
    }
    return n;
  };
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < n && /\s/.test(sql[j]!)) j++;
      push('space', j);
    } else if (c === '-' && next === '-') {
      const j = sql.indexOf('\n', i);
      push('space', j < 0 ? n : j);
    } else if (c === '/' && next === '*') {
      let depth = 0;
      let j = i;
      while (j < n) {
        if (sql[j] === '/' && sql[j + 1] === '*') { depth++; j += 2; } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--; j += 2;
          if (depth === 0) break;
        } else j++;
      }
      push('space', Math.min(j, n));
    } else if (c === "'") {
      push('string', closing(i, "'", lex.backslashEscapes));
    } else if ((c === 'E' || c === 'e') && next === "'" && lex.escapeStrings) {
      push('string', closing(i + 1, "'", true));
    } else if ((c === 'R' || c === 'r') && (next === "'" || next === '"') && lex.rawStrings) {
      // a raw literal: no escapes
      push('string', closing(i + 1, next, false));
    } else if (c === '$' && lex.dollarQuotes && /^\$[A-Za-z_]*\$/.test(sql.slice(i, i + 64))) {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i, i + 64))![0];
      const j = sql.indexOf(tag, i + tag.length);
      push('string', j < 0 ? n : j + tag.length);
    } else if (c === '"') {
      push('quoted', closing(i, '"', false));
    } else if (c === '`' && lex.backtickIdentifiers) {
      push('quoted', closing(i, '`', false));
    } else if (/[\p{L}_]/u.test(c)) {
      let j = i + 1;
      while (j < n && /[\p{L}\p{N}_$]/u.test(sql[j]!)) j++;
      push('ident', j);
    } else if (/[0-9]/.test(c) || (c === '.' && next !== undefined && /[0-9]/.test(next))) {
      let j = i + 1;
      while (j < n && /[0-9A-Za-z_.]/.test(sql[j]!)) {
        // an exponent's sign: 1e-5
        if (/[eE]/.test(sql[j]!) && /[+-]/.test(sql[j + 1] ?? '')) j++;
        j++;
      }
      push('number', j);
    } else {
      push('punct', i + 1);
    }
  }
  return tokens;
}

/**
 * The value of string literal `text` as portable SQL reads it: the characters between the
 * quotes, `''` standing for one quote; backslashes are kept as written (so a regular expression
 * reads the same on both engines). Dollar-quoted and `E'...'`/`r'...'` literals: their content as is.
 */
export function stringValue(text: string): string {
  const dollar = /^(\$[A-Za-z_]*\$)([\s\S]*)\1$/.exec(text);
  if (dollar) return dollar[2]!;
  const body = text.replace(/^[EeRr]/, '');
  return body.slice(1, body.endsWith(body[0]!) && body.length > 1 ? -1 : undefined).replace(/''/g, "'");
}
