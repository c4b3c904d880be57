import { IngotError } from '../errors.js';
import { TAG_PATTERN, TAG_RULE } from '../pipeline/definition.js';
import { closest } from '../pipeline/closest.js';
import type { DatasetGraph } from '../pipeline/graph.js';

/**
 * Dataset selection with dbt's selector grammar: which datasets `ingot run`, `ingot plan` and
 * `ingot backfill` work on (`--select`, `--exclude`). Pure: a graph's nodes and the selector
 * strings in, a set of dataset names out (the caller orders it by the graph).
 *
 * A selector is a name or a method, with graph operators around it:
 *
 * | form | selects |
 * | --- | --- |
 * | `silver.flights` | that dataset |
 * | `bronze.*`, `*.flights`, `gold.top?_monthly` | every dataset whose name matches the glob (`*` any characters, `?` one) |
 * | `tag:daily` | every dataset with that tag (`tags` in a definition, `-- tags:` in a `.sql` file) |
 * | `x+` | x and everything downstream of it (what reads it, transitively) |
 * | `+x` | x and everything upstream of it (what it reads, transitively) |
 * | `+x+` | both |
 * | `x+1`, `2+x` | downstream / upstream to that depth only (1: direct readers, 2: up to grandparents) |
 * | `@x` | x, everything downstream of it, and everything upstream of any of those |
 *
 * `x` stands for any name, glob or `tag:t`. In one selector value, selectors separated by spaces
 * are a union and selectors joined by commas an intersection: `tag:daily,silver.*` is the daily
 * datasets of layer silver. Several values (`--select a --select b`) are a union too. `exclude`
 * has the same grammar; what it selects is removed. No `select` selects every dataset.
 *
 * Errors (IngotError):
 * - SELECTOR_INVALID for a malformed selector (`++x`, `tag:`, `@+x`, `0+x`, `path:x`, a comma
 *   with nothing beside it), saying what is allowed; and for a selector selecting no dataset,
 *   naming it and the closest dataset names (or, for a glob, the datasets; for a tag, the closest tags).
 * - SELECTION_EMPTY when the selection, after `exclude`, holds no dataset, listing the datasets.
 */

/** What selection needs of a dataset: its name, the datasets it reads, its tags. */
export interface SelectableNode {
  readonly name: string;
  readonly dependsOn: readonly string[];
  readonly tags?: readonly string[] | undefined;
}

/** The selector values of a command: `select` (default: every dataset) minus `exclude`. */
export interface SelectionOptions {
  select?: readonly string[] | undefined;
  exclude?: readonly string[] | undefined;
}

/** One parsed selector: a method and its value, with the graph operators written around it. */
export interface Selector {
  /** As written, e.g. `2+tag:daily`. */
  text: string;
  /** `name`: a dataset name or a glob over names; `tag`: a tag. */
  method: 'name' | 'tag';
  value: string;
  /** Levels upstream to add: 0 none, `Infinity` all (`+x`). */
  parents: number;
  /** Levels downstream to add: 0 none, `Infinity` all (`x+`). */
  children: number;
  /** `@x`: x, its descendants and all their ancestors. */
  childrensParents: boolean;
}

/** A selector value parsed: a union (spaces) of intersections (commas) of selectors. */
export type SelectorExpression = Selector[][];

/** The grammar in one line, appended to SELECTOR_INVALID messages. */
export const SELECTOR_FORMS =
  'allowed: a dataset name (silver.flights), a glob (bronze.*, *.flights), tag:name, each optionally with + before (upstream), ' +
  '+ after (downstream), a depth (2+x, x+1), or @ before (@x); selectors separated by spaces are a union, joined by commas an intersection';

/** The nodes of a built graph, for `selectDatasets`. */
export function selectableNodes(graph: DatasetGraph): SelectableNode[] {
  return graph.order.map((n) => ({ name: n.dataset.name, dependsOn: n.dependsOn, tags: n.dataset.tags }));
}

