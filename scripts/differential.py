#!/usr/bin/env python3
"""Differential test of the vector types: feed the same random and mutated literals and
expressions to two servers (pgvector 0.8.6 as the reference, pgvector_rs as the candidate)
and compare the result text, or the SQLSTATE and error message (and detail).

    scripts/differential.py REF_DSN OURS_DSN [--cases N] [--seed S] [--show K]

Each DSN names a database where the extension is already created (`CREATE EXTENSION
vector` on the reference, `CREATE EXTENSION pgvector_rs` on ours). Nothing is built here.
Distances are float8 results of float4 sums: when both servers return a number, values
within a relative 1e-6 of each other are reported separately as `float` differences
(summation order), not as mismatches. Exit status 1 when any mismatch was found.

Needs psycopg 3 (`pip install 'psycopg[binary]'`).
"""

import argparse
import random
import sys

import psycopg

# ---------------------------------------------------------------------------- literals

NUMBERS = [
    "0", "-0", "1", "-1", "2", "3", "1.5", "-2.25", ".5", "5.", "+1", "+.5", "-.5", "1e3",
    "1E3", "1e+3", "1e-3", "1e", "1e+", "1e-", "e5", "1.2.3", "0.1", "1e38", "3.4e38",
    "3.5e38", "1e39", "-1e39", "1e-38", "1e-39", "1e-45", "1e-46", "1e-50", "-1e-50",
    "65504", "65519", "65520", "-65520", "70000", "-1e5", "1e5", "6e-5", "6e-8", "3e-8",
    "1e-10", "nan", "NaN", "-nan", "NAN", "nan(1)", "nan()", "inf", "-inf", "Inf",
    "infinity", "-Infinity", "INFINITY", "infin", "0x1p3", "0x1.8p1", "0X10", "0x", "0x1p",
    "0x1p-200", "0x1p200", "0xffffp0", "0x.8", "00012", "1_000", "１", "0.0000001",
    "123456789", "1234567890123", "99999999999999999999", "-99999999999999999999",
    "1e400", "1e-400", "0e999", "0e-999", "3.14159265358979", "2147483647", "-2147483648",
    "2147483648", "4294967296", "", " ", "x", "--1", "+-1", "1-", "0.5e-3", "1e1e1",
]

SPACES = ["", "", "", " ", "  ", "\t", "\n", "\r", "\v", "\f", "\u00a0"]


def num(rng):
    if rng.random() < 0.6:
        return rng.choice(NUMBERS)
    kind = rng.random()
    if kind < 0.3:
        return str(rng.randint(-100000, 100000))
    if kind < 0.6:
        return repr(rng.uniform(-1e4, 1e4))
    if kind < 0.8:
        return "%se%d" % (rng.choice(["1", "-1", "2.5", "9.99", "0.001"]), rng.randint(-60, 60))
    return "%.*g" % (rng.randint(1, 12), rng.uniform(-1, 1) * 10 ** rng.randint(-45, 45))


def sp(rng):
    return rng.choice(SPACES)


def dense_literal(rng):
    n = rng.choice([0, 1, 1, 2, 3, 3, 4, 5, 8])
    inner = ",".join(sp(rng) + num(rng) + sp(rng) for _ in range(n))
    return sp(rng) + "[" + inner + "]" + sp(rng)


def sparse_literal(rng):
    n = rng.choice([0, 1, 1, 2, 3, 4])
    idx = lambda: rng.choice(["1", "2", "3", "0", "-1", "4", "5", "+2", "2147483647",
                              "2147483648", "99999999999999999999", "-2147483648", " 2",
                              "x", "", "1.5", "1e1", str(rng.randint(-5, 12))])
    inner = ",".join(sp(rng) + idx() + sp(rng) + ":" + sp(rng) + num(rng) + sp(rng)
                     for _ in range(n))
    dim = rng.choice(["3", "5", "1", "0", "-1", "2", "1000000000", "1000000001",
                      "2147483647", "2147483648", "99999999999999999999", "-99999999999999",
                      "", "x", "3x", " 4", "+3", "3.0", str(rng.randint(-3, 12))])
    return sp(rng) + "{" + inner + "}" + sp(rng) + "/" + sp(rng) + dim + sp(rng)


