"""The batch engine: many (scenario, replication) runs, in-process or on Dask.

A run is a ``RunSpec``: a validated scenario plus (replication, seed, patients, days). Replication
``r`` of any scenario runs with ``seed=S, replication=r``, so two scenarios share their random
numbers replication by replication (common random numbers) and a paired comparison differs only
because the policy differs.

Runs are executed by ``execute``:

* ``workers=1`` and no scheduler: sequentially in the calling process (no Dask at all);
* otherwise on Dask distributed: a ``LocalCluster(n_workers=W, threads_per_worker=1,
  processes=True)`` or ``Client(ADDR)`` for a running cluster. Several runs go in one task so the
  scheduler's per-task overhead stays small next to the simulation.

Workers only compute and return ``RunOutcome`` objects (summary + frames); the calling process
hands them to a callback (which writes the store, or collects them), in its own thread. A run that
raises is returned as ``status='failed'`` with its error; the other runs go on. With a run time
limit, each run happens in a child process that is killed when the limit passes
(``status='timeout'``), so even a run stuck inside one simulated day cannot hold the batch. A task
whose worker process dies is re-submitted run by run; a run that kills its worker ``MAX_LOST``
times is recorded as failed with the reason, and the rest complete.

Test hook: the environment variable ``KETASIM_TEST_FAULTS`` (read here only, in the process that
executes a run) injects faults: a comma-separated list of ``KIND:SCENARIO:REPLICATION`` with KIND
``raise`` (the run raises), ``hang`` (the run sleeps for an hour) or ``exit`` (the process running
it dies at once, as if killed).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from model.params import Scenario
from scenarios.loader import ScenarioError, scenario_hash

FAULT_ENV = "KETASIM_TEST_FAULTS"
MAX_GROUP = 8
"""At most this many runs share one Dask task (a lost worker loses at most this much work)."""
TASKS_PER_WORKER = 4
"""Aim for about this many tasks per worker, so the last tasks do not leave a worker idle long."""
MAX_LOST = 3
"""A run whose worker process dies this many times is recorded as failed (not retried again)."""
CONNECT_TIMEOUT = "10s"
"""How long to try reaching a ``--scheduler`` before giving up."""
CHILD_START_TIMEOUT = 120.0
"""Seconds a run-timeout child process may take to import the model before we give up."""
QUIET_WORKERS = {
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.profile.enabled": False,
}
"""Dask settings for the clusters we start: fewer wake-ups of each worker's event loop.

A worker's event-loop thread shares the GIL with the thread running the simulation. By default
it wakes every 20 ms (loop-latency tick), samples the running task's stack every 10 ms (the
dashboard's profiler) and reads system metrics every 500 ms; each wake-up takes the GIL from the
run. Measured on 2 x 20 runs (2,000 patients x 365 days) with 2 workers: the loop threads used
0.95 s of CPU per worker with the defaults and 0.15 s with these, and the batch ran ~10 % faster.
We serve no Dask dashboard, so the profiler and the metrics are not missed.
"""


class BatchError(ScenarioError):
    """A batch that cannot start or go on (bad settings, unreachable scheduler); one line."""


@dataclass(frozen=True)
class RunSpec:
    """One run to do: a validated scenario (with its run settings applied) and a replication."""

    scenario: Scenario
    replication: int
    keep_patients: bool = True
    keep_claims: bool = False
    tag: str = ""
    """A caller's label that travels with the run (e.g. a comparison arm); not part of ``key``."""

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.scenario.name

    @property
    def scenario_hash(self) -> str:
        """Hash of everything in the scenario that affects results (not name, text or run)."""
        return scenario_hash(self.scenario)

    @property
    def seed(self) -> int:
        """The run's seed (the scenario's ``run.seed``)."""
        return self.scenario.run.seed

    @property
    def n_patients(self) -> int:
        """Catchment size."""
        return self.scenario.run.n_patients

    @property
    def days(self) -> int:
        """Days simulated."""
        return self.scenario.run.days

    @property
    def key(self) -> tuple[str, int, int, int, int]:
        """A run's identity in a store: (scenario hash, replication, patients, days, seed)."""
        return (self.scenario_hash, self.replication, self.n_patients, self.days, self.seed)

    @property
    def run_id(self) -> str:
        """The key as one string (the store's ``run_id``)."""
        h, r, n, d, s = self.key
        return f"{h}-p{n}-d{d}-s{s}-r{r}"


