import { IngotError } from '../errors.js';
import type { Interval } from './interval.js';

/** Values a dataset's SQL can use as `{{name}}`. */
export interface TemplateContext {
  interval: Interval;
  logicalDate: string | undefined;
  runId: string;
}

/**
 * Replaces `{{start}}`, `{{end}}` (DATE literals), `{{logical_date}}` (DATE literal or NULL) and
 * `{{run_id}}` (string literal) in `sql`. An unknown template name is an error (DATASET_INVALID).
 */
export function renderSql(sql: string, ctx: TemplateContext, dataset: string): string {
  return sql.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_m, name: string) => {
    switch (name) {
      case 'start': return `DATE '${ctx.interval.start}'`;
      case 'end': return `DATE '${ctx.interval.end}'`;
      case 'logical_date': return ctx.logicalDate ? `DATE '${ctx.logicalDate}'` : 'CAST(NULL AS DATE)';
      case 'run_id': return `'${ctx.runId}'`;
      default:
        throw new IngotError('DATASET_INVALID', `${dataset}: unknown template {{${name}}} (known: start, end, logical_date, run_id)`, { dataset });
    }
  });
}