MUTATION_CHARS = "[]{}/:,.-+eE0123456789 \t\nxpinfa\u00e9\u2003'"


def mutate(rng, s):
    s = list(s)
    for _ in range(rng.randint(1, 3)):
        op = rng.random()
        pos = rng.randint(0, len(s))
        if op < 0.35 and s:
            del s[min(pos, len(s) - 1)]
        elif op < 0.7:
            s.insert(pos, rng.choice(MUTATION_CHARS))
        elif s:
            s[min(pos, len(s) - 1)] = rng.choice(MUTATION_CHARS)
    return "".join(s)


def quote(s):
    return "'" + s.replace("'", "''") + "'"


def typmod(rng):
    r = rng.random()
    if r < 0.75:
        return ""
    return "(%s)" % rng.choice(["1", "2", "3", "5", "0", "-1", "16000", "16001",
                                "1000000000", "1000000001", "3,4", "x"])


def literal_case(rng):
    t = rng.choice(["vector", "halfvec", "sparsevec"])
    lit = dense_literal(rng) if t != "sparsevec" else sparse_literal(rng)
    if rng.random() < 0.3:
        lit = mutate(rng, lit)
    return "%s::%s%s" % (quote(lit), t, typmod(rng))


# ------------------------------------------------------------------------- expressions

SMALL = ["0", "-0", "1", "-1", "2", "0.5", "-3", "1e-30", "1e30", "3e38", "-3e38",
         "65504", "-65504", "0.0001", "1e-7", "100", "1.5", "2.5"]


def dense_value(rng, t, dim=None):
    if dim is None:
        dim = rng.choice([1, 2, 3, 3, 4, 9]) if rng.random() < 0.7 else rng.choice(
            list(range(1, 41)) + [64, 127, 384, 1000, 1536])
    vals = [rng.choice(SMALL) if rng.random() < 0.5 else repr(round(rng.uniform(-10, 10), 3))
            for _ in range(dim)]
    if t == "halfvec":
        vals = [v if abs(float(v)) <= 65504 else "65504" for v in vals]
    return "'[%s]'::%s" % (",".join(vals), t), dim


def sparse_value(rng, dim=None):
    if dim is None:
        dim = rng.choice([1, 2, 3, 5, 9]) if rng.random() < 0.7 else rng.choice(
            list(range(1, 41)) + [64, 127, 384])
    idx = sorted(rng.sample(range(1, dim + 1), rng.randint(0, dim)))
    vals = []
    for _ in idx:
        v = rng.choice(SMALL[2:]) if rng.random() < 0.5 else repr(round(rng.uniform(-10, 10), 3))
        vals.append(v)
    body = ",".join("%d:%s" % (i, v) for i, v in zip(idx, vals))
    return "'{%s}/%d'::sparsevec" % (body, dim), dim


def value(rng, t, dim=None):
    if t == "sparsevec":
        return sparse_value(rng, dim)
    return dense_value(rng, t, dim)


def bit_value(rng, n=None):
    n = n if n is not None else rng.choice([1, 3, 8, 9, 16])
    return "B'%s'" % "".join(rng.choice("01") for _ in range(n)), n


DIST_OPS = ["<->", "<#>", "<=>", "<+>"]
CMP_OPS = ["<", "<=", "=", "<>", ">=", ">"]
ARITH_OPS = ["+", "-", "*", "||"]


def array_literal(rng):
    et = rng.choice(["int", "real", "float8", "numeric", "float4", "text", "int8", "smallint"])
    n = rng.choice([0, 1, 2, 3, 3, 16001])
    if n == 16001:
        body = ",".join(["1"] * n)
    else:
        pool = ["1", "0", "-0", "2.5", "NULL", "'NaN'", "'Infinity'", "'-Infinity'", "1e39",
                "1e-50", "70000", "65504", "-70000", "3e38", "4e38", "1e300", "1e-300"]
        body = ",".join(rng.choice(pool) for _ in range(n))
    if rng.random() < 0.15:
        return "ARRAY[[1,2],[3,4]]::%s[]" % et
    if rng.random() < 0.1:
        return "'{}'::%s[]" % et
    return "ARRAY[%s]::%s[]" % (body, et) if n else "ARRAY[]::%s[]" % et


