import { IngotError } from '../errors.js';
import { acceptedValues, freshness, notNull, range, regex, relationships, rowCount, unique } from './checks.js';
import type { Expectation, ExpectationAction } from './definition.js';

/**
 * The expectation library in a `.sql` file's directives: `-- expect: <check>(<arguments>) [action]`,
 * each check building the same `Expectation` as its TypeScript function in `checks.ts`:
 *
 *     -- expect: unique(order_id)                      (several columns: unique(order_id, line))
 *     -- expect: not_null(customer_id) warn
 *     -- expect: accepted_values(status, 'placed', 'shipped')
 *     -- expect: relationships(customer_id, staging.customers.customer_id)
 *     -- expect: range(amount, 0, 10000)              (null for an open bound: range(amount, 0, null))
 *     -- expect: regex(email, '^[^@]+@[^@]+$')
 *     -- expect: row_count(1, null)                   (batch check: warn or fail)
 *     -- expect: freshness(placed_at, '36 hours')     (batch check: warn or fail)
 *
 * Arguments are column names (bare or "double quoted"), SQL literals ('text' with '' for a quote,
 * numbers, true, false, null) or, for `relationships`, `layer.table.column`. The action is one of
 * warn, drop, quarantine, fail (default fail, as in TypeScript).
 */
export const EXPECT_CHECKS = ['unique', 'not_null', 'accepted_values', 'relationships', 'range', 'regex', 'row_count', 'freshness'] as const;

const ACTIONS: readonly ExpectationAction[] = ['warn', 'drop', 'quarantine', 'fail'];

/** One parsed argument of a check. */
type Arg = { kind: 'name'; value: string } | { kind: 'string'; value: string } | { kind: 'number'; value: number } | { kind: 'boolean'; value: boolean } | { kind: 'null' };

/**
 * The expectation of the directive `-- expect: <value>` at `file`:`line` of dataset `dataset`.
 * Errors: DATASET_INVALID naming the file and line: an unknown check (with the known ones), a
 * wrong number or kind of arguments, unbalanced quotes or parentheses, an unknown action.
 */
