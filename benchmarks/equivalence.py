"""Are two versions of ketasim statistically the same model? (the optimisation check)

Runs baseline and integrated_ideal (2,000 patients, 365 days, seeds 0-9) with the code of two
git revisions, each in its own worktree, and prints each summary metric's mean under both with
the 95 % interval of the difference (Welch). An optimisation that changes only arithmetic order
or how random numbers are drawn should leave every difference inside its interval; one that
changes nothing gives identical numbers.

    uv run python benchmarks/equivalence.py beb8cbb HEAD
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


def summaries(rev: str) -> dict:
    """Summaries of every (scenario, seed) under the code of ``rev``."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(tree), rev], cwd=ROOT, check=True
        )
        try:
            code = CHILD % (SCENARIOS, list(SEEDS), KEYS)
            out = subprocess.run(
                [sys.executable, "-c", code], cwd=tree, check=True, capture_output=True, text=True
            )
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True
            )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: equivalence.py REV_A REV_B", file=sys.stderr)
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