def state_literal(rng):
    r = rng.random()
    if r < 0.1:
        return "'{0}'::float8[]"
    if r < 0.15:
        return "array_fill(1::float8, ARRAY[16002])"
    if r < 0.2:
        return "array_fill(0::float8, ARRAY[16002])"
    if r < 0.25:
        return "'{}'::float8[]"
    if r < 0.3:
        return "'{{1,2},{3,4}}'::float8[]"
    if r < 0.35:
        return "ARRAY[1,NULL,2]::float8[]"
    if r < 0.4:
        return "ARRAY[1,'Infinity',2]::float8[]"
    if r < 0.45:
        return "ARRAY[1,1e308,2]::float8[]"
    n = rng.choice([1, 2, 3, 4])
    cnt = rng.choice(["0", "1", "2", "3", "-1", "0.5"])
    return "ARRAY[%s]::float8[]" % ",".join([cnt] + [rng.choice(SMALL[:-4] + ["7e4", "1e308"])
                                                       for _ in range(n - 1)])


def expr_case(rng):
    t = rng.choice(["vector", "halfvec", "sparsevec", "vector", "halfvec"])
    k = rng.random()
    same = rng.random() < 0.75
    a, da = value(rng, t)
    b, _ = value(rng, t, da if same else None)
    if k < 0.15:
        return "%s %s %s" % (a, rng.choice(DIST_OPS), b)
    if k < 0.25:
        fn = rng.choice(["l2_distance", "inner_product", "cosine_distance", "l1_distance"])
        if t == "vector":
            fn = rng.choice([fn, "vector_l2_squared_distance", "vector_negative_inner_product",
                             "vector_spherical_distance"])
        elif t == "halfvec":
            fn = rng.choice([fn, "halfvec_l2_squared_distance", "halfvec_negative_inner_product",
                             "halfvec_spherical_distance"])
        else:
            fn = rng.choice([fn, "sparsevec_l2_squared_distance",
                             "sparsevec_negative_inner_product"])
        return "%s(%s, %s)" % (fn, a, b)
    if k < 0.35:
        return "%s %s %s" % (a, rng.choice(CMP_OPS), b)
    if k < 0.4:
        return "%s_cmp(%s, %s)" % (t, a, b)
    if k < 0.55 and t != "sparsevec":
        return "%s %s %s" % (a, rng.choice(ARITH_OPS), b)
    if k < 0.65:
        fn = rng.choice(["l2_norm", "l2_normalize", "vector_dims"] +
                        (["binary_quantize", "vector_norm"] if t != "sparsevec" else []))
        if fn == "vector_norm" and t != "vector":
            fn = "l2_norm"
        if fn == "vector_dims" and t == "sparsevec":
            fn = "l2_norm"
        return "%s(%s)" % (fn, a)
    if k < 0.7 and t != "sparsevec":
        s = rng.choice([-2147483648, -5, -1, 0, 1, 2, 3, 4, 10, 2147483647])
        c = rng.choice([-2147483648, -1, 0, 1, 2, 3, 10, 2147483647])
        return "subvector(%s, %d, %d)" % (a, s, c)
    if k < 0.8:
        target = rng.choice(["vector", "halfvec", "sparsevec", "real[]", "vector(3)",
                             "halfvec(2)", "sparsevec(5)", "float4[]"])
        if target in ("real[]", "float4[]") and t == "sparsevec":
            target = "vector"
        return "%s::%s" % (a, target)
    if k < 0.87:
        target = rng.choice(["vector", "halfvec", "sparsevec", "vector(3)", "halfvec(2)",
                             "sparsevec(3)"])
        return "%s::%s" % (array_literal(rng), target)
    if k < 0.95 and t != "sparsevec":
        rows = ", ".join("(%s)" % value(rng, t, da if rng.random() < 0.85 else None)[0]
                         for _ in range(rng.randint(0, 4)))
        agg = rng.choice(["avg", "sum"])
        if not rows:
            return "(SELECT %s(v) FROM (SELECT NULL::%s AS v WHERE false) s)" % (agg, t)
        return "(SELECT %s(v) FROM (VALUES %s) s(v))" % (agg, rows)
    if t == "sparsevec":
        t = "vector"
    fn = rng.choice(["accum", "combine", "avg"])
    if fn == "accum":
        return "%s_accum(%s, %s)" % (t, state_literal(rng), value(rng, t)[0])
    if fn == "combine":
        return "%s_combine(%s, %s)" % (t, state_literal(rng), state_literal(rng))
    return "%s_avg(%s)" % (t, state_literal(rng))


