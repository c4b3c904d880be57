import type { Dialect } from '../engine/dialect.js';
import { translatePortable } from '../engine/portable.js';
import { IngotError } from '../errors.js';
import { boundLiteral, type Interval } from './interval.js';

/** Values a dataset's SQL can use as `{{name}}`. */
export interface TemplateContext {
  interval: Interval;
  logicalDate: string | undefined;
  runId: string;
  /** SQL dialect of the engine the SQL runs on (`renderSql`): literals and portable functions are written in it. */
  dialect: Dialect;
}

/**
 * Replaces `{{start}}`, `{{end}}` (DATE literals, TIMESTAMP for hours), `{{logical_date}}` (DATE or TIMESTAMP literal, or NULL),
 * `{{run_id}}` (string literal) and `{{this}}` (the dataset's own table as last committed, for
 * expectations: `layer.table`) in `sql`, then rewrites its portable functions (`ingot.date_trunc(...)`,
 * see `translatePortable`) into the SQL of `ctx.dialect`. Errors (DATASET_INVALID): an unknown
 * template name, a portable function's error.
 */
export function renderSql(sql: string, ctx: TemplateContext, dataset: string): string {
  const literal = (b: string): string => boundLiteral(ctx.dialect.finiteBound(b));
  const rendered = sql.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_m, name: string) => {
    switch (name) {
      case 'start': return literal(ctx.interval.start);
      case 'end': return literal(ctx.interval.end);
      case 'logical_date': return ctx.logicalDate ? literal(ctx.logicalDate) : 'CAST(NULL AS DATE)';
      case 'run_id': return ctx.dialect.quoteString(ctx.runId);
      case 'this': return dataset;
      default:
        throw new IngotError('DATASET_INVALID', `${dataset}: unknown template {{${name}}} (known: start, end, logical_date, run_id, this)`, { dataset });
    }
  });
  return translatePortable(rendered, ctx.dialect, dataset);
}

/**
 * Replaces `{{start}}`, `{{end}}`, `{{logical_date}}` (plain `YYYY-MM-DD` or `YYYY-MM-DDTHH:00`) and `{{run_id}}` in
 * text such as a source URL, each value passed through `encode` (e.g. `encodeURIComponent`).
 * Errors (DATASET_INVALID): an unknown template name, or a date template in a full-refresh run,
 * which has no bounded interval or logical date.
 */
export function renderText(text: string, ctx: Omit<TemplateContext, 'dialect'>, dataset: string, encode: (v: string) => string = (v) => v): string {
  return text.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_m, name: string) => {
    const value = name === 'start' ? ctx.interval.start : name === 'end' ? ctx.interval.end : name === 'logical_date' ? ctx.logicalDate : name === 'run_id' ? ctx.runId : null;
    if (value === null) throw new IngotError('DATASET_INVALID', `${dataset}: unknown template {{${name}}} in ${text} (known: start, end, logical_date, run_id)`, { dataset });
    if (value === undefined || value.endsWith('infinity')) {
      throw new IngotError('DATASET_INVALID', `${dataset}: {{${name}}} in ${text} needs a run date; a full refresh has none (run with --date or --from/--to)`, { dataset });
    }
    return encode(value);
  });
}