export function parseExpectDirective(value: string, file: string, line: number, dataset: string): Expectation {
  const fail = (message: string): IngotError => new IngotError('DATASET_INVALID', `${file}:${line}: "-- expect: ${value}": ${message}`, { file, row: line, dataset });
  const call = /^([a-z_][a-z0-9_]*)\s*\((.*)\)\s*([a-z]*)\s*$/i.exec(value.trim());
  if (!call) throw fail(`write a check and its arguments, e.g. "-- expect: not_null(id) warn" (checks: ${EXPECT_CHECKS.join(', ')})`);
  const [, check, inner, actionText] = call as unknown as [string, string, string, string];
  if (actionText !== '' && !(ACTIONS as readonly string[]).includes(actionText)) throw fail(`unknown action "${actionText}" (actions: ${ACTIONS.join(', ')})`);
  const options = actionText === '' ? {} : { action: actionText as ExpectationAction };
  const args = splitArgs(inner, fail);
  const column = (i: number, what = 'a column name'): string => {
    const a = args[i];
    if (a?.kind !== 'name' || (a.value.includes('.') && !a.value.startsWith('"'))) throw fail(`argument ${i + 1} of ${check} must be ${what}`);
    return unquote(a.value);
  };
  const literal = (i: number): string | number | boolean => {
    const a = args[i];
    if (a === undefined || a.kind === 'name' || a.kind === 'null') throw fail(`argument ${i + 1} of ${check} must be a literal ('text', a number, true or false)`);
    return a.value;
  };
  const bound = (i: number): string | number | undefined => {
    const a = args[i];
    if (a?.kind === 'null') return undefined;
    if (a?.kind === 'number' || a?.kind === 'string') return a.value;
    throw fail(`argument ${i + 1} of ${check} must be a number, a 'quoted' date or null (no bound)`);
  };
  const count = (n: number, usage: string): void => {
    if (args.length !== n) throw fail(`${check} takes ${n} argument${n === 1 ? '' : 's'}: ${usage}`);
  };
  const batch = (): void => {
    if (options.action && options.action !== 'warn' && options.action !== 'fail') throw fail(`${check} checks the whole batch: its action is warn or fail`);
  };
  switch (check) {
    case 'unique':
      if (args.length === 0) throw fail('unique takes one or more columns: unique(order_id) or unique(order_id, line)');
      return unique(args.map((_a, i) => column(i)), options);
    case 'not_null':
      count(1, 'not_null(column)');
      return notNull(column(0), options);
    case 'accepted_values':
      if (args.length < 2) throw fail("accepted_values takes a column and one or more values: accepted_values(status, 'placed', 'shipped')");
      return acceptedValues(column(0), args.slice(1).map((_a, i) => literal(i + 1)), options);
    case 'relationships': {
      count(2, 'relationships(column, layer.table.column)');
      const target = args[1]!;
      const parts = target.kind === 'name' ? target.value.split('.') : [];
      if (parts.length !== 3 || parts.some((p) => !/^[a-z_][a-z0-9_]*$/i.test(p))) throw fail('argument 2 of relationships must be layer.table.column, e.g. staging.customers.customer_id');
      return relationships(column(0), { to: `${parts[0]}.${parts[1]}`, field: parts[2]! }, options);
    }
    case 'range': {
      count(3, 'range(column, min, max), null for an open bound');
      const [min, max] = [bound(1), bound(2)];
      if (min === undefined && max === undefined) throw fail('range needs a min, a max or both (null is an open bound)');
      return range(column(0), { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) }, options);
    }
    case 'regex': {
      count(2, "regex(column, 'pattern')");
      const pattern = args[1]!;
      if (pattern.kind !== 'string') throw fail("argument 2 of regex must be a 'quoted' pattern");
      return regex(column(0), pattern.value, options);
    }
    case 'row_count': {
      count(2, 'row_count(min, max), null for an open bound');
      batch();
      const [min, max] = [bound(0), bound(1)];
      if ((min !== undefined && typeof min !== 'number') || (max !== undefined && typeof max !== 'number')) throw fail('row_count bounds are numbers or null');
      if (min === undefined && max === undefined) throw fail('row_count needs a min, a max or both (null is an open bound)');
      return rowCount({ ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) }, options);
    }
    case 'freshness': {
      count(2, "freshness(column, '36 hours')");
      batch();
      const age = args[1]!;
      if (age.kind !== 'string') throw fail("argument 2 of freshness must be a 'quoted' interval, e.g. '36 hours'");
      return freshness(column(0), age.value, options);
    }
    default:
      throw fail(`unknown check "${check}" (checks: ${EXPECT_CHECKS.join(', ')})`);
  }
}

/** The comma-separated arguments of a check. Errors (through `fail`): unbalanced quotes, an empty or unreadable argument. */
function splitArgs(text: string, fail: (message: string) => IngotError): Arg[] {
  const args: Arg[] = [];
  let i = 0;
  const skip = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  skip();
  if (i === text.length) return args;
  for (;;) {
    skip();
    const rest = text.slice(i);
    let m: RegExpExecArray | null;
    if (rest.startsWith("'")) {
      let j = 1;
      let value = '';
      for (;;) {
        if (j >= rest.length) throw fail('a quoted value is not closed');
        if (rest[j] === "'") {
          if (rest[j + 1] === "'") { value += "'"; j += 2; continue; }
          break;
        }
        value += rest[j++];
      }
      args.push({ kind: 'string', value });
      i += j + 1;
    } else if ((m = /^-?\d+(\.\d+)?/.exec(rest))) {
      args.push({ kind: 'number', value: Number(m[0]) });
      i += m[0].length;
    } else if ((m = /^(true|false|null)\b/i.exec(rest))) {
      const word = m[1]!.toLowerCase();
      args.push(word === 'null' ? { kind: 'null' } : { kind: 'boolean', value: word === 'true' });
      i += m[0].length;
    } else if ((m = /^("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(rest))) {
      args.push({ kind: 'name', value: m[0] });
      i += m[0].length;
    } else {
      throw fail(rest.trim() === '' || rest.trim().startsWith(',') ? 'an argument is missing' : `cannot read the argument at "${rest.trim()}"`);
    }
    skip();
    if (i === text.length) return args;
    if (text[i] !== ',') throw fail(`expected a comma before "${text.slice(i).trim()}"`);
    i++;
  }
}

function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name;
}