def bit_case(rng):
    a, n = bit_value(rng)
    b, _ = bit_value(rng, n if rng.random() < 0.7 else None)
    fn = rng.choice(["hamming_distance", "jaccard_distance", "<~>", "<%>"])
    if fn.startswith("<"):
        return "%s %s %s" % (a, fn, b)
    return "%s(%s, %s)" % (fn, a, b)


def float_output_cases(rng, rounds):
    """Output formatting: every finite half value, and random float4 bit patterns, printed
    by each server (shortest round-trip digits, ties to even)."""
    import math
    import struct
    halves = []
    for bits in range(0x10000):
        v = struct.unpack("<e", struct.pack("<H", bits))[0]
        if math.isfinite(v):
            halves.append("%.9g" % v)
    cases = ["'[%s]'::halfvec" % ",".join(halves[i:i + 8000])
             for i in range(0, len(halves), 8000)]
    for _ in range(rounds):
        vals = []
        while len(vals) < 8000:
            v = struct.unpack("<f", struct.pack("<I", rng.getrandbits(32)))[0]
            if math.isfinite(v):
                vals.append("%.9g" % v)
        cases.append("'[%s]'::vector" % ",".join(vals))
    return cases


def gen_case(rng):
    r = rng.random()
    if r < 0.45:
        return literal_case(rng)
    if r < 0.95:
        return expr_case(rng)
    return bit_case(rng)


# ------------------------------------------------------------------- binary receive

def binary_payload(rng):
    """(column type, bytes of one field) for COPY ... (FORMAT binary)."""
    import struct
    t = rng.choice(["vector", "halfvec", "sparsevec", "vector(3)", "halfvec(2)", "sparsevec(5)"])
    base = t.split("(")[0]
    special = [0.0, -0.0, 1.0, float("nan"), float("inf"), float("-inf"), 1e-45, 3e38, 7e4]
    if base in ("vector", "halfvec"):
        dim = rng.choice([0, 1, 2, 3, 3, 5, -1, -32768, 16000, 16001, 32767])
        unused = rng.choice([0, 0, 0, 0, 1, -1])
        n = max(0, min(dim, 8)) + rng.choice([0, 0, 0, -1, 1])
        out = struct.pack(">hh", dim, unused)
        for _ in range(max(0, n)):
            v = rng.choice(special) if rng.random() < 0.3 else rng.uniform(-10, 10)
            if base == "vector":
                out += struct.pack(">f", v)
            else:
                try:
                    out += struct.pack(">e", v)
                except OverflowError:
                    out += struct.pack(">H", rng.choice([0x7c00, 0x7e00, 0xfc00, 0x7bff]))
        if rng.random() < 0.1:
            out = out[: rng.randint(0, len(out))]
        return t, out
    dim = rng.choice([0, 1, 3, 5, 5, -1, 1000000000, 1000000001])
    nnz = rng.choice([0, 1, 2, 3, -1, 6, 16001])
    unused = rng.choice([0, 0, 0, 0, 7])
    k = max(0, min(nnz, 6)) + rng.choice([0, 0, 0, -1, 1])
    idx = sorted(rng.randint(-1, 6) for _ in range(k))
    if rng.random() < 0.2:
        rng.shuffle(idx)
    out = struct.pack(">iii", dim, nnz, unused)
    out += b"".join(struct.pack(">i", i) for i in idx)
    for _ in range(k):
        v = rng.choice(special) if rng.random() < 0.3 else rng.uniform(-10, 10)
        out += struct.pack(">f", v)
    if rng.random() < 0.1:
        out = out[: rng.randint(0, len(out))]
    return t, out


