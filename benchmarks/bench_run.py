"""Single-run throughput and peak memory of ketasim, against Mesa's Boltzmann model and Covasim.

The performance targets of docs/ODD.md (Reference). Run from the repository root (never part
of the test suite):

    uv run --group bench python benchmarks/bench_run.py            # the full table (~10 min)
    uv run --group bench python benchmarks/bench_run.py --quick    # 1k and 10k cases only

Each case (patients x days) runs in its own child process, on one core (BLAS/OpenMP threads set
to 1), so that its peak memory is its own. In that process ketasim's baseline scenario runs
first, after its Numba kernels are loaded or compiled (timed apart: ``jit_warm_up_s``; its CPU time
and peak resident memory are taken when it ends), then, as references on the same machine in the
same process:

* Mesa's bundled Boltzmann wealth model (``mesa.examples``) with as many agents as patients
  (at most 100,000: a million-agent Boltzmann step takes long and says nothing new), on a
  square grid with one agent per cell (the bundled default's density: 100 agents, 10 x 10),
  stepped for about three CPU seconds: agent-steps per second;
* Covasim (the optional ``bench`` dependency group), ``pop_size`` = patients and ``n_days`` =
  days, random contact network: person-days per second.

Targets: 10,000 x 3 years >= 20x Boltzmann's agent-steps/s; 100,000 x 365 >=
Covasim's person-days/s; 1,000,000 x 365 in <= 10 minutes and <= 4 GB peak; cost linear in
patients and days (log-log slope of CPU time <= 1.1).

With ``--repeat N`` each case runs N times, one fresh child process after another: the table
then gives each model's median CPU time and the target is assessed on the median of the
ratios paired within a process (so that a slow minute of the machine slows both models of a
pair), with their range beside it.

The interpreter matters as much as the model for code that runs in Python: the record says
how the running CPython was built (``interpreter``: whether with profile-guided optimisation
and link-time optimisation, as python.org's, Debian's and uv's builds are, or not, as pyenv
builds by default).

Writes ``benchmarks/results/bench_run.json`` and ``bench_run.html`` (a plotly chart of cost
against patient-days), and prints the table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._args import int_at_least, json_out  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"

FULL_CASES = [(1_000, 365), (10_000, 365), (100_000, 365), (1_000_000, 365), (10_000, 1095)]
QUICK_CASES = [(1_000, 365), (10_000, 365), (10_000, 1095)]
BOLTZMANN_MAX_AGENTS = 100_000
BOLTZMANN_CPU_SECONDS = 3.0

TARGET_BOLTZMANN_RATIO = 20.0  # 10k x 3 years
TARGET_COVASIM_RATIO = 1.0  # 100k x 365
TARGET_MILLION_SECONDS = 600.0
TARGET_MILLION_GIB = 4.0
TARGET_SLOPE = 1.1


def _peak_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _time_ketasim(n: int, days: int, seed: int) -> dict:
    from model.model import warm_up_kernels
    from scenarios.api import build

    # A one-off per process (like Covasim's import): compiling the model's Numba kernels.
    jit_start = time.process_time()
    warm_up_kernels()
    jit_s = time.process_time() - jit_start
    start = time.process_time()
    wall = time.perf_counter()
    model = build("baseline", n_patients=n, days=days, seed=seed, keep_claims=False)
    model.run()
    summary = model.summary()
    cpu = time.process_time() - start
    return {
        "cpu_s": cpu,
        "jit_warm_up_s": jit_s,
        "wall_s": time.perf_counter() - wall,
        "patient_days_per_s": n * days / cpu,
        "peak_mib": _peak_mib(),
        "integrated_delivery_rate": summary["integrated_delivery_rate"],
    }


def _time_boltzmann(n: int) -> dict:
    from mesa.examples.basic.boltzmann_wealth_model.model import (
        BoltzmannScenario,
        BoltzmannWealth,
    )

    agents = min(n, BOLTZMANN_MAX_AGENTS)
    side = max(10, math.ceil(math.sqrt(agents)))
    model = BoltzmannWealth(BoltzmannScenario(n=agents, width=side, height=side, rng=0))
    steps = 0
    start = time.process_time()
    while steps < 2 or time.process_time() - start < BOLTZMANN_CPU_SECONDS:
        model.step()
        steps += 1
    cpu = time.process_time() - start
    return {"agents": agents, "steps": steps, "agent_steps_per_s": agents * steps / cpu}


def _time_covasim(n: int, days: int) -> dict | None:
    try:
        import covasim as cv
    except ImportError:
        return None
    sim = cv.Sim(pop_size=n, n_days=days, pop_type="random", rand_seed=0, verbose=0)
    start = time.process_time()
    sim.run()
    cpu = time.process_time() - start
    return {"version": cv.__version__, "cpu_s": cpu, "person_days_per_s": n * days / cpu}


def child(n: int, days: int, seed: int, covasim: bool) -> dict:
    """One case, in this process: ketasim, then the references."""
    out = {"patients": n, "days": days, "ketasim": _time_ketasim(n, days, seed)}
    out["boltzmann"] = _time_boltzmann(n)
    out["covasim"] = _time_covasim(n, days) if covasim else None
    return out


def interpreter() -> dict:
    """The running CPython and how it was built (``./configure`` options that change speed)."""
    args = sysconfig.get_config_var("CONFIG_ARGS") or ""
    return {
        "implementation": platform.python_implementation(),
        "version": platform.python_version(),
        "executable": sys.executable,
        "pgo": "--enable-optimizations" in args,
        "lto": "--with-lto" in args,
        "shared": bool(sysconfig.get_config_var("Py_ENABLE_SHARED")),
    }


def describe_interpreter(info: dict) -> str:
    """One line: ``CPython 3.13.0, built without PGO or LTO, shared libpython``."""
    opts = [name for name in ("PGO", "LTO") if info[name.lower()]]
    built = f"built with {' and '.join(opts)}" if opts else "built without PGO or LTO"
    shared = ", shared libpython" if info["shared"] else ""
    return f"{info['implementation']} {info['version']}, {built}{shared}"


def combine_runs(runs: list[dict]) -> dict:
    """One case from repeated runs of it: each model's median CPU time, the largest peak.

    The Covasim ratios are kept per run (``covasim_ratios``): both models of a run share its
    process and its minutes of the machine, so the ratio of a pair is steadier than the ratio
    of two medians; ``assess`` takes their median.
    """
    if not runs:
        raise ValueError("no runs to combine")
    first = runs[0]
    n, days = first["patients"], first["days"]
    if any((r["patients"], r["days"]) != (n, days) for r in runs):
        raise ValueError("runs of different cases cannot be combined")
    if len(runs) == 1:
        return first
    k_cpu = median([r["ketasim"]["cpu_s"] for r in runs])
    ketasim = {
        **first["ketasim"],
        "cpu_s": k_cpu,
        "cpu_s_runs": [r["ketasim"]["cpu_s"] for r in runs],
        "patient_days_per_s": n * days / k_cpu,
        "peak_mib": max(r["ketasim"]["peak_mib"] for r in runs),
    }
    rates = [r["boltzmann"]["agent_steps_per_s"] for r in runs]
    boltzmann = {**first["boltzmann"], "agent_steps_per_s": median(rates)}
    out = {"patients": n, "days": days, "ketasim": ketasim, "boltzmann": boltzmann}
    if all(r["covasim"] for r in runs):
        v_cpu = median([r["covasim"]["cpu_s"] for r in runs])
        out["covasim"] = {
            **first["covasim"],
            "cpu_s": v_cpu,
            "cpu_s_runs": [r["covasim"]["cpu_s"] for r in runs],
            "person_days_per_s": n * days / v_cpu,
        }
        out["covasim_ratios"] = [r["covasim"]["cpu_s"] / r["ketasim"]["cpu_s"] for r in runs]
    else:
        out["covasim"] = None
    return out


def run_case(n: int, days: int, seed: int, covasim: bool) -> dict:
    """One case in a fresh single-threaded child process."""
    env = {**os.environ}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = "1"
    env.setdefault("STARSIM_INSTALL_FONTS", "0")
    cmd = [sys.executable, __file__, "--child", f"{n}x{days}", "--seed", str(seed)]
    if not covasim:
        cmd.append("--no-covasim")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"case {n}x{days} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) on log(x)."""
    if len(xs) < 2:
        return None
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / den if den else None


