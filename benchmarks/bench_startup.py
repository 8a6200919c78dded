"""Start-up: a short ``ketasim run`` as a whole process, against ``python -c "import mesa"``.

Run from the repository root (never part of the test suite):

    uv run python benchmarks/bench_startup.py             # 5 rounds; benchmarks/results/*.json
    uv run python benchmarks/bench_startup.py --repeat 9

What a user waits for when they type the README's command is the whole process: ``uv`` checking
the environment, the interpreter starting, the imports, the model's compiled kernels loading from
their cache, ten simulated days, the JSON, and the interpreter's exit. This script times exactly
that, ``uv run ketasim run baseline --patients 100 --days 10 --json``, against the smallest
process that uses the same environment for anything, ``uv run python -c "import mesa"``; and
the same two through the environment's own executables (``.venv/bin/ketasim``,
``.venv/bin/python``), which leaves ``uv`` out.

Each round runs the four commands one after another, so a busy minute of the machine slows a
pair alike; the table gives each command's median wall time over the rounds, and the ratio of
the medians (target: at most 2.0 for the ``uv run`` pair). CPU time (user + system of the
process and its children) is recorded beside it: on a shared machine it moves less than wall
time. One untimed round comes first, so that the file cache, the kernels' cache and ``uv``'s
own cache are as they are for any second call. Each timed ``uv run`` is checked for a
"Bytecode compiled" line: ``uv run`` should not recompile the environment on every call.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._args import int_at_least, json_out  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TARGET_RATIO = 2.0
RUN_ARGS = ["ketasim", "run", "baseline", "--patients", "100", "--days", "10", "--json"]
MESA_ARGS = ["python", "-c", "import mesa"]


def commands(uv: str, venv_bin: Path) -> dict[str, list[str]]:
    """The four timed commands by name: each way of starting, for ketasim and for Mesa."""
    return {
        "uv_run_ketasim": [uv, "run", *RUN_ARGS],
        "uv_run_mesa": [uv, "run", *MESA_ARGS],
        "venv_ketasim": [str(venv_bin / RUN_ARGS[0]), *RUN_ARGS[1:]],
        "venv_mesa": [str(venv_bin / MESA_ARGS[0]), *MESA_ARGS[1:]],
    }


def time_once(cmd: list[str]) -> dict:
    """Run ``cmd`` once from the repository root: wall and CPU seconds, and what it said."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SystemExit(f"bench_startup: {' '.join(cmd)} failed ({proc.returncode}): {tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "bytecode_compiled": "Bytecode compiled" in proc.stderr,
        "stdout": proc.stdout,
    }


def check_run_output(stdout: str) -> None:
    """The timed ``ketasim run`` must have printed its summary (a run that failed is not timed)."""
    try:
        summary = json.loads(stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"bench_startup: ketasim run printed no JSON: {stdout[:200]!r}") from None
    if summary.get("n_patients") != 100 or summary.get("days") != 10:
        raise SystemExit(f"bench_startup: unexpected summary: {stdout[:200]!r}")


