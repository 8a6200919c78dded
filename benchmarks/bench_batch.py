"""Batch speed-up from 1 to 2 workers: target >= 1.8x on a 2-core machine (docs/ODD.md).

Runs 2 scenarios x 20 replications (2,000 patients x 365 days by default) once in-process
(``--workers 1``) and once on a Dask LocalCluster of 2 worker processes, checks that every run's
numbers are identical, and writes ``benchmarks/results/batch.json``. Two times are reported for
the 2-worker case: end to end (including starting the cluster and importing the model in each
worker) and the run phase only (from the first task submitted to the last result received),
which is what the speed-up of a long batch converges to.

    uv run python benchmarks/bench_batch.py [--replications 20] [--patients 2000] [--days 365]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from scenarios.api import load_scenario
from scenarios.batch import Cluster, execute, make_specs

OUT = Path(__file__).resolve().parent / "results" / "batch.json"


def _collect(specs, workers: int | None, cluster: Cluster | None = None):
    results = {}

    def keep(outcomes) -> None:
        for o in outcomes:
            assert o.status == "ok", f"{o.spec.name} r{o.spec.replication}: {o.error}"
            results[o.spec.run_id] = o.summary

    t0 = time.perf_counter()
    execute(specs, keep, workers=workers, cluster=cluster)
    return results, time.perf_counter() - t0


def _load() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", nargs="+", default=["baseline", "bundled_payment"])
    ap.add_argument("--replications", type=int, default=20)
    ap.add_argument("--patients", type=int, default=2000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--workers", type=int, default=2, help="workers of the parallel case")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    specs = make_specs(
        [load_scenario(s) for s in args.scenarios],
        args.replications,
        args.patients,
        args.days,
        keep_patients=False,
    )
    load_start = _load()
    print(f"{len(specs)} runs of {args.patients} patients x {args.days} days")
    serial, t_serial = _collect(specs, workers=1)
    print(f"1 worker (in-process): {t_serial:.1f} s")

    t0 = time.perf_counter()
    with Cluster(workers=args.workers) as cluster:
        t_start = time.perf_counter() - t0
        parallel, t_runs = _collect(specs, workers=None, cluster=cluster)
    t_total = time.perf_counter() - t0
    print(
        f"{args.workers} workers (LocalCluster): {t_total:.1f} s end to end "
        f"({t_start:.1f} s cluster start-up, {t_runs:.1f} s running)"
    )
    identical = serial == parallel
    print(f"identical results: {identical}")
    speedup_runs = t_serial / t_runs
    speedup_total = t_serial / t_total
    print(
        f"speed-up: {speedup_runs:.2f}x (run phase), {speedup_total:.2f}x (end to end); "
        f"target >= 1.8x"
    )
    load = _load()
    busy = max(load_start[0], load[0]) > 1.5 if load and load_start else False
    if busy:
        # A speed-up needs two idle cores; other processes make both timings meaningless.
        print(
            f"warning: load average {load_start[0]:.1f} -> {load[0]:.1f}: other processes "
            "compete for the cores; re-run on an otherwise idle machine"
        )
    record = {
        "runs": len(specs),
        "scenarios": args.scenarios,
        "replications": args.replications,
        "n_patients": args.patients,
        "days": args.days,
        "workers": args.workers,
        "seconds_1_worker": round(t_serial, 2),
        "seconds_n_workers_total": round(t_total, 2),
        "seconds_n_workers_cluster_start": round(t_start, 2),
        "seconds_n_workers_runs": round(t_runs, 2),
        "speedup_run_phase": round(speedup_runs, 3),
        "speedup_end_to_end": round(speedup_total, 3),
        "target_speedup": 1.8,
        "identical_results": identical,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": load_start,
        "load_average_at_end": load,
        "machine_busy": busy,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    if not identical:
        raise SystemExit("results differ between 1 and 2 workers")


if __name__ == "__main__":
    main()
