import type { PortableCall, PortableDialect } from '../portable-functions.js';
import { standardString } from '../dialect.js';

/** DuckDB's SQL for ingot's portable functions (`translatePortable`); see docs/engines.md. */

const PART: Record<string, string> = { day_of_week: 'isodow', day_of_year: 'doy' };
const lit = standardString;
const unit = (c: PortableCall): string => lit(c.unit!);
/** `to_days(n)`...: an INTERVAL of `n` units. */
const interval = (c: PortableCall): string => `to_${c.unit}s(CAST(${c.args[1]} AS INTEGER))`;
const format = (c: PortableCall): string => lit(c.format!.text);
/** The text parsed with the format, NULL unless it formats back to the same text (DuckDB's strptime also takes unpadded numbers, Spark's does not). */
const parsed = (c: PortableCall): string => {
  const p = `try_strptime(${c.args[0]}, ${format(c)})`;
  return `CASE WHEN strftime(${p}, ${format(c)}) = ${c.args[0]} THEN ${p} END`;
};

export const DUCKDB_PORTABLE: PortableDialect = {
  date_trunc: (c) => `CAST(date_trunc(${unit(c)}, ${c.args[1]}) AS DATE)`,
  timestamp_trunc: (c) => `date_trunc(${unit(c)}, ${c.args[1]})`,
  date_part: (c) => `CAST(date_part(${lit(PART[c.unit!] ?? c.unit!)}, ${c.args[1]}) AS INTEGER)`,
  date_diff: (c) => `date_diff(${unit(c)}, ${c.args[1]}, ${c.args[2]})`,
  date_add: (c) => `CAST(${c.args[2]} + ${interval(c)} AS DATE)`,
  timestamp_add: (c) => `(CAST(${c.args[2]} AS TIMESTAMP) + ${interval(c)})`,
  epoch_seconds: (c) => `CAST(floor(epoch_us(${c.args[0]}) / 1000000) AS BIGINT)`,
  epoch_ms: (c) => `CAST(floor(epoch_us(${c.args[0]}) / 1000) AS BIGINT)`,
  from_epoch_seconds: (c) => `CAST(to_timestamp(${c.args[0]}) AS TIMESTAMP)`,
  from_epoch_ms: (c) => `make_timestamp(CAST(${c.args[0]} AS BIGINT) * 1000)`,
  parse_date: (c) => `CAST(${parsed(c)} AS DATE)`,
  parse_timestamp: (c) => parsed(c),
  strftime: (c) => `strftime(${c.args[0]}, ${format(c)})`,
  regexp_extract: (c) => `regexp_extract(${c.args[0]}, ${c.pattern === undefined ? c.args[1] : lit(c.pattern)}, ${c.group ?? 0})`,
  regexp_matches: (c) => `regexp_matches(${c.args[0]}, ${c.pattern === undefined ? c.args[1] : lit(c.pattern)})`,
  sha256: (c) => `sha256(${c.args[0]})`,
  array_length: (c) => `CAST(len(${c.args[0]}) AS BIGINT)`,
};