/**
 * The selector values of a command line as a list of selectors, each a union term (a selector or
 * a comma-joined intersection): `--select a b --select "c d,e"` arrives as `['a', 'b', 'c d,e']`
 * (or one string) and gives `['a', 'b', 'c', 'd,e']`. Checks the syntax of each (SELECTOR_INVALID),
 * before any project is loaded. `undefined` stays `undefined` (no selection given).
 */
export function parseSelectorArgs(values: string | readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  const terms = (typeof values === 'string' ? [values] : values).flatMap((v) => v.split(/\s+/)).filter((t) => t !== '');
  for (const term of terms) parseSelector(term);
  return terms;
}

/**
 * Parses one selector value: whitespace-separated terms (a union), each a comma-joined list of
 * selectors (an intersection). Errors: SELECTOR_INVALID saying what is wrong and what is allowed.
 */
export function parseSelector(value: string): SelectorExpression {
  const terms = value.split(/\s+/).filter((t) => t !== '');
  if (terms.length === 0) throw invalid(value, 'it is empty');
  return terms.map((term) => {
    const parts = term.split(',');
    if (parts.some((p) => p === '')) throw invalid(term, 'a comma joins two selectors: nothing may be missing on either side');
    return parts.map(parseOne);
  });
}

/**
 * The names of the datasets `options` selects among `nodes` (see the module's grammar): the union
 * of the `select` values (every dataset without any) minus the union of the `exclude` values.
 * Edges to names not among `nodes` are ignored. Errors: SELECTOR_INVALID, SELECTION_EMPTY.
 */
export function selectDatasets(nodes: readonly SelectableNode[], options: SelectionOptions): Set<string> {
  const graph = new Graph(nodes);
  const select = options.select ?? [];
  const exclude = options.exclude ?? [];
  const selected = select.length > 0 ? graph.evaluate(select) : new Set(graph.names);
  for (const name of exclude.length > 0 ? graph.evaluate(exclude) : []) selected.delete(name);
  if (selected.size === 0) {
    const given = [select.length > 0 ? `--select ${select.join(' ')}` : '', exclude.length > 0 ? `--exclude ${exclude.join(' ')}` : ''].filter(Boolean).join(' ');
    throw new IngotError(
      'SELECTION_EMPTY',
      graph.names.length === 0
        ? 'the project has no datasets to select'
        : `the selection ${given} selects no dataset (datasets: ${[...graph.names].sort().join(', ')})`,
    );
  }
  return selected;
}

class Graph {
  readonly names: string[];
  private readonly parents = new Map<string, string[]>();
  private readonly children = new Map<string, string[]>();
  private readonly tags = new Map<string, Set<string>>();

  constructor(nodes: readonly SelectableNode[]) {
    this.names = nodes.map((n) => n.name);
    for (const n of nodes) {
      this.parents.set(n.name, []);
      this.children.set(n.name, []);
    }
    for (const n of nodes) {
      for (const dep of n.dependsOn) {
        if (!this.parents.has(dep) || dep === n.name) continue;
        this.parents.get(n.name)!.push(dep);
        this.children.get(dep)!.push(n.name);
      }
      for (const tag of n.tags ?? []) {
        if (!this.tags.has(tag)) this.tags.set(tag, new Set());
        this.tags.get(tag)!.add(n.name);
      }
    }
  }

  /** The union of the values' terms, each the intersection of its selectors. */
  evaluate(values: readonly string[]): Set<string> {
    const out = new Set<string>();
    for (const value of values) {
      for (const term of parseSelector(value)) {
        let acc: Set<string> | undefined;
        for (const selector of term) {
          const s = this.select(selector);
          acc = acc === undefined ? s : new Set([...acc].filter((n) => s.has(n)));
        }
        for (const n of acc ?? []) out.add(n);
      }
    }
    return out;
  }

  private select(s: Selector): Set<string> {
    const base = this.match(s);
    if (s.childrensParents) {
      const down = this.walk(base, this.children, Infinity);
      return this.walk(down, this.parents, Infinity);
    }
    const up = this.walk(base, this.parents, s.parents);
    const down = this.walk(base, this.children, s.children);
    return new Set([...up, ...down]);
  }

