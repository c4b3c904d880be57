#!/usr/bin/env python3
"""Dumps Delta tables, version by version, as delta-rs (the `deltalake` package) reads them.

Usage: delta_rs_dump.py [--cache FILE] [--cap N] TABLE_PATH...

Prints one JSON line per table on stdout, in the order given, as soon as it is done:
  {"path": str, "key": str, "versions": [VersionRecord], "error"?: str}
VersionRecord is either
  {"version": int, "ok": true, "schema": [{"name": str, "type": str}], "partitionColumns": [str],
   "count": int, "hash": str, "rows": [str], "truncated": bool}
or {"version": int, "ok": false, "error": str} when delta-rs cannot read that version.

Versions: every integer from the oldest commit or checkpoint in `_delta_log` to the newest.
Rows are read through delta-rs's own DataFusion scan (`QueryBuilder`), which applies deletion
vectors and column mapping. Each row becomes one line of canonical JSON (below); `rows` holds
the lines sorted by UTF-16 code units (JavaScript's default string order), all of them when
there are at most `--cap` (default 10000), else the first 50 (`truncated`); `hash` is the
SHA-256 of all sorted lines joined by "\n", so large versions compare by count and hash.

Canonical JSON (mirrored by canonical.ts, which must stay in step): an object with the schema's
columns in order, no spaces. null; integers as numbers, as decimal strings beyond +-(2^53-1);
float/double as JavaScript prints numbers (shortest round trip, `1e+21`, `1.5e-7`, -0 as 0),
NaN and infinities as "NaN", "Infinity", "-Infinity"; decimal(p,s) as a string with exactly s
fraction digits (no sign on zero); strings as is; binary as lowercase hex; booleans; dates
"YYYY-MM-DD" and timestamps "YYYY-MM-DDTHH:MM:SS.ffffffZ" (timestamp_ntz without "Z"), in
the proleptic Gregorian calendar, computed from the stored integers so any year works; structs
as objects in field order; arrays as arrays; maps as [key, value] pairs sorted by the key's JSON.

The cache (a JSON object: key -> table record) makes reruns fast. A table's key hashes its path,
the names, sizes and mtimes in its `_delta_log`, the deltalake version, the cap and this
script's text. Several processes may share one cache file (merged under an flock).
"""
import decimal
import fcntl
import hashlib
import json
import math
import os
import re
import sys
import time

MAX_SAFE_INTEGER = 2**53 - 1
SAMPLE = 50
COMMIT_RE = re.compile(r"^(\d{20})\.json$")
CHECKPOINT_RE = re.compile(r"^(\d{20})\.checkpoint(\.\d{10}\.\d{10}|\.[^.]+)?\.parquet$")
DECIMAL_RE = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
decimal.getcontext().prec = 100

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from canonical import type_name  # noqa: E402  (one renderer of Delta type names for the reference readers)


# ---------------------------------------------------------------------------------------------
# canonical JSON text


class Raw(str):
    """A JSON fragment emitted verbatim (a float already formatted the JavaScript way)."""


