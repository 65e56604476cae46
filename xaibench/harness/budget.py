"""Budgeted runs: ``--xb-budget DURATION`` and ``--xb-ci-target HALF_WIDTH``.

Instead of a fixed number of examples per task, the matrix runs in *rounds*. Round 1 explains and
scores the first ``CHUNK_SIZE`` (16) test examples of every task with every explainer; each later
round adds examples to every cell until the task has twice as many (or as many as the remaining
time allows), so after every round each task has the same examples in every cell and the paired
tests stay paired. The examples are the task's seed-salted sample, which is nested (the first 32
are the first 32 of any larger ``--xb-n``), and rounds end on chunk boundaries, so every chunk is
cached as in a fixed-n run: an interrupted budgeted run resumes from the cache, and
``--xb-n <reached>`` afterwards reproduces (and reads from the cache) the same values.

After each round the run stops at the first of:

- ``ci_target``: every selected metric's 95% interval half-width (in the metric's own units, over
  every task and explainer; cost metrics, which have no interval, and cells where the metric does
  not apply are left out) is at or under ``--xb-ci-target``;
- ``ranking_resolved`` (runs without ``--xb-ci-target``): in every task, for every ranked metric
  (``statistics.ranked_metric``), the leading explainer is significantly better than every other
  one by the tables' paired test (Holm-adjusted two-sided Wilcoxon, p < 0.05), so no table would
  show a tie for first place;
- ``examples_exhausted``: every task's test split (or ``--xb-n``, the cap of a budgeted run) is used;
- ``budget``: the next round, at the seconds per example the last round took, would not fit in
  what is left of ``--xb-budget``. Rounds are never cut short, so a run may end before the budget
  (by less than one round) but only overruns it when a round is slower than the one before.

The clock starts once every cell's model is loaded (built on first use), so a first run's model
training does not eat the budget; it counts explaining, scoring and the per-round checks.
``provenance.json`` (``budget``) and summary.md record each round (examples per task, seconds,
widest interval, resolved rankings) and the stop reason.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from xaibench.harness.validation import parse_ci_target, parse_duration  # noqa: F401 (re-exported)
from xaibench.report.budget_text import budget_markdown  # noqa: F401 (re-exported)

STOP_REASONS = {
    "ci_target": "every interval is within the CI target",
    "ranking_resolved": "every ranked metric's leader is significantly ahead in every task",
    "examples_exhausted": "every task's test examples are used",
    "budget": "the time budget would not fit another round",
}
GROWTH = 2.0


@dataclass
class BudgetedRun:
    """Runs a session's cells in rounds (module docstring) when its first cell is asked for.

    ``seconds``: the time budget (None: none); ``ci_target``: the half-width target (None: stop when
    the rankings are resolved); ``max_n``: examples per task at most (None: the whole test split).
    ``report`` holds the rounds and the stop reason once the run has finished."""

    seconds: float | None = None
    ci_target: float | None = None
    max_n: int | None = None
    report: dict = field(default_factory=dict)

    def run(self, session, cells: list, progress: bool = True) -> dict:
        """Every cell's ``CellOutcome`` (by cell id); the rows are in ``session.record``."""
        from xaibench.core.progress import announce
        from xaibench.harness.session import CHUNK_SIZE, CellOutcome

        prepared = {cell.id: session._prepare(cell) for cell in cells}
        outcomes = {cell.id: CellOutcome(cell, [], []) for cell in cells}
        started = time.perf_counter()
        largest = max((len(p.examples) for p in prepared.values()), default=0)
        if self.max_n is not None:
            largest = min(largest, self.max_n)
        done, target, rounds = 0, min(CHUNK_SIZE, largest), []
        reason = "examples_exhausted" if largest == 0 else None
        while reason is None:
            round_started = time.perf_counter()
            chunks = [(cell, start) for cell in cells
                      for start in range(done, min(target, len(prepared[cell.id].examples)), CHUNK_SIZE)]
            bar = _bar(len(chunks), f"round {len(rounds) + 1}: examples {done + 1}-{target} per task", progress)
            for cell, start in chunks:
                p, outcome = prepared[cell.id], outcomes[cell.id]
                outcome.example_ids.extend(p.examples.ids[start:start + CHUNK_SIZE])
                session._run_chunk(p, start, outcome)
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
            round_seconds = time.perf_counter() - round_started
            state = round_state(pd.DataFrame(session.record.per_example), session.config.seed)
            rounds.append({"examples_per_task": target, "seconds": round(round_seconds, 3), **state})
            spent = time.perf_counter() - started
            reason = self._stop_reason(state, target, largest)
            next_target = None
            if reason is None:
                next_target = self._next_target(target, done, round_seconds, spent, largest, CHUNK_SIZE)
                if next_target is None:
                    reason = "budget"
            if progress:
                announce(_round_line(len(rounds), target, spent, state, reason, self.ci_target))
            done, target = target, next_target
        for cell in cells:
            session._finish(outcomes[cell.id], started)
        reached = {cell.task.dataset: min(done, len(prepared[cell.id].examples)) for cell in cells}
        _trim_dataset_info(session, prepared, cells, reached)
        self.report = {"budget_seconds": self.seconds, "ci_target": self.ci_target, "max_n": self.max_n,
                       "stopped_because": reason, "stop_reason": STOP_REASONS[reason],
                       "seconds": round(time.perf_counter() - started, 3), "examples_per_task": reached,
                       "rounds": rounds}
        session.record.budget = self.report
        return outcomes

    def _stop_reason(self, state: dict, target: int, largest: int) -> str | None:
        if self.ci_target is not None:
            widest = state["widest_half_width"]
            if widest is not None and widest <= self.ci_target:
                return "ci_target"
        elif state["rankings"] and state["rankings_resolved"] == state["rankings"]:
            return "ranking_resolved"
        if target >= largest:
            return "examples_exhausted"
        return None

    def _next_target(self, target: int, done: int, round_seconds: float, spent: float, largest: int,
                     chunk: int) -> int | None:
        """Examples per task after the next round: ``GROWTH`` times as many, fewer when only fewer
        fit in the time left (at the last round's seconds per added example), in whole chunks;
        None when not one chunk fits."""
        grown = min(largest, max(target + chunk, int(target * GROWTH) // chunk * chunk))
        if self.seconds is None:
            return grown
        per_example = round_seconds / max(1, target - done)
        affordable = int((self.seconds - spent) / per_example) if per_example > 0 else grown - target
        affordable = affordable // chunk * chunk
        if affordable < chunk:
            return None
        return min(grown, target + affordable)


def round_state(per_example: pd.DataFrame, seed: int = 0) -> dict:
    """After a round: the widest 95% interval half-width over the cells with an interval (and
    which cell), and how many (task, ranked metric) rankings have a significant leader."""
    from xaibench.report import statistics
    from xaibench.report.tables import summarize

    state = {"widest_half_width": None, "widest": None, "rankings": 0, "rankings_resolved": 0}
    if per_example.empty:
        return state
    summary = summarize(per_example, seed=seed)
    usable = summary[summary["ci_low"].notna() & summary["ci_high"].notna()
                     & (summary["not_applicable"].isna() | (summary["not_applicable"].astype(str) == ""))]
    if len(usable):
        half = (usable["ci_high"] - usable["ci_low"]) / 2
        row = usable.loc[half.idxmax()]
        state["widest_half_width"] = round(float(half.max()), 6)
        state["widest"] = f"{row['metric']} / {row['explainer']} / {row['dataset']}"
    tested = statistics.paired_tests_vs_best(per_example, summary)
    tested = tested[statistics.competes(tested) & tested["metric"].map(statistics.ranked_metric)]
    for _, block in tested.groupby(statistics.TASK_KEYS + ["metric"], sort=False):
        state["rankings"] += 1
        others = block[block["rank"] != block["rank"].min()]["p_value_vs_best"].to_numpy(dtype=float)
        leaders = int((block["rank"] == block["rank"].min()).sum())
        if leaders == 1 and (len(block) == 1 or (np.isfinite(others).all() and (others < statistics.ALPHA).all())):
            state["rankings_resolved"] += 1
    return state


def _round_line(k: int, n: int, spent: float, state: dict, reason: str | None, ci_target) -> str:
    widest = state["widest_half_width"]
    text = (f"xaibench budget: round {k} done, {n} examples per task, {spent / 60:.1f} min spent; widest CI "
            f"±{widest:.3g} ({state['widest']})" if widest is not None else
            f"xaibench budget: round {k} done, {n} examples per task, {spent / 60:.1f} min spent")
    text += f"{' (target ' + format(ci_target, 'g') + ')' if ci_target else ''}; " \
            f"{state['rankings_resolved']}/{state['rankings']} rankings resolved"
    return text + (f"; stopping: {STOP_REASONS[reason]}" if reason else "")


def _bar(total: int, desc: str, progress: bool):
    if not progress:
        return None
    from xaibench.core.progress import progress_bar

    return progress_bar(total, desc, unit="chunk")


def _trim_dataset_info(session, prepared: dict, cells: list, reached: dict) -> None:
    """The run's datasets are the examples it used: their count and fingerprint become those of the
    first ``reached`` examples (what ``--xb-n <reached>`` loads), with the budget's cap noted."""
    for cell in cells:
        name = cell.task.dataset
        info = session.record.dataset_info.get(name)
        if info is None or info.get("budget_trimmed"):
            continue
        used = prepared[cell.id].examples.ranked(session.config.seed, reached[name])
        info.update({"n": len(used), "fingerprint": used.fingerprint(), "n_available": info.get("n"),
                     "budget_trimmed": True})