@dataclass
class RunOutcome:
    """What a finished (or failed) run returns to the client."""

    spec: RunSpec
    status: str  # 'ok' | 'failed' | 'timeout'
    started: datetime
    finished: datetime
    seconds: float
    error: str | None = None
    summary: dict | None = None  # the extended summary (ok runs only)
    daily: pd.DataFrame | None = None
    patients: pd.DataFrame | None = None
    claims: pd.DataFrame | None = None


@dataclass
class BatchReport:
    """Counts and failures of one ``execute`` call."""

    total: int = 0
    skipped: int = 0
    ok: int = 0
    failed: int = 0
    timeout: int = 0
    seconds: float = 0.0
    workers: int = 1
    failures: list[tuple[str, int, str, str]] = field(default_factory=list)
    """(scenario, replication, status, error) of every run that did not finish."""
    lost_tasks: int = 0
    """Dask tasks whose worker process died (their runs were re-submitted one by one)."""


def make_specs(
    scenarios: Sequence[Scenario],
    replications: int,
    n_patients: int | None = None,
    days: int | None = None,
    seed: int = 0,
    keep_patients: bool = True,
    keep_claims: bool = False,
    tag: str = "",
) -> list[RunSpec]:
    """Every (scenario, replication) run, with the run settings applied and validated.

    Duplicates (the same scenario given twice, or two names for identical parameters) are run
    once: the first name wins.
    """
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise BatchError(f"--replications {replications}: must be a whole number >= 1")
    if replications > 100_000:
        raise BatchError(f"--replications {replications}: at most 100000")
    changes = {"seed": seed}
    if n_patients is not None:
        changes["n_patients"] = n_patients
    if days is not None:
        changes["days"] = days
    specs: list[RunSpec] = []
    seen: set[tuple] = set()
    for sc in scenarios:
        sc = _with_run(sc, changes)
        for r in range(replications):
            spec = RunSpec(sc, r, keep_patients, keep_claims, tag)
            if spec.key not in seen:
                seen.add(spec.key)
                specs.append(spec)
    return specs


def _with_run(sc: Scenario, changes: dict) -> Scenario:
    """Apply run settings with the same one-line errors as ``ketasim run``."""
    flag = {"n_patients": "--patients", "days": "--days", "seed": "--seed"}
    for key, value in changes.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise BatchError(f"{flag[key]} {value!r}: must be a whole number")
    try:
        return sc.with_run(**changes)
    except ValueError as exc:
        err = exc.errors()[0] if hasattr(exc, "errors") else None
        if err is None:
            raise BatchError(str(exc).splitlines()[0]) from None
        key = str(err["loc"][0]) if err["loc"] else ""
        raise BatchError(
            f"{flag.get(key, key)} {err.get('input')}: {err['msg'][0].lower()}{err['msg'][1:]}"
        ) from None


# --------------------------------------------------------------------------------------------
# Running one run (in whatever process executes it)
# --------------------------------------------------------------------------------------------


