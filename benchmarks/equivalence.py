"""Are two versions of ketasim the same model? (the check for optimisations and model revisions)

Statistical mode (the default): every preset (or ``--presets``), 2,000 patients, 365 days, N
runs under each revision (``--seeds``, 10), each revision's code in its own git worktree (the
two at once, one core each). The first revision runs seeds ``0..N-1`` and the second seeds
``N..2N-1``, so that the two samples are independent even where the revisions draw alike (the
same seeds would share most draws and make the test blind to small changes). Each summary
metric's mean under both is printed with Welch's 95 % interval of the difference. Two versions
of the same model leave about 95 % of the differences inside their intervals and none outside
the family-wise bound (Bonferroni over every preset and metric tested, at 5 %); the exit status
is 1 when one is outside that bound.

    uv run python benchmarks/equivalence.py beb8cbb HEAD
    uv run python benchmarks/equivalence.py --presets baseline,carve_in --seeds 20 HEAD~3 HEAD

With ``--exact`` it checks instead that two revisions give the very same runs: every preset
(3,000 patients, 400 days, seed 7), their extended summaries and their daily, claims, patient
and payer frames compared exactly. That is the check for an optimisation that must change
nothing.

    uv run python benchmarks/equivalence.py --exact dff6d04 HEAD
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._args import int_at_least  # noqa: E402
from model.metrics import SUMMARY_KEYS  # noqa: E402
from scenarios.loader import preset_names  # noqa: E402

IDENTIFIERS = {"scenario", "seed", "n_patients", "days"}
METRICS = tuple(k for k in SUMMARY_KEYS if k not in IDENTIFIERS)
FAMILY_ALPHA = 0.05

# Runs inside a worktree, importing that worktree's code: each run's whole summary.
CHILD = """
import json
from scenarios.api import build
out = {}
for name in %r:
    out[name] = []
    for seed in %r:
        m = build(name, n_patients=2000, days=365, seed=seed)
        m.run()
        out[name].append(m.summary())
print(json.dumps(out))
"""

# Runs inside a worktree: every output of one fixed-seed run per preset, as text.
CHILD_EXACT = """
import hashlib, json
from scenarios.api import build
out = {}
for name in %r:
    m = build(name, n_patients=3000, days=400, seed=7)
    m.run()
    s = m.summary_extended()
    out[name] = {"summary." + k: repr(v) for k, v in s.items()}
    for frame in ("daily", "claims", "patient", "payer"):
        df = getattr(m, frame + "_frame")()
        if frame == "patient" and df["drop_reason"].dtype.kind in "iu":
            # A revision from before drop_reason was written as names: compare the results,
            # not the format (the names are DropReason's, lower case).
            from agents.patient import DropReason
            df["drop_reason"] = df["drop_reason"].map({int(r): r.name.lower() for r in DropReason})
        text = df.to_csv().encode()
        out[name][frame] = hashlib.sha256(text).hexdigest()
