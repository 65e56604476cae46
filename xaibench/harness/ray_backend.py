"""Running the benchmark matrix on a Ray cluster (``--xb-ray [ADDRESS]``).

**Work units** are the chunks the session already has: one unit is (cell, chunk of 16 examples),
i.e. (task, explainer, device, examples), explained and scored with every metric exactly as a local
run does it (``BenchmarkSession.run_unit``: same chunk boundaries, same canonical shared table per
chunk, same cache keys), so the values equal a serial run's up to float rounding of another thread
count (README: the tolerance of ``--xb-compare``).

**Workers** are Ray actors (``UnitWorker``), each holding one ``BenchmarkSession``: a model is
loaded once per actor and kept, not once per unit, and the driver hands an actor the next unit of
the task it worked on last, so each model is loaded by as few actors as possible. Each actor
declares its resources: ``threads`` CPUs (torch threads in the actor) and, for
``--xb-device cuda``, one GPU; Ray places actors on nodes that have them, so CPU and GPU cells of
a mixed cluster go to the right machines.

**Faults**: a worker process that dies (killed, out of memory, a node lost) is restarted by Ray and
its unit retried (``MAX_RETRIES`` times); a unit that fails in Python (an explainer that raises)
is recorded as ``status=error`` rows by the session, as in a local run, and never retried. A unit
whose worker dies on every retry is recorded as failed examples with the reason, and the restarted
worker goes on with the other units.

**What travels where**: the rows of every unit come back to the driver through Ray's object store
(a few hundred kB per unit), and the driver writes the one results folder. Models, data and the
result cache are read and written by the workers, on their nodes: the built-in models and the
result cache live under ``XAIBENCH_CACHE`` (default ``~/.cache/xaibench``). On one machine that is
shared by construction, so an interrupted run resumes like a local one. On several nodes put
``XAIBENCH_CACHE`` on a shared filesystem (NFS, a mounted volume): then each built-in model is
trained once, and a resumed run finds every finished chunk whichever node computed it; without it
each node trains the built-in models it needs (or run ``xaibench prepare`` on each), and a resumed
run recomputes the chunks whose node's cache it does not reach. Your own model and data must be
reachable from every node (a hub id, or a path on the shared filesystem).

Test hooks: ``XAIBENCH_RAY_KILL_ONCE=<path>`` makes the first worker to start a unit while the
file ``<path>`` is missing create it and kill its own process (the killed-worker test);
``XAIBENCH_RAY_KILL_CELL=<text>`` kills every worker that starts a unit of a cell whose id contains
``<text>`` (a unit that crashes its worker every time).
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

from xaibench.core.errors import OptionError
from xaibench.harness.validation import LOCAL, RAY_MISSING, check_ray  # noqa: F401 (the options' checks)

#: Retries of a unit whose worker process died (Ray restarts the actor each time).
MAX_RETRIES = 3
KILL_ONCE = "XAIBENCH_RAY_KILL_ONCE"
KILL_CELL = "XAIBENCH_RAY_KILL_CELL"
@dataclass(frozen=True)
class Unit:
    """One work unit: the chunk of ``cell`` that begins at example ``start``."""

    cell: object
    start: int

    @property
    def task(self):
        return (self.cell.task, self.cell.device)


class RayBackend:
    """Runs every cell of a session on Ray (module docstring). ``address``: see ``check_ray``;
    ``workers``: actors per device kind (default: as many as the cluster's CPUs allow with
    ``threads`` each, and one per GPU); ``threads``: torch threads (= CPUs) per actor (default
    the run's ``--xb-threads``, else 1)."""

    def __init__(self, address: str, workers: int | None = None, threads: int | None = None) -> None:
        self.address = address
        self.workers = workers
        self.threads = threads
        self.started_ray = False
        self.cluster: dict = {}

    # ---- the cluster -------------------------------------------------------------------------
    def connect(self) -> dict:
        """Join (or start) the cluster; returns what provenance records of it."""
        import ray

        if not ray.is_initialized():
            # The workers' result cache and built-in models: the driver's XAIBENCH_CACHE on one
            # machine (and on every node that mounts the same path).
            env = {k: v for k, v in os.environ.items() if k in ("XAIBENCH_CACHE", KILL_ONCE, KILL_CELL)}
            # Workers' bars would only clutter their logs (not shown): the driver shows the progress.
            env["TQDM_DISABLE"] = "1"
            options = {"include_dashboard": False, "log_to_driver": False, "runtime_env": {"env_vars": env}}
            if self.address == LOCAL:
                # "local" starts a fresh instance unless RAY_ADDRESS names one: a bare ray.init()
                # would also join any cluster `ray start` left on this machine (use --xb-ray auto).
                ray.init(address=None if os.environ.get("RAY_ADDRESS") else "local", **options)
            else:
                ray.init(address=self.address, **options)
            self.started_ray = True
        self.cluster = cluster_info(self.address)
        return self.cluster

    def shutdown(self) -> None:
        import ray

        if self.started_ray and ray.is_initialized():
            ray.shutdown()
        self.started_ray = False

    # ---- running -----------------------------------------------------------------------------
    def run(self, session, cells, progress: bool = True) -> dict:
        """Run ``cells`` of ``session`` on the cluster; merge their rows into ``session.record``;
        return ``{cell id: CellOutcome}``."""
        import ray

        from xaibench.harness.session import CHUNK_SIZE

        if session.given_models():
            raise OptionError("--xb-ray runs models the workers load themselves (a built-in name, a hub id or a "
                              f"folder); {', '.join(session.given_models())} was given in memory")
        self.connect()
        units = [Unit(c, start) for c in cells for start in range(0, len(session.dataset(c.task)), CHUNK_SIZE)]
        threads = self.threads or session.config.threads or 1
        pools = self._start_workers(session, threads, {c.device for c in cells})
        session.record.cluster = {**self.cluster, "workers": {kind: len(p) for kind, p in pools.items()},
                                  "threads_per_worker": threads}
        results = _Dispatcher(pools, units, progress, self.cluster).run()
        for actors in pools.values():
            for actor in actors:
                ray.kill(actor)
        nodes = [r["node"] for r in results.values() if isinstance(r, dict)]
        session.record.cluster["units_per_node"] = {n: nodes.count(n) for n in dict.fromkeys(nodes)}
        return merge_units(session, cells, units, results)

    def _start_workers(self, session, threads: int, devices: set) -> dict:
        import ray

        resources = ray.cluster_resources()
        # Restarts without limit: a unit that kills its worker every time uses up its own retries
        # (max_task_retries), and the restarted actor goes on with the other units.
        actor = ray.remote(max_restarts=-1, max_task_retries=MAX_RETRIES)(UnitWorker)
        pools = {}
        for kind in sorted({"cuda" if d.startswith("cuda") else "cpu" for d in devices}):
            if kind == "cuda":
                count = self.workers or int(resources.get("GPU", 0))
                if count < 1:
                    raise OptionError("--xb-device cuda with --xb-ray: the cluster has no GPU")
                options = {"num_cpus": threads, "num_gpus": 1}
            else:
                count = self.workers or max(1, int(resources.get("CPU", 1)) // threads)
                options = {"num_cpus": threads}
            pools[kind] = [actor.options(**options).remote(session.config, threads, session.record.rootdir)
                           for _ in range(count)]
        return pools


class UnitWorker:
    """A Ray actor (``ray.remote`` is applied in ``RayBackend``): one ``BenchmarkSession`` whose
    models stay loaded between units."""

    def __init__(self, config, threads: int, rootdir: str) -> None:
        from xaibench.harness.session import BenchmarkSession
        from xaibench.modeling.threads import apply_threads

        apply_threads(threads)
        self.session = BenchmarkSession(config, rootdir=rootdir)

    def run(self, cell, start: int) -> dict:
        marker = os.environ.get(KILL_ONCE)
        if marker and not os.path.exists(marker):
            with open(marker, "w") as fh:
                fh.write(f"killed worker {os.getpid()} at unit {cell.id}@{start}\n")
            os.kill(os.getpid(), signal.SIGKILL)
        if os.environ.get(KILL_CELL) and os.environ[KILL_CELL] in cell.id:
            os.kill(os.getpid(), signal.SIGKILL)
        import ray

        return {**self.session.run_unit(cell, start), "node": ray.get_runtime_context().get_node_id()}


class _Dispatcher:
    """Hands units to idle actors (the next unit of the task the actor ran last, so a model is
    loaded by few actors) and collects results, with a progress bar over units."""

    def __init__(self, pools: dict, units: list[Unit], progress: bool, cluster: dict) -> None:
        self.pools, self.units, self.progress, self.cluster = pools, units, progress, cluster

    def run(self) -> dict:
        import ray

        queues: dict = {}
        for i, unit in enumerate(self.units):
            kind = "cuda" if unit.cell.device.startswith("cuda") else "cpu"
            queues.setdefault(kind, {}).setdefault(unit.task, []).append(i)
        last: dict = {}
        running: dict = {}
        results: dict[int, dict | str] = {}
        bar = self._bar()
        idle = [(kind, a) for kind, actors in self.pools.items() for a in actors]
        while idle or running:
            while idle:
                kind, actor = idle.pop()
                i = self._next(queues.get(kind, {}), last.get(actor))
                if i is None:
                    continue
                unit = self.units[i]
                last[actor] = unit.task
                running[actor.run.remote(unit.cell, unit.start)] = (i, kind, actor)
            if not running:
                break
            done, _ = ray.wait(list(running), num_returns=1)
            i, kind, actor = running.pop(done[0])
            try:
                results[i] = ray.get(done[0])
            except Exception as exc:  # the worker died on every retry (or Ray failed): the unit fails
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                results[i] = (f"{type(exc).__name__}: the worker process died {MAX_RETRIES + 1} times running this "
                              f"unit ({first_line})")
            idle.append((kind, actor))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return results

    @staticmethod
    def _next(queues: dict, task) -> int | None:
        if task in queues and queues[task]:
            return queues[task].pop(0)
        open_tasks = [t for t, q in queues.items() if q]
        if not open_tasks:
            return None
        # The task with the most units left: actors spread over tasks, each loading few models.
        return queues[max(open_tasks, key=lambda t: len(queues[t]))].pop(0)

    def _bar(self):
        if not self.progress:
            return None
        from xaibench.core.progress import progress_bar

        workers = sum(len(p) for p in self.pools.values())
        nodes = self.cluster.get("nodes", "?")
        return progress_bar(len(self.units), f"ray: {workers} workers on {nodes} node(s)", unit="chunk")


def merge_units(session, cells, units: list[Unit], results: dict) -> dict:
    """Each unit's rows into ``session.record`` (cells and chunks in run order, each example row
    once) and ``{cell id: CellOutcome}`` assembled from its units."""
    from xaibench.core.records import Attribution
    from xaibench.harness.run_record import metric_row
    from xaibench.harness.session import CellOutcome
    from xaibench.metrics.base import declared

    record = session.record
    outcomes = {c.id: CellOutcome(c, [], []) for c in cells}
    seen_examples = {(r["dataset"], r["model"], r.get("device", "cpu"), str(r["example_id"]))
                     for r in record.example_rows}
    threads = set()
    for i, unit in enumerate(units):
        cell, outcome = unit.cell, outcomes[unit.cell.id]
        examples = session.dataset(cell.task).examples[unit.start:unit.start + _chunk_size()]
        outcome.example_ids.extend(e.id for e in examples)
        result = results.get(i)
        if isinstance(result, str) or result is None:
            message = result or "not run"
            outcome.errors.update({e.id: message for e in examples})
            outcome.attributions.extend([None] * len(examples))
            for name in session.config.metrics:
                record.per_example.extend(
                    metric_row(cell.columns, name, e.id, higher_is_better=declared(name, "higher_is_better"),
                               note=message, error=True) for e in examples)
            continue
        shard = result["shard"]
        for kind in ("per_example", "curves", "attribution_rows"):
            getattr(record, kind).extend(shard[kind])
        for row in shard["example_rows"]:
            key = (row["dataset"], row["model"], row.get("device", "cpu"), str(row["example_id"]))
            if key not in seen_examples:
                seen_examples.add(key)
                record.example_rows.append(row)
        record.model_info.update(shard["model_info"])
        record.dataset_info.update(shard["dataset_info"])
        if shard.get("torch_threads") is not None:
            threads.add(int(shard["torch_threads"]))
        by_id = {r["example_id"]: r for r in shard["attribution_rows"]}
        outcome.attributions.extend(
            Attribution.from_dict({**by_id[e.id], "explainer": by_id[e.id]["explainer_params"]}) if e.id in by_id
            else None for e in examples)
        outcome.errors.update(result["errors"])
        for metric, message in result["metric_errors"].items():
            outcome.metric_errors.setdefault(metric, message)
        outcome.not_run = outcome.not_run or result["not_run"]
        outcome.seconds += result["seconds"]
    for outcome in outcomes.values():
        record.outcome_rows.append(outcome.as_row())
    record.torch_threads = next(iter(threads)) if len(threads) == 1 else (sorted(threads) or None)
    session.sort_rows()
    return outcomes


def _chunk_size() -> int:
    from xaibench.harness.session import CHUNK_SIZE

    return CHUNK_SIZE


def cluster_info(address: str) -> dict:
    """What provenance.json records of the cluster: Ray version, address, nodes alive, CPUs, GPUs."""
    import ray

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    resources = ray.cluster_resources()
    return {"ray_version": ray.__version__, "address": address, "nodes": len(nodes),
            "cpus": float(resources.get("CPU", 0)), "gpus": float(resources.get("GPU", 0)),
            "node_resources": [{"address": n.get("NodeManagerAddress"), "cpus": n["Resources"].get("CPU", 0),
                                "gpus": n["Resources"].get("GPU", 0)} for n in nodes],
            "connected": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