  /** The datasets a selector names before its graph operators; SELECTOR_INVALID when none. */
  private match(s: Selector): Set<string> {
    if (s.method === 'tag') {
      const found = this.tags.get(s.value);
      if (found) return new Set(found);
      const tags = [...this.tags.keys()];
      throw invalid(s.text, `no dataset has tag "${s.value}"${tags.length === 0 ? ' (no dataset has tags)' : ` (closest tags: ${closest(s.value, tags).join(', ')})`}`, false);
    }
    if (/[*?]/.test(s.value)) {
      const re = globToRegExp(s.value);
      const found = this.names.filter((n) => re.test(n));
      if (found.length > 0) return new Set(found);
      throw invalid(s.text, `the glob matches no dataset (datasets: ${[...this.names].sort().join(', ')})`, false);
    }
    if (this.parents.has(s.value)) return new Set([s.value]);
    throw invalid(s.text, `no dataset is named ${s.value} (closest: ${closest(s.value, this.names).join(', ')})`, false);
  }

  /** `start` and every dataset within `depth` steps of it along `edges`. */
  private walk(start: Iterable<string>, edges: Map<string, string[]>, depth: number): Set<string> {
    const seen = new Set(start);
    let frontier = [...seen];
    for (let level = 0; level < depth && frontier.length > 0; level++) {
      const next: string[] = [];
      for (const name of frontier) {
        for (const other of edges.get(name) ?? []) {
          if (!seen.has(other)) {
            seen.add(other);
            next.push(other);
          }
        }
      }
      frontier = next;
    }
    return seen;
  }
}

const NAME_PATTERN = /^[A-Za-z0-9_.*?]+$/;
const METHODS = ['tag'];

function parseOne(text: string): Selector {
  let rest = text;
  const childrensParents = rest.startsWith('@');
  if (childrensParents) rest = rest.slice(1);
  let parents = 0;
  let children = 0;
  const before = /^(\d*)\+/.exec(rest);
  if (before) {
    parents = depth(text, before[1]!);
    rest = rest.slice(before[0].length);
  }
  const after = /\+(\d*)$/.exec(rest);
  if (after) {
    children = depth(text, after[1]!);
    rest = rest.slice(0, after.index);
  }
  if (rest.includes('+')) throw invalid(text, 'at most one + (with an optional depth) on each side');
  if (rest.includes('@')) throw invalid(text, '@ goes once, first');
  if (childrensParents && (before || after)) throw invalid(text, '@ takes no +: @x already selects x, its descendants and all their ancestors');
  if (rest === '') throw invalid(text, 'it names no dataset, glob or tag');
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const method = rest.slice(0, colon);
    const value = rest.slice(colon + 1);
    if (!METHODS.includes(method)) throw invalid(text, `unknown method "${method}:" (methods: ${METHODS.map((m) => `${m}:`).join(', ')})`);
    if (value === '') throw invalid(text, `${method}: needs a value, e.g. tag:daily`);
    if (!TAG_PATTERN.test(value)) throw invalid(text, TAG_RULE);
    return { text, method: 'tag', value, parents, children, childrensParents };
  }
  if (!NAME_PATTERN.test(rest)) throw invalid(text, 'a dataset name or glob holds letters, digits, _, ., * and ? only');
  return { text, method: 'name', value: rest, parents, children, childrensParents };
}

function depth(text: string, digits: string): number {
  if (digits === '') return Infinity;
  const n = Number(digits);
  if (n < 1) throw invalid(text, 'a depth is a whole number from 1 up (2+x, x+1)');
  return n;
}

/** SELECTOR_INVALID: `why`, then the grammar when the selector is malformed (`malformed`, default). */
function invalid(selector: string, why: string, malformed = true): IngotError {
  return new IngotError('SELECTOR_INVALID', `selector "${selector}": ${why}${malformed ? `; ${SELECTOR_FORMS}` : ''}`);
}

function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.\\^$|()[\]{}+]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`);
}