print(json.dumps(out))
"""


def run_at(revs: list[str], codes: list[str]) -> list[dict]:
    """Run each code under the code of its revision (all at once); the JSON each prints."""
    with tempfile.TemporaryDirectory() as tmp:
        trees = [Path(tmp) / f"tree{k}" for k in range(len(revs))]
        try:
            for rev, tree in zip(revs, trees, strict=True):
                subprocess.run(
                    ["git", "worktree", "add", "-q", "--detach", str(tree), rev],
                    cwd=ROOT,
                    check=True,
                )
            children = [
                subprocess.Popen(
                    [sys.executable, "-c", code], cwd=tree, stdout=subprocess.PIPE, text=True
                )
                for code, tree in zip(codes, trees, strict=True)
            ]
            outs = [child.communicate()[0] for child in children]
            for rev, child in zip(revs, children, strict=True):
                if child.returncode:
                    raise SystemExit(f"the runs at {rev} failed (exit {child.returncode})")
        finally:
            for tree in trees:
                if tree.exists():
                    subprocess.run(
                        ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True
                    )
    return [json.loads(out.strip().splitlines()[-1]) for out in outs]


def exact(rev_a: str, rev_b: str, presets: list[str]) -> int:
    """Compare every output of the fixed-seed runs of two revisions; 0 when all are equal."""
    a, b = run_at([rev_a, rev_b], [CHILD_EXACT % (presets,)] * 2)
    differ = [
        f"{name}: {key}: {a[name].get(key)} != {b[name].get(key)}"
        for name in presets
        for key in sorted(set(a[name]) | set(b[name]))
        if a[name].get(key) != b[name].get(key)
    ]
    same = f"identical: {len(presets)} presets' summaries, daily, claims, patient, payer frames"
    print("\n".join(differ) if differ else same)
    return 1 if differ else 0


def welch(x: np.ndarray, y: np.ndarray, alphas: tuple[float, ...]) -> tuple[float, list[float]]:
    """``y.mean() - x.mean()`` and Welch's interval half-widths at each two-sided ``alpha``.

    Constant samples give a zero half-width (a difference is then outside at any level).
    """
    diff = float(y.mean() - x.mean())
    if x.var() == 0.0 and y.var() == 0.0:
        return diff, [0.0 for _ in alphas]  # SciPy's interval is undefined (NaN) here
    test = stats.ttest_ind(y, x, equal_var=False)
    return diff, [float(test.confidence_interval(1 - a).high) - diff for a in alphas]


def compare(a: dict, b: dict, presets: list[str]) -> int:
    """Print each metric's means and Welch intervals; 1 when one is outside the family bound."""
    rows = []
    for name in presets:
        for key in METRICS:
            x = np.array([r.get(key) for r in a[name]], dtype=float)
            y = np.array([r.get(key) for r in b[name]], dtype=float)
            nan_x, nan_y = np.isnan(x), np.isnan(y)
            if nan_x.all() and nan_y.all():
                continue  # undefined under both (no therapy waits in a drug-only world, say)
            rows.append((name, key, x[~nan_x], y[~nan_y], int(nan_x.sum()), int(nan_y.sum())))
    family = FAMILY_ALPHA / max(len(rows), 1)
    inside = outside_family = constant = 0
    current = None
    for name, key, x, y, n_nan_x, n_nan_y in rows:
        if name != current:
            print(name)
            current = name
        if x.size < 2 or y.size < 2:
            print(f"  {key:28s} too few defined runs ({x.size} and {y.size}): not tested")
            continue
        diff, (half, half_family) = welch(x, y, (0.05, family))
        inside += abs(diff) <= half
        constant += half == 0.0 and diff == 0.0
        flag = ""
        if abs(diff) > half_family:
            outside_family += 1
            flag = "  << outside the family-wise bound"
        nan_note = f"  (undefined in {n_nan_x} and {n_nan_y} runs)" if n_nan_x or n_nan_y else ""
        print(
            f"  {key:28s} {x.mean():14.4f} {y.mean():14.4f}  diff {diff:+12.4f} ± {half:.4f}"
            f"{flag}{nan_note}"
        )
    print(
        f"{inside} of {len(rows)} differences inside their 95 % interval (about 95 % expected; "
        f"{constant} of them one constant value under both); "
        f"{outside_family} outside the family-wise bound (Bonferroni, {FAMILY_ALPHA:.0%} over "
        f"{len(rows)})"
    )
    return 1 if outside_family else 0


def parse_presets(text: str) -> list[str]:
    """``all`` or comma-separated preset names, checked against the bundled presets."""
    known = preset_names()
    if text == "all":
        return known
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown preset(s) {', '.join(unknown) or text!r}; known: {', '.join(known)}"
        )
    return names


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev_a", help="the revision to compare against (git rev)")
    parser.add_argument("rev_b", help="the revision under test (git rev)")
    parser.add_argument("--exact", action="store_true", help="check the runs are identical")
    parser.add_argument("--presets", type=parse_presets, default="all", help="all, or a,b,...")
    parser.add_argument(
        "--seeds",
        type=int_at_least(2, "Welch's interval needs two runs"),
        default=10,
        help="runs per revision (10)",
    )
    args = parser.parse_args(argv)
    presets = args.presets  # argparse passes the default "all" through parse_presets too
    for rev in (args.rev_a, args.rev_b):
        found = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", rev + "^{commit}"],
            cwd=ROOT,
            capture_output=True,
        )
        if found.returncode:
            parser.error(f"not a commit here: {rev!r}")
    if args.exact:
        return exact(args.rev_a, args.rev_b, presets)
    n = args.seeds
    codes = [CHILD % (presets, list(range(n))), CHILD % (presets, list(range(n, 2 * n)))]
    a, b = run_at([args.rev_a, args.rev_b], codes)
    return compare(a, b, presets)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
