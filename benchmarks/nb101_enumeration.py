"""Enumerate every unique NAS-Bench-101 cell and check it against the benchmark's table.

    HYPERNAS_MIRROR=../shared/data python benchmarks/nb101_enumeration.py

Runs :func:`hypernas_pyg.spaces.nasbench101.enumerate_cells` for the space
(default: the full one, 423,624 cells), then compares it with
``$HYPERNAS_MIRROR/nasbench101/nb101_specs.csv.gz`` (the rows within the same
limits): the same set and number of module hashes, the same representative
cell per hash, and every table row's cell hashing to its own hash. Writes
counts, seconds, the machine and the verdicts to a JSON file; exits 1 when
anything does not match. Not part of CI (about a minute per step on one core).
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
import time


def _cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (``"unknown"`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-vertices", type=int, default=7)
    p.add_argument("--max-edges", type=int, default=9)
    p.add_argument("--mirror", default=os.environ.get("HYPERNAS_MIRROR"),
                   help="directory holding nasbench101/nb101_specs.csv.gz "
                        "(default: $HYPERNAS_MIRROR)")
    p.add_argument("--out", default="benchmarks/results/nb101_enumeration.json")
    p.add_argument("--skip-row-hashes", action="store_true",
                   help="do not re-hash every row of the table")
    p.add_argument("--write-csv", default=None, metavar="PATH",
                   help="also write the enumerated catalogue in the table's format")
    p.add_argument("--progress", action="store_true", help="tqdm progress bars")
    args = p.parse_args(argv)
    if not args.mirror:
        p.error("give --mirror or set HYPERNAS_MIRROR")
    table_path = osp.join(args.mirror, "nasbench101", "nb101_specs.csv.gz")
    if not osp.exists(table_path):
        p.error(f"{osp.abspath(table_path)} does not exist")

    from hypernas_pyg.evaluation import hardware
    from hypernas_pyg.spaces.nasbench101 import NB101Catalogue, enumerate_cells
    from hypernas_pyg.spaces.nasbench101.enumeration import count_labelled_graphs

    load_before = os.getloadavg()  # other work on the machine slows every step down
    t0 = time.perf_counter()
    mine = enumerate_cells(args.max_vertices, args.max_edges, progress=args.progress)
    enumerate_seconds = time.perf_counter() - t0
    if args.write_csv:
        mine.to_csv(args.write_csv)

    t0 = time.perf_counter()
    table = NB101Catalogue.from_csv(table_path)
    read_seconds = time.perf_counter() - t0
    rows = table.subset(args.max_vertices, args.max_edges)
    same_hashes = mine.hashes.tolist() == rows.hashes.tolist()  # both sorted
    same_cells = same_hashes and (mine.num_vertices == rows.num_vertices).all() \
        and (mine.edge_bits == rows.edge_bits).all() and (mine.op_labels == rows.op_labels).all()

    bad_rows, verify_seconds = None, None
    if not args.skip_row_hashes:
        t0 = time.perf_counter()
        bad_rows = rows.mismatches(progress=args.progress)
        verify_seconds = time.perf_counter() - t0
    load_after = os.getloadavg()

    full = (args.max_vertices, args.max_edges) == (7, 9)
    result = {
        "max_vertices": args.max_vertices,
        "max_edges": args.max_edges,
        "labelled_graphs": count_labelled_graphs(args.max_vertices, args.max_edges),
        "enumerated_cells": len(mine),
        "table_rows": len(table),
        "table_rows_within_limits": len(rows),
        "expected_cells": 423_624 if full else None,
        "same_hash_set": bool(set(mine.hashes.tolist()) == set(rows.hashes.tolist())),
        "same_count": len(mine) == len(rows) and (not full or len(mine) == 423_624),
        "same_representatives": bool(same_cells),
        "rows_hash_to_their_hash": None if bad_rows is None else not bad_rows,
        "rows_with_wrong_hash": None if bad_rows is None else len(bad_rows),
        "seconds": {"enumerate": round(enumerate_seconds, 2), "read_table": round(read_seconds, 2),
                    "rehash_table_rows": None if verify_seconds is None else
                    round(verify_seconds, 2)},
        "hardware": {**hardware(), "cpu": _cpu_model(), "cpu_count": os.cpu_count(),
                     "loadavg_before": load_before, "loadavg_after": load_after},
        "table": osp.relpath(table_path),
    }
    result["match"] = bool(result["same_hash_set"] and result["same_count"]
                           and result["rows_hash_to_their_hash"] is not False)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(json.dumps(result, indent=2))
    return 0 if result["match"] else 1


if __name__ == "__main__":
    sys.exit(main())
