"""Are two versions of ketasim statistically the same model? (the optimisation check)

Runs baseline and integrated_ideal (2,000 patients, 365 days, seeds 0-9) with the code of two
git revisions, each in its own worktree, and prints each summary metric's mean under both with
the 95 % interval of the difference (Welch). An optimisation that changes only arithmetic order
or how random numbers are drawn should leave every difference inside its interval; one that
changes nothing gives identical numbers.

    uv run python benchmarks/equivalence.py beb8cbb HEAD

With ``--exact`` it checks instead that two revisions give the very same run: five presets
(3,000 patients, 400 days, seed 7), their extended summaries, daily frames and claims compared
exactly. That is the check for an optimisation that must change nothing.

    uv run python benchmarks/equivalence.py --exact dff6d04 HEAD
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("baseline", "integrated_ideal")
SEEDS = range(10)
KEYS = (
    "integrated_delivery_rate",
    "share_integrated",
    "share_drug_only",
    "response_rate",
    "remission_rate",
    "durable_remission_rate",
    "mean_severity",
    "qalys_per_patient",
    "spend_medical",
    "pharma_revenue",
)

# Runs inside a worktree, importing that worktree's code.
CHILD = """
import json, sys
from scenarios.api import build
out = {}
for name in %r:
    out[name] = []
    for seed in %r:
        m = build(name, n_patients=2000, days=365, seed=seed)
        m.run()
        s = m.summary()
        out[name].append({k: s[k] for k in %r})
print(json.dumps(out))
"""


EXACT_PRESETS = (
    "baseline",
    "integrated_ideal",
    "bundled_payment",
    "carve_in",
    "coordination_payment",
)

# Runs inside a worktree: every output of one fixed-seed run per preset, as text.
CHILD_EXACT = """
import hashlib, json
from scenarios.api import build
out = {}
for name in %r:
    m = build(name, n_patients=3000, days=400, seed=7)
    m.run()
    s = m.summary_extended()
    out[name] = {
        **{"summary." + k: repr(v) for k, v in s.items()},
        "daily": hashlib.sha256(m.daily_frame().to_csv().encode()).hexdigest(),
        "claims": hashlib.sha256(m.claims_frame().to_csv().encode()).hexdigest(),
    }
print(json.dumps(out))
"""


def summaries(rev: str, code: str | None = None) -> dict:
    """Summaries of every (scenario, seed) under the code of ``rev`` (or ``code``'s output)."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(tree), rev], cwd=ROOT, check=True
        )
        try:
            code = code or CHILD % (SCENARIOS, list(SEEDS), KEYS)
            out = subprocess.run(
                [sys.executable, "-c", code], cwd=tree, check=True, capture_output=True, text=True
            )
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True
            )
    return json.loads(out.stdout.strip().splitlines()[-1])


def exact(rev_a: str, rev_b: str) -> int:
    """Compare every output of the fixed-seed runs of two revisions; 0 when all are equal."""
    code = CHILD_EXACT % (EXACT_PRESETS,)
    a, b = summaries(rev_a, code), summaries(rev_b, code)
    differ = [
        f"{name}: {key}: {a[name].get(key)} != {b[name].get(key)}"
        for name in EXACT_PRESETS
        for key in sorted(set(a[name]) | set(b[name]))
        if a[name].get(key) != b[name].get(key)
    ]
    print("\n".join(differ) if differ else "identical: summaries, daily frames and claims")
    return 1 if differ else 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "--exact":
        return exact(argv[1], argv[2])
    if len(argv) != 2:
        print("usage: equivalence.py [--exact] REV_A REV_B", file=sys.stderr)
        return 2
    a, b = (summaries(rev) for rev in argv)
    inside = total = 0
    for name in SCENARIOS:
        print(name)
        for key in KEYS:
            x = np.array([r[key] or 0.0 for r in a[name]], dtype=float)
            y = np.array([r[key] or 0.0 for r in b[name]], dtype=float)
            half = 1.96 * np.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
            diff = y.mean() - x.mean()
            total += 1
            inside += abs(diff) <= half
            print(f"  {key:26s} {x.mean():14.4f} {y.mean():14.4f}  diff {diff:+12.4f} ± {half:.4f}")
    print(f"{inside} of {total} differences inside their 95 % interval")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