def covasim_ratio(case: dict) -> float:
    """ketasim's patient-days/s over Covasim's: the median of paired runs when repeated."""
    if ratios := case.get("covasim_ratios"):
        return median(ratios)
    return case["ketasim"]["patient_days_per_s"] / case["covasim"]["person_days_per_s"]


def assess(cases: list[dict]) -> list[dict]:
    """The §9 targets that these cases can assess, each with its measured value."""
    out = []
    by = {(c["patients"], c["days"]): c for c in cases}
    if (c := by.get((10_000, 1095))) is not None:
        ratio = c["ketasim"]["patient_days_per_s"] / c["boltzmann"]["agent_steps_per_s"]
        out.append(
            {
                "target": "10,000 x 3 years: patient-days/s vs Boltzmann agent-steps/s",
                "value": ratio,
                "goal": f">= {TARGET_BOLTZMANN_RATIO:g}x",
                "met": ratio >= TARGET_BOLTZMANN_RATIO,
            }
        )
    if (c := by.get((100_000, 365))) is not None and c["covasim"]:
        ratio = covasim_ratio(c)
        ratios = c.get("covasim_ratios")
        label = ""
        if ratios:
            label = f" (median of {len(ratios)} runs, {min(ratios):.2f}-{max(ratios):.2f})"
        out.append(
            {
                "target": f"100,000 x 365: patient-days/s vs Covasim person-days/s{label}",
                "value": ratio,
                "goal": f">= {TARGET_COVASIM_RATIO:g}x",
                "met": ratio >= TARGET_COVASIM_RATIO,
            }
        )
    if (c := by.get((1_000_000, 365))) is not None:
        k = c["ketasim"]
        out.append(
            {
                "target": "1,000,000 x 365: CPU time",
                "value": k["cpu_s"],
                "goal": f"<= {TARGET_MILLION_SECONDS:g} s",
                "met": k["cpu_s"] <= TARGET_MILLION_SECONDS,
            }
        )
        out.append(
            {
                "target": "1,000,000 x 365: peak memory",
                "value": k["peak_mib"] / 1024.0,
                "goal": f"<= {TARGET_MILLION_GIB:g} GiB",
                "met": k["peak_mib"] / 1024.0 <= TARGET_MILLION_GIB,
            }
        )
    year = sorted((c for c in cases if c["days"] == 365), key=lambda c: c["patients"])
    tenk = sorted((c for c in cases if c["patients"] == 10_000), key=lambda c: c["days"])
    for label, size, series in (
        ("CPU time vs patients (365 days)", "patients", year),
        ("CPU time vs days (10,000 patients)", "days", tenk),
    ):
        slope = _slope([c[size] for c in series], [c["ketasim"]["cpu_s"] for c in series])
        if slope is not None:
            out.append(
                {
                    "target": f"{label}, log-log slope",
                    "value": slope,
                    "goal": f"<= {TARGET_SLOPE:g}",
                    "met": slope <= TARGET_SLOPE,
                }
            )
    return out