def _now() -> datetime:
    """UTC now, naive (DuckDB TIMESTAMP has no zone; the store documents UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _faults() -> set[tuple[str, str, int]]:
    text = os.environ.get(FAULT_ENV, "").strip()
    out = set()
    for item in filter(None, (t.strip() for t in text.split(","))):
        kind, _, rest = item.partition(":")
        name, _, rep = rest.rpartition(":")
        with contextlib.suppress(ValueError):
            out.add((kind, name, int(rep)))
    return out


def _inject_fault(spec: RunSpec) -> None:
    """The test hook: misbehave as ``KETASIM_TEST_FAULTS`` asks for this run."""
    faults = _faults()
    if not faults:
        return
    if ("raise", spec.name, spec.replication) in faults:
        raise RuntimeError(f"injected fault in {spec.name} replication {spec.replication}")
    if ("hang", spec.name, spec.replication) in faults:
        time.sleep(3600)
    if ("exit", spec.name, spec.replication) in faults:
        os._exit(17)


def _revalidated(scenario: Scenario) -> Scenario:
    """An equal scenario built by validation, as if it had been loaded in this process.

    A scenario that arrived by pickle (every spec a Dask worker or a run process receives) reads
    its fields about 6 % more slowly over a whole run: pydantic's ``__setstate__`` installs the
    pickled ``__dict__`` as it is, so its keys are fresh, un-interned strings, and every
    attribute read on the model's hot paths falls back from an identity check to comparing
    strings (pickle interns attribute names itself only for classes without ``__setstate__``).
    Validating the dumped fields gives back interned names; measured in docs/experiments.md.
    """
    return Scenario.model_validate(scenario.model_dump())


def run_one(spec: RunSpec) -> RunOutcome:
    """Run one spec here; any exception becomes a failed outcome (the batch goes on)."""
    from scenarios.api import run as api_run

    started = _now()
    t0 = time.perf_counter()
    try:
        _inject_fault(spec)
        scenario = _revalidated(spec.scenario)
        result = api_run(scenario, replication=spec.replication, keep_claims=spec.keep_claims)
    except Exception as exc:  # a failing run must not stop the batch
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        return RunOutcome(
            spec,
            "failed",
            started,
            _now(),
            time.perf_counter() - t0,
            error=f"{message}{where}"[:2000],
        )
    return RunOutcome(
        spec,
        "ok",
        started,
        _now(),
        time.perf_counter() - t0,
        summary=result.extended,
        daily=result.daily,
        patients=result.patients if spec.keep_patients else None,
        claims=result.claims if spec.keep_claims else None,
    )


class _ChildRunner:
    """A child Python process that runs specs one at a time, so a run can be killed on time-out.

    The child is a plain ``subprocess`` (not ``multiprocessing``): Dask's worker processes are
    daemonic and may not start multiprocessing children. Messages are length-prefixed pickles
    on the child's stdin/stdout; everything else the child prints goes to its stderr.
    """

    def __init__(self) -> None:
        self._err = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the child)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from scenarios.batch import _child_main; _child_main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
        )
        if self._wait_readable(CHILD_START_TIMEOUT) and self.proc.stdout.read(1) == b"R":
            return
        self.close()
        raise RuntimeError(f"run process did not start: {self._stderr_tail()}")

    def _wait_readable(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.proc.stdout], [], [], max(timeout, 0.0))
        return bool(ready)

    def _stderr_tail(self) -> str:
        with contextlib.suppress(OSError, ValueError):
            self._err.seek(0)
            lines = self._err.read().decode(errors="replace").strip().splitlines()
            return lines[-1] if lines else "no message"
        return "no message"

    def run(self, spec: RunSpec, timeout: float) -> RunOutcome:
        """Run ``spec`` in the child; kill the child if it takes longer than ``timeout``."""
        started = _now()
        t0 = time.perf_counter()
        blob = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.write(struct.pack("<Q", len(blob)) + blob)
        self.proc.stdin.flush()
        if not self._wait_readable(timeout):
            self.close()
            return RunOutcome(
                spec,
                "timeout",
                started,
                _now(),
                time.perf_counter() - t0,
                error=f"run exceeded the run time limit of {timeout:g} s and was stopped",
            )
        head = self.proc.stdout.read(8)
        if len(head) < 8:
            code = self.proc.wait()
            self.close()
            return RunOutcome(
                spec,
                "failed",
                started,
                _now(),
                time.perf_counter() - t0,
                error=f"the process running it died (exit code {code}): {self._stderr_tail()}",
            )
        (size,) = struct.unpack("<Q", head)
        return pickle.loads(self.proc.stdout.read(size))

    @property
    def alive(self) -> bool:
        """Whether the child can take another run."""
        return self.proc.poll() is None

    def close(self) -> None:
        """Stop the child (killing it if it is busy)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


