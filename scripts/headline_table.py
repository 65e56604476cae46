"""The README's headline table, from a results folder (by default ``results/reference``).

    python scripts/headline_table.py                      # results/reference
    python scripts/headline_table.py /tmp/run --tasks reviews-en,reviews-zh

The same table every run writes as ``leaderboard.md`` (``xaibench.report.leaderboard``, where the
columns and cells are defined), rebuilt from the folder's summary.csv and ranks.csv, optionally for
other headline tasks.
"""
from __future__ import annotations

import argparse
import os

import pandas as pd

from xaibench.report.leaderboard import leaderboard


def headline(folder: str, tasks: list[str] | None = None) -> str:
    ranks = pd.read_csv(os.path.join(folder, "ranks.csv"))
    summary = pd.read_csv(os.path.join(folder, "summary.csv"))
    table = leaderboard(summary, ranks, tasks or None)
    return table.reset_index().to_markdown(index=False, tablefmt="pipe", disable_numparse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default="results/reference")
    parser.add_argument("--tasks", default="", help="datasets whose metric means are shown (default: reviews-en "
                                                    "and reviews-zh when present, else the first two)")
    args = parser.parse_args()
    print(headline(args.folder, [t for t in args.tasks.split(",") if t]))


if __name__ == "__main__":
    main()