def table(cases: list[dict], targets: list[dict]) -> str:
    """The printed table."""
    head = (
        f"{'patients':>10} {'days':>5} {'cpu s':>8} {'peak MiB':>9} {'patient-days/s':>15} "
        f"{'Boltzmann a-s/s':>16} {'x Boltz':>8} {'Covasim p-d/s':>14} {'x Covasim':>10}"
    )
    lines = [head, "-" * len(head)]
    for c in cases:
        k, b, v = c["ketasim"], c["boltzmann"], c["covasim"]
        xb = k["patient_days_per_s"] / b["agent_steps_per_s"]
        cov = f"{v['person_days_per_s']:>14,.0f}" if v else f"{'-':>14}"
        xc = f"{covasim_ratio(c):>10.2f}" if v else f"{'-':>10}"
        lines.append(
            f"{c['patients']:>10,} {c['days']:>5} {k['cpu_s']:>8.1f} {k['peak_mib']:>9,.0f} "
            f"{k['patient_days_per_s']:>15,.0f} {b['agent_steps_per_s']:>16,.0f} {xb:>8.1f} "
            f"{cov} {xc}"
        )
    lines.append("")
    for t in targets:
        mark = "MET " if t["met"] else "MISS"
        lines.append(f"[{mark}] {t['target']}: {t['value']:.3g} (target {t['goal']})")
    return "\n".join(lines)