def run_binary(conn, typ, field):
    import struct
    data = (b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + struct.pack(">hi", 1, len(field))
            + field + struct.pack(">h", -1))
    try:
        with conn.transaction():
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS recv_%s (v %s)"
                         % (typ.replace("(", "_").replace(")", ""), typ))
            name = "recv_" + typ.replace("(", "_").replace(")", "")
            with conn.cursor() as cur:
                with cur.copy("COPY %s FROM STDIN (FORMAT binary)" % name) as copy:
                    copy.write(data)
                cur.execute("SELECT v::text FROM %s" % name)
                row = cur.fetchone()
                cur.execute("TRUNCATE %s" % name)
                return ("ok", row[0])
    except psycopg.Error as e:
        d = e.diag
        return ("error", d.sqlstate, d.message_primary, d.message_detail)


# ---------------------------------------------------------------------------- running

def run(conn, expr):
    if conn.closed:
        return ("error", "connection lost", None, None)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT (%s)::text" % expr.replace("%", "%%"))
            row = cur.fetchone()
            return ("ok", row[0])
    except psycopg.Error as e:
        d = e.diag
        return ("error", d.sqlstate, d.message_primary, d.message_detail)


def close_floats(x, y):
    try:
        fx, fy = float(x), float(y)
    except (TypeError, ValueError):
        return False
    return abs(fx - fy) <= 1e-6 * max(1.0, abs(fx), abs(fy))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ref")
    ap.add_argument("ours")
    ap.add_argument("--cases", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--show", type=int, default=40)
    ap.add_argument("--expr", action="append", help="run only these expressions")
    ap.add_argument("--binary", type=int, default=300,
                    help="random binary (COPY FORMAT binary) payloads to compare")
    ap.add_argument("--strict", action="store_true",
                    help="count float-order differences as mismatches")
    ap.add_argument("--float-rounds", type=int, default=20,
                    help="vectors of 8,000 random float4 values whose output is compared")
    args = ap.parse_args()
    ref = psycopg.connect(args.ref, autocommit=True)
    ours = psycopg.connect(args.ours, autocommit=True)
    for c in (ref, ours):
        c.execute("SET extra_float_digits = 1")
        c.execute("SET statement_timeout = '10s'")
    rng = random.Random(args.seed)
    cases = args.expr or ([gen_case(rng) for _ in range(args.cases)]
                          + float_output_cases(rng, args.float_rounds))
    mismatches, floats, seen = [], 0, set()
    for expr in cases:
        if expr in seen:
            continue
        seen.add(expr)
        r, o = run(ref, expr), run(ours, expr)
        if r == o:
            continue
        if not args.strict and r[0] == "ok" and o[0] == "ok" and close_floats(r[1], o[1]):
            floats += 1
            continue
        mismatches.append((expr, r, o))
    for _ in range(0 if args.expr else args.binary):
        typ, field = binary_payload(rng)
        key = (typ, field)
        if key in seen:
            continue
        seen.add(key)
        r, o = run_binary(ref, typ, field), run_binary(ours, typ, field)
        if r != o:
            mismatches.append(("COPY %s binary %s" % (typ, field.hex()), r, o))
    print("cases %d, agree %d, float-order differences %d, mismatches %d"
          % (len(seen), len(seen) - floats - len(mismatches), floats, len(mismatches)))
    for expr, r, o in mismatches[: args.show]:
        if len(expr) > 400 and r[0] == o[0] == "ok":
            diff = [(x, y) for x, y in zip(r[1].split(","), o[1].split(",")) if x != y]
            print("SQL : %s... differs in %d elements, e.g. %r" % (expr[:60], len(diff), diff[:5]))
            continue
        print("SQL : SELECT (%s)::text" % expr if not expr.startswith("COPY") else expr)
        print("  ref : %r" % (r[1:],))
        print("  ours: %r" % (o[1:],))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