def summarise(rounds: list[dict[str, dict]]) -> dict:
    """Medians per command over the rounds, the two ratios and the verdict on the target.

    Args:
        rounds: one dict per round, command name -> ``time_once``'s record (without stdout).

    Returns:
        ``commands`` (name -> median and every round's wall and CPU seconds, and how many
        rounds ``uv`` compiled bytecode in), ``ratios`` (``uv_run`` and ``venv``: ketasim's
        median wall time over Mesa's, and the same for CPU time; ``uv_run_vs_venv_mesa``:
        ``uv run ketasim`` over the venv's ``python -c "import mesa"``) and ``target``.
    """
    names = list(rounds[0])
    out: dict = {"commands": {}, "ratios": {}}
    for name in names:
        walls = [r[name]["wall_s"] for r in rounds]
        cpus = [r[name]["cpu_s"] for r in rounds]
        out["commands"][name] = {
            "wall_s": median(walls),
            "cpu_s": median(cpus),
            "wall_s_rounds": walls,
            "cpu_s_rounds": cpus,
            "rounds_with_bytecode_compiled": sum(r[name]["bytecode_compiled"] for r in rounds),
        }
    for way in ("uv_run", "venv"):
        ket, mesa = out["commands"][f"{way}_ketasim"], out["commands"][f"{way}_mesa"]
        out["ratios"][way] = {
            "wall": ket["wall_s"] / mesa["wall_s"],
            "cpu": ket["cpu_s"] / mesa["cpu_s"],
        }
    # The strictest reading: the README's command against the bare interpreter importing Mesa.
    ket, mesa = out["commands"]["uv_run_ketasim"], out["commands"]["venv_mesa"]
    out["ratios"]["uv_run_vs_venv_mesa"] = {
        "wall": ket["wall_s"] / mesa["wall_s"],
        "cpu": ket["cpu_s"] / mesa["cpu_s"],
    }
    ratio = out["ratios"]["uv_run"]["wall"]
    out["target"] = {
        "target": f"uv run ketasim run ... <= {TARGET_RATIO}x uv run python -c 'import mesa' "
        "(median wall time)",
        "value": ratio,
        "met": ratio <= TARGET_RATIO,
    }
    return out


def table(summary: dict) -> str:
    """The printed result: one line per command, the ratios and the verdict."""
    lines = [f"{'command':<58} {'wall s':>8} {'cpu s':>8}  uv compiled bytecode"]
    shown = {
        "uv_run_ketasim": "uv run " + " ".join(RUN_ARGS),
        "uv_run_mesa": "uv run python -c 'import mesa'",
        "venv_ketasim": ".venv/bin/" + " ".join(RUN_ARGS),
        "venv_mesa": ".venv/bin/python -c 'import mesa'",
    }
    for name, rec in summary["commands"].items():
        compiled = rec["rounds_with_bytecode_compiled"]
        rounds = len(rec["wall_s_rounds"])
        note = f"{compiled} of {rounds} rounds" if name.startswith("uv_run") else "-"
        lines.append(f"{shown[name]:<58} {rec['wall_s']:>8.2f} {rec['cpu_s']:>8.2f}  {note}")
    for way, r in summary["ratios"].items():
        lines.append(f"ratio ketasim / mesa ({way}): wall {r['wall']:.2f}x, cpu {r['cpu']:.2f}x")
    t = summary["target"]
    lines.append(f"target: {t['target']}: {t['value']:.2f}x, {'met' if t['met'] else 'NOT met'}")
    return "\n".join(lines)


_json_out = json_out()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int_at_least(1), default=5, help="timed rounds (medians over them)"
    )
    parser.add_argument("--uv", default="uv", help="the uv executable")
    parser.add_argument(
        "--out", type=_json_out, default=RESULTS / "bench_startup.json", help="the JSON record"
    )
    args = parser.parse_args(argv)

    venv_bin = Path(sys.executable).parent
    if not (venv_bin / "ketasim").is_file():
        parser.error(f"{venv_bin}/ketasim not found: run this with the project's environment")
    cmds = commands(args.uv, venv_bin)
    print("untimed round (caches warm) ...", file=sys.stderr, flush=True)
    for cmd in cmds.values():
        time_once(cmd)
    rounds = []
    for k in range(args.repeat):
        print(f"round {k + 1} of {args.repeat} ...", file=sys.stderr, flush=True)
        this = {}
        for name, cmd in cmds.items():
            rec = time_once(cmd)
            if name.endswith("ketasim"):
                check_run_output(rec["stdout"])
            del rec["stdout"]
            this[name] = rec
        rounds.append(this)
    summary = summarise(rounds)
    print(table(summary))
    record = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "uv": subprocess.run(
                [args.uv, "--version"], capture_output=True, text=True, check=False
            ).stdout.strip(),
            "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
        },
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "repeat": args.repeat,
        **summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
