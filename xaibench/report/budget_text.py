"""The words of a budgeted run (``--xb-budget``, ``--xb-ci-target``; ``xaibench.harness.budget``)
in summary.md and report.html: what was asked, why it stopped, what it reached, one line per round."""
from __future__ import annotations

import math


def budget_markdown(report: dict) -> str:
    """The summary.md paragraph of a budgeted run: what was asked, why it stopped, what it reached,
    and one line per round."""
    asked = []
    if report.get("budget_seconds") is not None:
        asked.append(f"budget {_duration(report['budget_seconds'])}")
    if report.get("ci_target") is not None:
        asked.append(f"CI target ±{report['ci_target']:g}")
    if report.get("max_n") is not None:
        asked.append(f"at most {report['max_n']} examples per task")
    reached = report.get("examples_per_task", {})
    counts = sorted(set(reached.values()))
    n_text = (f"{counts[0]} examples per task (`--xb-n {counts[0]}` reruns the same examples)" if len(counts) == 1
              else "examples per task: " + ", ".join(f"{k} {v}" for k, v in reached.items()))
    rounds = report.get("rounds", [])
    last = rounds[-1] if rounds else {}
    lines = [f"**Budgeted run** ({', '.join(asked)}): stopped after {len(rounds)} round"
             f"{'s' if len(rounds) != 1 else ''} because {report['stop_reason']}; {n_text}; "
             f"{_duration(report.get('seconds', 0))} of explaining and scoring."]
    over = report.get("seconds", 0) - (report.get("budget_seconds") or math.inf)
    if over > 0:
        first = rounds[0]["seconds"] if rounds else 0
        lines[0] += (f" It overran the budget by {_duration(over)}: rounds are never cut short"
                     + (f", and the first round alone took {_duration(first)}." if first > report["budget_seconds"]
                        else "."))
    if last.get("widest_half_width") is not None:
        lines[0] += (f" Widest 95% CI half-width ±{last['widest_half_width']:.3g} ({last['widest']}); "
                     f"{last['rankings_resolved']} of {last['rankings']} rankings have a significant leader.")
    lines += ["", "| round | examples per task | seconds | widest CI half-width | rankings resolved |",
              "|---:|---:|---:|---:|---:|"]
    for k, r in enumerate(rounds, 1):
        widest = "" if r.get("widest_half_width") is None else f"±{r['widest_half_width']:.3g}"
        lines.append(f"| {k} | {r['examples_per_task']} | {r['seconds']:.0f} | {widest} | "
                     f"{r['rankings_resolved']}/{r['rankings']} |")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"