def _child_main() -> None:
    """Body of a ``_ChildRunner`` process: read specs, run them, write outcomes."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints from libraries must not corrupt the message stream
    sys.stdout = sys.stderr
    inp = sys.stdin.buffer
    _warm_up()  # before saying ready: the time limit is the run's

    out.write(b"R")
    out.flush()
    while True:
        head = inp.read(8)
        if len(head) < 8:
            return
        (size,) = struct.unpack("<Q", head)
        spec = pickle.loads(inp.read(size))
        blob = pickle.dumps(run_one(spec), protocol=pickle.HIGHEST_PROTOCOL)
        out.write(struct.pack("<Q", len(blob)) + blob)
        out.flush()


def run_group(specs: Sequence[RunSpec], run_timeout: float | None = None) -> list[RunOutcome]:
    """Run several specs in this process (the body of one Dask task, or the in-process loop).

    Args:
        specs: The runs to do, in order.
        run_timeout: Seconds one run may take; None for no limit. With a limit, runs happen in a
            child process that is killed (and replaced) when a run exceeds it.

    Returns:
        One outcome per spec, in order.
    """
    if run_timeout is None:
        return [run_one(spec) for spec in specs]
    outcomes = []
    child: _ChildRunner | None = None
    try:
        for spec in specs:
            if child is None or not child.alive:
                child = _ChildRunner()
            outcomes.append(child.run(spec, run_timeout))
    finally:
        if child is not None:
            child.close()
    return outcomes


# --------------------------------------------------------------------------------------------
# Executing a batch
# --------------------------------------------------------------------------------------------


def default_workers() -> int:
    """Worker processes by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def group_size(n_runs: int, n_workers: int) -> int:
    """Runs per Dask task: enough to amortise overhead, few enough to balance the workers."""
    return max(1, min(MAX_GROUP, math.ceil(n_runs / (TASKS_PER_WORKER * max(n_workers, 1)))))


def check_settings(
    workers: int | None, scheduler: str | None, run_timeout: float | None
) -> tuple[int | None, str | None, float | None]:
    """Validate the execution settings; one-line ``BatchError`` on bad input."""
    if workers is not None and scheduler is not None:
        raise BatchError("give --workers or --scheduler, not both")
    if workers is not None and (isinstance(workers, bool) or workers < 1 or workers > 1024):
        raise BatchError(f"--workers {workers}: must be between 1 and 1024")
    if scheduler is not None:
        addr = scheduler.strip()
        if not addr:
            raise BatchError("--scheduler: empty address (expected tcp://HOST:PORT)")
        if "://" not in addr:
            addr = f"tcp://{addr}"
        scheme, _, rest = addr.partition("://")
        host, _, port = rest.rpartition(":")
        if scheme not in {"tcp", "tls", "inproc", "ws", "wss"} or not host or not port.isdigit():
            raise BatchError(f"--scheduler {scheduler}: expected an address like tcp://HOST:PORT")
        scheduler = addr
    if run_timeout is not None and not (math.isfinite(run_timeout) and run_timeout > 0):
        raise BatchError(f"--run-timeout {run_timeout}: must be a positive number of seconds")
    return workers, scheduler, run_timeout


def _warm_up() -> bool:
    """Import the model and compile its kernels in a worker or run-timeout process.

    Run on every worker when a cluster is opened, and by a run-timeout child before it says it
    is ready, so that neither cost falls inside a run.
    """
    import scenarios.api  # noqa: F401
    from model.model import warm_up_kernels

    warm_up_kernels()
    return True