def chart(cases: list[dict]):
    """Plotly figure: ketasim CPU seconds against patient-days, log-log, with a linear guide."""
    import plotly.graph_objects as go

    pd_ = [c["patients"] * c["days"] for c in cases]
    cpu = [c["ketasim"]["cpu_s"] for c in cases]
    labels = [f"{c['patients']:,} x {c['days']} d" for c in cases]
    fig = go.Figure()
    fig.add_scatter(
        x=pd_,
        y=cpu,
        mode="markers+text",
        text=labels,
        textposition="top left",
        name="ketasim (baseline)",
    )
    ref = min(range(len(cases)), key=lambda i: pd_[i])
    lo, hi = min(pd_), max(pd_)
    fig.add_scatter(
        x=[lo, hi],
        y=[cpu[ref] * lo / pd_[ref], cpu[ref] * hi / pd_[ref]],
        mode="lines",
        line={"dash": "dash"},
        name="linear in patient-days",
    )
    cov = [
        (p, c["patients"] * c["days"] / c["covasim"]["person_days_per_s"])
        for p, c in zip(pd_, cases, strict=True)
        if c["covasim"]
    ]
    if cov:
        fig.add_scatter(
            x=[p for p, _ in cov],
            y=[s for _, s in cov],
            mode="markers",
            marker={"symbol": "x"},
            name="Covasim (same population and days)",
        )
    fig.update_layout(
        title="Cost of one run against its size",
        xaxis={"title": "patient-days (patients x days)", "type": "log"},
        yaxis={"title": "CPU seconds, one core", "type": "log"},
        template="plotly_white",
    )
    return fig


def _parse_case(text: str) -> tuple[int, int]:
    try:
        n, days = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"case {text!r}: expected PATIENTSxDAYS") from None
    if n < 1 or days < 1:
        raise argparse.ArgumentTypeError(f"case {text!r}: patients and days must be >= 1")
    return n, days


_json_out = json_out("the chart goes beside it")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 1k and 10k cases")
    parser.add_argument("--cases", type=_parse_case, nargs="+", help="e.g. 1000x365 10000x1095")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeat",
        type=int_at_least(1),
        default=1,
        help="run each case this many times (medians; the Covasim ratio paired per run)",
    )
    parser.add_argument("--no-covasim", action="store_true", help="skip the Covasim reference")
    parser.add_argument(
        "--out",
        type=_json_out,
        default=RESULTS / "bench_run.json",
        help="the JSON record (the chart is written beside it as .html)",
    )
    parser.add_argument("--child", type=_parse_case, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        n, days = args.child
        print(json.dumps(child(n, days, args.seed, not args.no_covasim)))
        return 0

    cases_wanted = args.cases or (QUICK_CASES if args.quick else FULL_CASES)
    python = interpreter()
    print(describe_interpreter(python), file=sys.stderr)
    cases = []
    for n, days in cases_wanted:
        runs = []
        for k in range(args.repeat):
            of = f" (run {k + 1} of {args.repeat})" if args.repeat > 1 else ""
            print(f"running {n:,} patients x {days} days{of} ...", file=sys.stderr, flush=True)
            runs.append(run_case(n, days, args.seed, not args.no_covasim))
        cases.append(combine_runs(runs))
    targets = assess(cases)
    print(describe_interpreter(python))
    print(table(cases, targets))
    load = os.getloadavg()
    record = {
        "machine": {
            "python": platform.python_version(),
            "interpreter": python,
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "load_average_at_end": load,
        },
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cases": cases,
        "targets": targets,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    chart(cases).write_html(args.out.with_suffix(".html"), include_plotlyjs=True)
    print(f"\nwrote {args.out} and {args.out.with_suffix('.html')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