def js_number(x):
    """Formats a finite float exactly as JavaScript's Number.prototype.toString does."""
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    _, digits, exp = decimal.Decimal(repr(abs(x))).as_tuple()
    s = "".join(map(str, digits)).rstrip("0") or "0"
    exp += len(digits) - len(s)
    k = len(s)
    n = exp + k  # the decimal point sits after n digits
    if k <= n <= 21:
        out = s + "0" * (n - k)
    elif 0 < n <= 21:
        out = s[:n] + "." + s[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + s
    else:
        e = n - 1
        out = (s if k == 1 else s[0] + "." + s[1:]) + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + out


def dumps(v):
    """Canonical JSON text of a canonical value: no spaces, keys in insertion order."""
    if isinstance(v, Raw):
        return str(v)
    if v is None or isinstance(v, (bool, int, str)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(dumps(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + dumps(x) for k, x in v.items()) + "}"
    raise TypeError(f"not a canonical value: {v!r}")


def civil(days):
    """(year, month, day) of a day count since 1970-01-01, proleptic Gregorian (H. Hinnant)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


def date_text(days):
    y, m, d = civil(days)
    year = f"-{-y:04d}" if y < 0 else f"{y:04d}"
    return f"{year}-{m:02d}-{d:02d}"


def timestamp_text(micros, utc):
    days, rem = divmod(micros, 86_400_000_000)
    secs, us = divmod(rem, 1_000_000)
    return f"{date_text(days)}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}.{us:06d}{'Z' if utc else ''}"


def canon_float(v):
    if v is None:
        return None
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return Raw(js_number(v))


def canon_column(arr, dtype):
    """Canonical values (see the module docstring) of an Arrow array holding Delta type `dtype`."""
    import pyarrow as pa

    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    valid = arr.is_valid().to_pylist()
    if isinstance(dtype, dict) and dtype["type"] == "struct":
        children = arr.flatten()
        names = [arr.type.field(i).name for i in range(arr.type.num_fields)]
        cols = [canon_column(children[names.index(f["name"])], f["type"]) for f in dtype["fields"]]
        return [{f["name"]: c[i] for f, c in zip(dtype["fields"], cols)} if valid[i] else None for i in range(len(arr))]
    if isinstance(dtype, dict) and dtype["type"] in ("array", "map"):
        offsets = arr.offsets.to_pylist()
        if dtype["type"] == "array":
            values = canon_column(arr.values, dtype["elementType"])
            return [values[offsets[i]:offsets[i + 1]] if valid[i] else None for i in range(len(arr))]
        keys = canon_column(arr.keys, dtype["keyType"])
        items = canon_column(arr.items, dtype["valueType"])
        out = []
        for i in range(len(arr)):
            pairs = [[keys[j], items[j]] for j in range(offsets[i], offsets[i + 1])]
            out.append(sorted(pairs, key=lambda p: dumps(p[0])) if valid[i] else None)
        return out
    t = dtype if isinstance(dtype, str) else dtype.get("type")
    if t in ("byte", "short", "integer", "long"):
        return [v if v is None or -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER else str(v) for v in arr.to_pylist()]
    if t in ("float", "double"):
        return [canon_float(v) for v in arr.to_pylist()]
    dec = DECIMAL_RE.match(t or "")
    if dec:
        q = decimal.Decimal(1).scaleb(-int(dec.group(2)))
        texts = [None if v is None else format(v.quantize(q), "f") for v in arr.to_pylist()]
        return [s[1:] if s and s[0] == "-" and not s.strip("-0.") else s for s in texts]  # "-0.00" -> "0.00"
    if t == "date":
        return [None if v is None else date_text(v) for v in arr.cast(pa.int32()).to_pylist()]
    if t in ("timestamp", "timestamp_ntz"):
        per_us = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}[arr.type.unit]
        ints = arr.cast(pa.int64()).to_pylist()
        micros = [None if v is None else (v // 1000 if per_us is None else v * per_us) for v in ints]
        return [None if v is None else timestamp_text(v, t == "timestamp") for v in micros]
    if t == "binary":
        return [None if v is None else bytes(v).hex() for v in arr.to_pylist()]
    if t in ("string", "boolean"):
        return arr.to_pylist()
    # anything else (variant...): a readable rendering, compared as is
    return [None if v is None else json.dumps(v, default=lambda x: x.hex() if isinstance(x, bytes) else str(x), sort_keys=True) for v in arr.to_pylist()]


# ---------------------------------------------------------------------------------------------
# reading


def log_versions(path):
    """(sorted log file names, versions to read) of the table at `path`."""
    names = sorted(os.listdir(os.path.join(path, "_delta_log")))
    found = set()
    for n in names:
        m = COMMIT_RE.match(n) or CHECKPOINT_RE.match(n)
        if m:
            found.add(int(m.group(1)))
    return names, (list(range(min(found), max(found) + 1)) if found else [])


def table_key(path, names, salt):
    """Cache key: path, the log listing (name, size, mtime) and `salt`."""
    h = hashlib.sha256(f"{salt}\n{os.path.abspath(path)}\n".encode())
    for n in names:
        st = os.stat(os.path.join(path, "_delta_log", n))
        h.update(f"{n}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def read_version(path, version, cap):
    """The VersionRecord of `path` at `version` (raises what delta-rs raises)."""
    import pyarrow as pa
    from deltalake import DeltaTable, QueryBuilder

    dt = DeltaTable(path, version=version)
    schema = json.loads(dt.schema().to_json())
    result = QueryBuilder().register("tbl", dt).execute("SELECT * FROM tbl")
    table = result if isinstance(result, pa.Table) else pa.table(result)
    fields = schema["fields"]
    if sorted(table.column_names) != sorted(f["name"] for f in fields):
        raise RuntimeError(f"delta-rs returned columns {table.column_names}, the schema has {[f['name'] for f in fields]}")
    cols = [canon_column(table.column(f["name"]).combine_chunks(), f["type"]) for f in fields]
    lines = [dumps({f["name"]: c[i] for f, c in zip(fields, cols)}) for i in range(table.num_rows)]
    lines.sort(key=lambda s: s.encode("utf-16-be"))  # UTF-16 code unit order, as JavaScript sorts
    return {
        "version": dt.version(),
        "ok": True,
        "schema": [{"name": f["name"], "type": type_name(f["type"])} for f in fields],
        "partitionColumns": list(dt.metadata().partition_columns),
        "count": len(lines),
        "hash": hashlib.sha256("\n".join(lines).encode()).hexdigest(),
        "rows": lines if len(lines) <= cap else lines[:SAMPLE],
        "truncated": len(lines) > cap,
    }


def dump_table(path, cap):
    versions = []
    for v in log_versions(path)[1]:
        try:
            versions.append(read_version(path, v, cap))
        except BaseException as err:  # noqa: BLE001 - delta-rs raises many kinds, Rust panics included
            if isinstance(err, KeyboardInterrupt):
                raise
            versions.append({"version": v, "ok": False, "error": f"{type(err).__name__}: {err}"[:600]})
    return versions


# ---------------------------------------------------------------------------------------------
# cache


def load_cache(file):
    try:
        with open(file, encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def save_cache(file, entries):
    """Merges `entries` into the cache file, under an exclusive lock."""
    if not file or not entries:
        return
    os.makedirs(os.path.dirname(os.path.abspath(file)), exist_ok=True)
    with open(file + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = load_cache(file)
        cache.update(entries)
        tmp = f"{file}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(cache, f, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, file)


def main(argv):
    cache_file, cap, paths = None, 10000, []
    for a in argv:
        if a.startswith("--cache="):
            cache_file = a.split("=", 1)[1]
        elif a.startswith("--cap="):
            cap = int(a.split("=", 1)[1])
        elif a.startswith("--"):
            print(f"delta_rs_dump.py: unknown option {a}", file=sys.stderr)
            return 2
        else:
            paths.append(a)
    try:
        import deltalake
        import pyarrow  # noqa: F401
    except ImportError as err:
        print(f"delta_rs_dump.py: {err}: install the reference reader with `pip install deltalake pyarrow`", file=sys.stderr)
        return 3
    with open(__file__, "rb") as f:
        salt = f"{deltalake.__version__}\n{cap}\n{hashlib.sha256(f.read()).hexdigest()}"
    cache = load_cache(cache_file) if cache_file else {}
    fresh, last_save = {}, time.monotonic()
    for path in paths:
        try:
            names, _ = log_versions(path)
            key = table_key(path, names, salt)
            if key in cache:
                record = cache[key]
            else:
                record = {"path": path, "key": key, "versions": dump_table(path, cap)}
                fresh[key] = record
        except OSError as err:
            record = {"path": path, "key": "", "versions": [], "error": f"{type(err).__name__}: {err}"}
        sys.stdout.write(json.dumps({**record, "path": path}, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        if time.monotonic() - last_save > 20:
            save_cache(cache_file, fresh)
            fresh, last_save = {}, time.monotonic()
    save_cache(cache_file, fresh)
    return 0


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    except Exception as err:  # noqa: BLE001
        print(f"delta_rs_dump.py: {type(err).__name__}: {err}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # deltalake's native runtime can abort while the interpreter shuts down; skip teardown.
    os._exit(code)