class Cluster:
    """A Dask client, with the LocalCluster it started (if any); a context manager."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        from distributed import Client, LocalCluster

        self.cluster = None
        if scheduler is not None:
            try:
                self.client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
                raise BatchError(f"--scheduler {scheduler}: cannot connect: {reason}") from None
        else:
            import dask

            # Config is read as the cluster starts: each Nanny hands it on to its worker process.
            with dask.config.set(QUIET_WORKERS):
                self.cluster = LocalCluster(
                    n_workers=workers or default_workers(),
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    worker_dashboard_address=None,
                    # Even without a dashboard the scheduler serves health routes over HTTP, by
                    # default on port 8787 of every interface: keep it on loopback, any port.
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.ERROR,
                )
            self.client = Client(self.cluster, set_as_default=False)
        # Import the model on every worker at once, now, rather than one worker at a time inside
        # the first task each receives (the import costs seconds).
        with contextlib.suppress(Exception):
            self.client.run(_warm_up)

    @property
    def n_workers(self) -> int:
        """Workers the scheduler knows about now (at least 1)."""
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def close(self) -> None:
        """Close the client, and the LocalCluster if we started it."""
        with contextlib.suppress(Exception):
            self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chunks(items: Sequence[RunSpec], size: int) -> Iterable[list[RunSpec]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def needs_cluster(workers: int | None, scheduler: str | None) -> bool:
    """Whether these settings run on Dask (anything but one local worker)."""
    return scheduler is not None or (workers or default_workers()) != 1


def execute(
    specs: Sequence[RunSpec],
    on_result: Callable[[list[RunOutcome]], None],
    workers: int | None = None,
    scheduler: str | None = None,
    run_timeout: float | None = None,
    cluster: Cluster | None = None,
) -> BatchReport:
    """Run ``specs`` and hand each finished group of outcomes to ``on_result``.

    ``on_result`` runs in the calling thread, once per finished task (or once per run when
    executing in-process); if it raises, the batch stops and the exception propagates (what was
    already handed over stays handed over).

    Args:
        specs: The runs.
        on_result: Called with each list of finished outcomes.
        workers: Worker processes; ``1`` (and no scheduler) runs in-process, sequentially;
            ``None`` means one per core.
        scheduler: Address of a running Dask scheduler (``tcp://HOST:PORT``).
        run_timeout: Seconds a run may take before it is stopped and recorded as 'timeout'.
        cluster: An open ``Cluster`` to use instead of starting one.

    Returns:
        Counts and failures.
    """
    workers, scheduler, run_timeout = check_settings(workers, scheduler, run_timeout)
    report = BatchReport(total=len(specs))
    t0 = time.perf_counter()

    def deliver(outcomes: list[RunOutcome]) -> None:
        for o in outcomes:
            if o.status == "ok":
                report.ok += 1
            else:
                report.failed += o.status == "failed"
                report.timeout += o.status == "timeout"
                report.failures.append((o.spec.name, o.spec.replication, o.status, o.error or ""))
        on_result(outcomes)

    if not specs:
        return report
    if cluster is None and not needs_cluster(workers, scheduler):
        report.workers = 1
        for spec in specs:
            deliver(run_group([spec], run_timeout))
    else:
        own = cluster is None
        cluster = cluster or Cluster(workers, scheduler)
        try:
            report.workers = cluster.n_workers
            _execute_dask(cluster, specs, deliver, run_timeout, report)
        finally:
            if own:
                cluster.close()
    report.seconds = time.perf_counter() - t0
    return report


def _execute_dask(
    cluster: Cluster,
    specs: Sequence[RunSpec],
    deliver: Callable[[list[RunOutcome]], None],
    run_timeout: float | None,
    report: BatchReport,
) -> None:
    """Submit groups of runs, deliver results as they finish, re-submit lost groups run by run."""
    from distributed import as_completed

    client = cluster.client
    size = group_size(len(specs), report.workers)
    groups: dict = {}
    lost: dict[str, int] = {}  # run_id -> times a worker died with it assigned
    for chunk in _chunks(specs, size):
        fut = client.submit(run_group, chunk, run_timeout, pure=False)
        groups[fut] = chunk
    pending = as_completed(list(groups), loop=client.loop)
    try:
        for fut in pending:
            chunk = groups.pop(fut)
            try:
                outcomes = fut.result()
            except Exception as exc:  # a lost worker or task: retry run by run, or record it
                report.lost_tasks += 1
                reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
                outcomes = []
                for spec in chunk:
                    # A dying worker also takes down the innocent tasks queued on it, so each
                    # run gets its own retries; only a run lost MAX_LOST times is recorded.
                    lost[spec.run_id] = lost.get(spec.run_id, 0) + 1
                    if lost[spec.run_id] < MAX_LOST:
                        single = client.submit(run_group, [spec], run_timeout, pure=False)
                        groups[single] = [spec]
                        pending.add(single)
                        continue
                    now = _now()
                    outcomes.append(
                        RunOutcome(
                            spec,
                            "failed",
                            now,
                            now,
                            0.0,
                            error=f"the worker process running it died {MAX_LOST} times "
                            f"(last: {reason})",
                        )
                    )
                if not outcomes:
                    continue
            finally:
                fut.release()
            deliver(outcomes)
    finally:
        for fut in groups:
            fut.cancel()
