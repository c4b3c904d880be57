import { FORMAT_SPECIFIERS, type PortableCall, type PortableDialect } from '../portable-functions.js';
import { sparkString } from './sql.js';

/** Spark SQL for ingot's portable functions (`translatePortable`); see docs/engines.md. */

const lit = sparkString;
const UNIT: Record<string, string> = { day_of_week: 'DAYOFWEEK_ISO', day_of_year: 'DOY' };
/** Microseconds per unit, for date_diff's boundary counts. */
const MICROS: Record<string, number> = { hour: 3_600_000_000, minute: 60_000_000, second: 1_000_000 };
/** Months per unit, for date_add. */
const MONTHS: Record<string, number> = { month: 1, quarter: 3, year: 12 };

/** A strftime format as a Spark datetime pattern: letters and other non-separator text quoted ('T'), `''` for a quote. */
function pattern(c: PortableCall): string {
  return lit(c.format!.parts.map((p) => {
    if ('spec' in p) return FORMAT_SPECIFIERS[p.spec]!;
    return /^[\s\-/:.,]*$/.test(p.literal) ? p.literal : `'${p.literal.replace(/'/g, "''")}'`;
  }).join(''));
}

/** The text parsed with the pattern, NULL unless it formats back to the same text (as on DuckDB). */
const parsed = (c: PortableCall): string => {
  const p = `try_to_timestamp(${c.args[0]}, ${pattern(c)})`;
  return `CASE WHEN date_format(${p}, ${pattern(c)}) = ${c.args[0]} THEN ${p} END`;
};

/** Units (from 1970) of a timestamp or date, as DuckDB's date_diff counts boundaries. */
function ordinal(u: string, x: string): string {
  switch (u) {
    case 'year': return `year(${x})`;
    case 'quarter': return `(year(${x}) * 4 + quarter(${x}))`;
    case 'month': return `(year(${x}) * 12 + month(${x}))`;
    case 'day': return `unix_date(CAST(${x} AS DATE))`;
    default: return `floor(unix_micros(CAST(${x} AS TIMESTAMP)) / ${MICROS[u]})`;
  }
}

const pat = (c: PortableCall): string => (c.pattern === undefined ? c.args[1]! : lit(c.pattern));

export const SPARK_PORTABLE: PortableDialect = {
  date_trunc: (c) => `CAST(date_trunc(${lit(c.unit!)}, ${c.args[1]}) AS DATE)`,
  timestamp_trunc: (c) => `date_trunc(${lit(c.unit!)}, ${c.args[1]})`,
  date_part: (c) => c.unit === 'second'
    ? `CAST(floor(extract(SECOND FROM ${c.args[1]})) AS INT)`
    : `CAST(extract(${UNIT[c.unit!] ?? c.unit!.toUpperCase()} FROM ${c.args[1]}) AS INT)`,
  date_diff: (c) => `CAST(${ordinal(c.unit!, c.args[2]!)} - ${ordinal(c.unit!, c.args[1]!)} AS BIGINT)`,
  date_add: (c) => c.unit! in MONTHS
    ? `add_months(${c.args[2]}, CAST(${c.args[1]} AS INT) * ${MONTHS[c.unit!]})`
    : `date_add(${c.args[2]}, CAST(${c.args[1]} AS INT) * ${c.unit === 'week' ? 7 : 1})`,
  timestamp_add: (c) => `timestampadd(${c.unit!.toUpperCase()}, CAST(${c.args[1]} AS INT), CAST(${c.args[2]} AS TIMESTAMP))`,
  epoch_seconds: (c) => `unix_seconds(CAST(${c.args[0]} AS TIMESTAMP))`,
  epoch_ms: (c) => `CAST(floor(unix_micros(CAST(${c.args[0]} AS TIMESTAMP)) / 1000) AS BIGINT)`,
  from_epoch_seconds: (c) => `timestamp_seconds(${c.args[0]})`,
  from_epoch_ms: (c) => `timestamp_millis(CAST(${c.args[0]} AS BIGINT))`,
  parse_date: (c) => `CAST(${parsed(c)} AS DATE)`,
  parse_timestamp: (c) => parsed(c),
  strftime: (c) => `date_format(${c.args[0]}, ${pattern(c)})`,
  regexp_extract: (c) => `regexp_extract(${c.args[0]}, ${pat(c)}, ${c.group ?? 0})`,
  regexp_matches: (c) => `(${c.args[0]} RLIKE ${pat(c)})`,
  sha256: (c) => `sha2(${c.args[0]}, 256)`,
  array_length: (c) => `CAST(size(${c.args[0]}) AS BIGINT)`,
};
