import { IngotError } from '../errors.js';
import type { Dialect } from './dialect.js';
import { FORMAT_SPECIFIERS, PORTABLE_FUNCTIONS, type FormatPart, type PortableCall, type PortableFunction, type PortableName } from './portable-functions.js';
import { stringValue, tokenize, type Token } from './sql-tokens.js';


/**
 * Rewrites every `ingot.<name>(args)` call in `sql` (nested calls too) into `dialect`'s SQL.
 * String literals, quoted identifiers and comments are left alone: only a bare `ingot`, a dot,
 * a bare name and `(` start a call; each string literal goes through `dialect.stringToken` (on
 * Spark, a doubled quote `'it''s'` becomes `\'`), so it means what it does in standard SQL. Errors (DATASET_INVALID, naming
 * `dataset`, the function and the argument): an unknown function, a wrong argument count, a unit or format that is not a
 * string literal or not supported, an unbalanced call.
 */
export function translatePortable(sql: string, dialect: Dialect, dataset: string): string {
  if (!/ingot\s*\./i.test(sql) && !sql.includes("''")) return sql;
  const tokens = tokenize(sql, dialect.lex);
  return emit(tokens, 0, tokens.length, dialect, dataset);
}

/** The text of tokens [from, to) with portable calls rewritten. */
function emit(tokens: Token[], from: number, to: number, dialect: Dialect, dataset: string): string {
  let out = '';
  for (let i = from; i < to; i++) {
    const call = callAt(tokens, i, to);
    if (!call) {
      const t = tokens[i]!;
      out += t.kind === 'string' ? dialect.stringToken(t.text) : t.text;
      continue;
    }
    const name = call.name.toLowerCase();
    const fail = (message: string, argument?: number): IngotError => new IngotError('DATASET_INVALID',
      `${dataset}: ingot.${name}${argument === undefined ? '' : `, argument ${argument + 1}`}: ${message}`, { dataset });
    if (call.close < 0) throw fail('no closing parenthesis');
    const fn = (PORTABLE_FUNCTIONS as Record<string, PortableFunction>)[name];
    if (!fn) throw fail(`not a portable function (known: ${Object.keys(PORTABLE_FUNCTIONS).join(', ')})`);
    const required = fn.params.length - (fn.optional ?? 0);
    const signature = `ingot.${name}(${fn.params.map((p, k) => (k >= required ? `[${p.name}]` : p.name)).join(', ')})`;
    if (call.args.length < required || call.args.length > fn.params.length) throw fail(`takes ${required === fn.params.length ? required : `${required} to ${fn.params.length}`} arguments, got ${call.args.length}: ${signature}`);
    const translated: PortableCall = { args: [] };
    call.args.forEach(([a, b], k) => {
      const param = fn.params[k]!;
      const text = emit(tokens, a, b, dialect, dataset).trim();
      if (text === '') throw fail(`(${param.name}) is empty: ${signature}`, k);
      const solid = tokens.slice(a, b).filter((t) => t.kind !== 'space');
      translated.args.push(solid.length === 1 ? text : `(${text})`);
      const literal = solid.length === 1 && solid[0]!.kind === 'string' ? stringValue(solid[0]!.text) : undefined;
      switch (param.kind) {
        case 'unit': {
          if (literal === undefined) throw fail(`(unit) must be a string literal, one of ${fn.units!.map((u) => `'${u}'`).join(', ')}; got ${text}`, k);
          if (!fn.units!.includes(literal.toLowerCase())) throw fail(`(unit) '${literal}' is not supported (supported: ${fn.units!.map((u) => `'${u}'`).join(', ')})`, k);
          translated.unit = literal.toLowerCase();
          break;
        }
        case 'format':
          if (literal === undefined) throw fail(`(format) must be a string literal such as '%Y-%m-%d'; got ${text}`, k);
          translated.format = { parts: parseFormat(literal, (m) => fail(`(format) ${m}`, k)), text: literal };
          break;
        case 'pattern':
          if (literal !== undefined) translated.pattern = literal;
          break;
        case 'group':
          if (solid.length !== 1 || solid[0]!.kind !== 'number' || !/^\d+$/.test(solid[0]!.text)) throw fail(`(group) must be an integer literal; got ${text}`, k);
          translated.group = Number(solid[0]!.text);
          break;
        case 'expr':
          break;
      }
    });
    out += dialect.portable[name as PortableName](translated);
    i = call.close;
  }
  return out;
}

/** The portable call starting at token `i` (`ingot . name (`): its name, argument token ranges and closing parenthesis (-1: none before `to`). */
function callAt(tokens: Token[], i: number, to: number): { name: string; args: [number, number][]; close: number } | undefined {
  const t = tokens[i]!;
  if (t.kind !== 'ident' || t.text.toLowerCase() !== 'ingot') return undefined;
  // part of a longer name (x.ingot.f)
  const before = prevSolid(tokens, i);
  if (before !== undefined && tokens[before]!.text === '.') return undefined;
  const dot = nextSolid(tokens, i, to);
  if (dot === undefined || tokens[dot]!.text !== '.') return undefined;
  const name = nextSolid(tokens, dot, to);
  if (name === undefined || tokens[name]!.kind !== 'ident') return undefined;
  const open = nextSolid(tokens, name, to);
  if (open === undefined || tokens[open]!.text !== '(') return undefined;
  const args: [number, number][] = [];
  let depth = 0;
  let start = open + 1;
  for (let j = open + 1; j < to; j++) {
    const s = tokens[j]!;
    if (s.kind !== 'punct') continue;
    if (s.text === '(' || s.text === '[' || s.text === '{') depth++;
    else if ((s.text === ')' || s.text === ']' || s.text === '}') && depth > 0) depth--;
    else if (s.text === ')') {
      if (j > start || args.length > 0) args.push([start, j]);
      // `f( )`: no arguments
      if (args.length === 1 && tokens.slice(start, j).every((x) => x.kind === 'space')) args.length = 0;
      return { name: tokens[name]!.text, args, close: j };
    } else if (s.text === ',' && depth === 0) {
      args.push([start, j]);
      start = j + 1;
    }
  }
  return { name: tokens[name]!.text, args, close: -1 };
}

function nextSolid(tokens: Token[], i: number, to: number): number | undefined {
  for (let j = i + 1; j < to; j++) if (tokens[j]!.kind !== 'space') return j;
  return undefined;
}

function prevSolid(tokens: Token[], i: number): number | undefined {
  for (let j = i - 1; j >= 0; j--) if (tokens[j]!.kind !== 'space') return j;
  return undefined;
}

/** Parses a strftime-style format; `fail` builds the error for an unsupported or dangling specifier. */
function parseFormat(format: string, fail: (message: string) => Error): FormatPart[] {
  const parts: FormatPart[] = [];
  let literal = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== '%') {
      literal += c;
      continue;
    }
    const spec = format[++i];
    if (spec === '%') {
      literal += '%';
      continue;
    }
    if (spec === undefined || !(spec in FORMAT_SPECIFIERS)) {
      throw fail(`'${format}': ${spec === undefined ? 'ends with %' : `%${spec} is not a portable specifier`} (supported: ${Object.keys(FORMAT_SPECIFIERS).map((s) => `%${s}`).join(' ')} %%)`);
    }
    if (literal) parts.push({ literal });
    literal = '';
    parts.push({ spec });
  }
  if (literal) parts.push({ literal });
  return parts;
}
