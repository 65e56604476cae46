"""Plausibility as ERASER defines it: rationale pieces match whole units only, offsets pick one
occurrence, and the span-level IOU F1 (per example, micro, macro) against values computed by hand."""
from __future__ import annotations

import json

import numpy as np
import pytest

import xaibench as xb
from xaibench.core.errors import DataValidationError
from xaibench.core.records import Example
from xaibench.core.references import rationale_spans, reference_of, unit_mask, unit_ranges, with_references
from xaibench.core.units import split_units
from xaibench.datasets.user_file import parse_rationale, read_user_file
from xaibench.metrics.plausibility import iou_f1_macro, iou_f1_micro, span_iou, unit_runs

TEXT = "a good movie but bad acting"  # units 0..5: a good movie but bad acting
REPEAT = "good plot and good cast"    # units 0..4: good plot and good cast; "good" at 0:4 and 14:18
ZH = "很失望，不推荐"                  # units 0..6: 很 失 望 ， 不 推 荐


def scored(model, text, scores, pieces=(), spans=()):
    a = xb.attribution_from_scores(model, text, scores, target=1)
    return with_references([a], [Example("x", text, 1, tuple(pieces), rationale_spans=tuple(spans))])[0]


def iou_f1(model, *attributions, **params):
    return xb.get_metric("plausibility_iou_f1", **params).evaluate(model, list(attributions))


# ---- which occurrences a rationale marks ----------------------------------------------------------

def test_a_piece_marks_every_occurrence_at_unit_boundaries():
    assert rationale_spans(REPEAT, ["good"]) == [(0, 4), (14, 18)]
    # "not" is a unit at 11:14; the "not" inside "nothing" (0:3) is not marked
    assert rationale_spans("nothing is not bad", ["not"]) == [(11, 14)]
    units = split_units("nothing is not bad")
    assert unit_mask(units, rationale_spans("nothing is not bad", ["not"])).tolist() == [False, False, True, False]
    # a multi-word piece (inner whitespace literal), surrounding whitespace ignored; overlapping repeats
    assert rationale_spans(TEXT, [" bad acting "]) == [(17, 27)]
    assert rationale_spans("ha ha ha", ["ha ha"]) == [(0, 5), (3, 8)]
    # Chinese: every character is a unit, so any substring of CJK characters is a unit sequence
    assert rationale_spans(ZH, ["失望"]) == [(1, 3)]
    assert unit_ranges(split_units(ZH), [(1, 3)]) == [(1, 3)]


def test_a_piece_that_is_not_a_unit_sequence_is_a_value_error_naming_it(tiny_model):
    with pytest.raises(ValueError, match="rationale piece 'noth' is not a whole sequence of units of the text: "
                                         "it occurs only inside 'nothing'"):
        rationale_spans("nothing is not bad", ["noth"])
    with pytest.raises(ValueError, match="rationale piece 'goo' is not a whole sequence of units"):
        rationale_spans(TEXT, ["goo"])
    with pytest.raises(ValueError, match="rationale piece '差评' is not a substring of the text"):
        rationale_spans(ZH, ["差评"])
    with pytest.raises(ValueError, match="example 'x': rationale piece 'noth'"):
        reference_of(Example("x", "nothing", 1, ("noth",)))
    with pytest.raises(ValueError, match="example 'x': rationale piece 'noth'"):
        with_references([xb.attribution_from_scores(tiny_model, "nothing", [1.0])], [Example("x", "nothing", 1, ("noth",))])


def test_offsets_pick_one_occurrence_and_must_align_with_units():
    assert rationale_spans(REPEAT, [], [(14, 18)]) == [(14, 18)]
    assert rationale_spans(REPEAT, ["cast"], [(14, 18)]) == [(14, 18), (19, 23)]
    # The gold label travels too (for auc_tp).
    assert reference_of(Example("x", REPEAT, 1, rationale_spans=((14, 18),))) == {"label": 1, "rationale": [[14, 18]]}
    with pytest.raises(ValueError, match=r"rationale span 1:4 \('ood'\) is not a whole sequence of units"):
        rationale_spans(REPEAT, [], [(1, 4)])
    with pytest.raises(ValueError, match="rationale span 20:40 is not a non-empty range of the text's 23"):
        rationale_spans(REPEAT, [], [(20, 40)])
    with pytest.raises(ValueError, match="not a pair of integer offsets"):
        rationale_spans(REPEAT, [], [(0.0, 4)])


# ---- the user file syntax -------------------------------------------------------------------------

def test_rationale_field_syntax():
    # "|"-separated; START:END is a span, a backslash makes it a literal piece, blanks are skipped
    assert parse_rationale(" good | 14:18 || \\12:19 ") == (("good", "12:19"), ((14, 18),))
    assert parse_rationale("\\\\12:19|12 :19") == (("\\12:19", "12 :19"), ())
    # JSON lists: strings are literal pieces (no splitting, no offsets), pairs are spans
    assert parse_rationale(["a|b", "3:4", [14, 18]]) == (("a|b", "3:4"), ((14, 18),))
    with pytest.raises(ValueError, match="rationale entry 1.5 is neither a piece"):
        parse_rationale(["good", 1.5])


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


def test_user_file_pieces_offsets_and_chinese(tmp_path):
    path = _write(tmp_path, "r.csv", "text,label,rationale\n"
                  "nothing is not bad,1,not\n"               # line 2: the word only
                  f"{REPEAT},1,14:18\n"                        # line 3: the second "good" only
                  f"{REPEAT},0,plot | 14:18\n"                 # line 4: mixed
                  "meet at 12:19 sharp,1,\\12:19\n"            # line 5: a literal piece that looks like offsets
                  f"{ZH},0,失望\n")                            # line 6: Chinese
    ds = read_user_file(path)
    refs = [reference_of(e)["rationale"] for e in ds.examples]
    assert refs == [[[11, 14]], [[14, 18]], [[5, 9], [14, 18]], [[8, 13]], [[1, 3]]]
    assert ds[2].rationale == ("plot",) and ds[2].rationale_spans == ((14, 18),)
    assert ds[3].rationale == ("12:19",) and ds[3].rationale_spans == ()
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text(json.dumps({"text": REPEAT, "label": "pos", "rationale": [[14, 18], "cast"]},
                                ensure_ascii=False) + "\n", encoding="utf-8")
    ds = read_user_file(str(jsonl))
    assert ds.labels == [0] and reference_of(ds[0])["rationale"] == [[14, 18], [19, 23]]  # spans kept by relabeling


@pytest.mark.parametrize("name, content, problem", [
    ("noth.csv", "text,label,rationale\nok,1,\nnothing is not bad,1,noth\n",
     ("line 3: rationale piece 'noth' is not a whole sequence of units of the text: it occurs only inside "
      "'nothing' (units are words and punctuation marks in English, characters in Chinese)")),
    ("absent.csv", "text,label,rationale\n很失望，不推荐,0,差评\n", "line 2: rationale piece '差评' is not a substring"),
    ("offsets.csv", f"text,label,rationale\n{REPEAT},1,1:4\n",
     "line 2: rationale span 1:4 ('ood') is not a whole sequence of units of the text: it cuts into 'good'"),
    ("range.jsonl", json.dumps({"text": "good", "label": 1, "rationale": [[0, 9]]}) + "\n",
     "line 1: rationale span 0:9 is not a non-empty range of the text's 4 characters"),
    ("float.jsonl", json.dumps({"text": "good", "label": 1, "rationale": [[0.0, 4]]}) + "\n",
     "line 1: rationale span (0.0, 4) is not a pair of integer offsets"),
])
def test_a_bad_rationale_in_a_user_file_names_its_line(tmp_path, name, content, problem):
    with pytest.raises(DataValidationError) as info:
        read_user_file(_write(tmp_path, name, content))
    assert problem in str(info.value)


# ---- ERASER's span-level IOU F1 -------------------------------------------------------------------

def test_spans_and_iou():
    assert unit_runs(np.array([True, True, False, True, False, True])) == [(0, 2), (3, 4), (5, 6)]
    assert unit_runs(np.array([False, False])) == []
    assert span_iou((0, 2), (1, 2)) == 0.5 and span_iou((2, 5), (4, 6)) == 0.25 and span_iou((0, 1), (3, 4)) == 0


def test_iou_f1_by_hand(tiny_model):
    gold = ("good", "bad acting")  # gold spans [1, 2), [4, 6); k = 3 rationale units
    # top 3 = good, bad, acting -> predicted [1, 2), [4, 6): both IOU 1; P = R = 2/2, F1 = 1
    exact = scored(tiny_model, TEXT, [0.0, 0.9, 0.1, 0.2, 0.8, 0.7], gold)
    # top 3 = a, good, but -> predicted [0, 2), [3, 4); IOU([0,2), [1,2)) = 1/2 >= 0.5 (a match, the
    # boundary), [3, 4) meets no gold span; M = 1: P = 1/2, R = 1/2, F1 = 1/2
    half = scored(tiny_model, TEXT, [0.9, 0.8, 0.1, 0.7, 0.6, 0.0], gold)
    # top 3 = movie, but, bad -> one predicted span [2, 5); IOU with [4, 6) = 1/4, with [1, 2) = 0; F1 = 0
    miss = scored(tiny_model, TEXT, [0.0, 0.1, 0.9, 0.8, 0.7, 0.2], gold)
    result = iou_f1(tiny_model, exact, half, miss)
    assert result.values.tolist() == [pytest.approx(1.0), pytest.approx(0.5), 0.0]
    assert result.details[1] == {"k": 3, "predicted_spans": [[0, 2], [3, 4]], "gold_spans": [[1, 2], [4, 6]],
                                 "n_matched": 1, "n_predicted": 2, "n_gold": 2, "precision": 0.5, "recall": 0.5}
    assert result.random_reference is None
    # threshold boundary: IOU 1/2 counts at 0.5, not at 0.51 -> F1 0
    assert iou_f1(tiny_model, half, threshold=0.51).values.tolist() == [0.0]
    # threshold 0.25: [2, 5) now matches [4, 6): M = 1 of 1 predicted, 2 gold: F1 = 2 * 1 * 1/2 / (3/2) = 2/3
    assert iou_f1(tiny_model, miss, threshold=0.25).values.tolist() == [pytest.approx(2 / 3)]
    # fixed k = 1: top 1 = a -> [0, 1) meets nothing: F1 0
    assert iou_f1(tiny_model, half, k=1).values.tolist() == [0.0]
    with pytest.raises(ValueError, match="threshold must be a number in"):
        xb.get_metric("plausibility_iou_f1", threshold=0)


def test_iou_f1_counts_matches_as_eraser_does(tiny_model):
    # pieces "bad" and "acting" are two gold spans [4, 5), [5, 6) even though they touch; the top 2
    # (bad, acting) form one predicted span [4, 6) with IOU 1/2 to each: one matched predicted span,
    # M = 1 for precision and recall alike (ERASER): P = 1/1, R = 1/2, F1 = 2/3
    touching = scored(tiny_model, TEXT, [0.0, 0.1, 0.2, 0.3, 0.9, 0.8], ("bad", "acting"))
    assert iou_f1(tiny_model, touching).values.tolist() == [pytest.approx(2 / 3)]


def test_iou_f1_of_repeats_offsets_and_chinese(tiny_model):
    # "good" twice: gold [0, 1), [3, 4), k = 2
    both = scored(tiny_model, REPEAT, [0.9, 0.1, 0.2, 0.8, 0.0], ["good"])        # [0,1), [3,4): F1 1
    # top 2 = good, plot -> [0, 2): IOU 1/2 with [0, 1): M = 1, P = 1/1, R = 1/2, F1 = 2/3
    first = scored(tiny_model, REPEAT, [0.9, 0.8, 0.2, 0.1, 0.0], ["good"])
    # offsets 14:18 = the second "good" only: gold [3, 4), k = 1
    second_hit = scored(tiny_model, REPEAT, [0.1, 0.0, 0.0, 0.9, 0.0], spans=[(14, 18)])   # F1 1
    second_miss = scored(tiny_model, REPEAT, [0.9, 0.0, 0.0, 0.1, 0.0], spans=[(14, 18)])  # [0, 1): F1 0
    # Chinese: 失望 = units [1, 3), k = 2; top 2 = 失, 望 -> F1 1; top 2 = 望, ， -> [2, 4): IOU 1/3: F1 0
    zh_hit = scored(tiny_model, ZH, [0.0, 0.9, 0.8, 0.1, 0.0, 0.0, 0.0], ["失望"])
    zh_miss = scored(tiny_model, ZH, [0.0, 0.1, 0.9, 0.8, 0.0, 0.0, 0.0], ["失望"])
    values = iou_f1(tiny_model, both, first, second_hit, second_miss, zh_hit, zh_miss).values
    assert values.tolist() == [1.0, pytest.approx(2 / 3), 1.0, 0.0, 1.0, 0.0]
    # the token-level metrics see the same reference units: token F1 of zh_miss = |{望}| / 2 = 1/2
    assert xb.get_metric("plausibility_token_f1").score(tiny_model, [second_miss, zh_miss]).tolist() == [
        0.0, pytest.approx(0.5)]


def test_iou_f1_micro_and_macro_by_hand(tiny_model):
    # ex 1 (TEXT, top 3 = a, good, but): M = 1, 2 predicted, 2 gold: P = 1/2, R = 1/2, F1 = 1/2
    one = scored(tiny_model, TEXT, [0.9, 0.8, 0.1, 0.7, 0.6, 0.0], ("good", "bad acting"))
    # ex 2 (REPEAT, top 2 = good, plot): M = 1, 1 predicted, 2 gold: P = 1, R = 1/2, F1 = 2/3
    two = scored(tiny_model, REPEAT, [0.9, 0.8, 0.2, 0.1, 0.0], ["good"])
    # ex 3: no rationale: NaN, left out of both averages
    three = xb.attribution_from_scores(tiny_model, TEXT, [0.9, 0.8, 0.1, 0.7, 0.6, 0.0])
    result = iou_f1(tiny_model, one, two, three)
    assert np.isnan(result.values[2]) and "rationale" in result.notes[2]
    # micro: sum M = 2, sum predicted = 3, sum gold = 4: P = 2/3, R = 1/2, F1 = 2 (2/3)(1/2) / (7/6) = 4/7
    assert iou_f1_micro(result) == {"precision": pytest.approx(2 / 3), "recall": pytest.approx(0.5),
                                    "f1": pytest.approx(4 / 7), "n_examples": 2}
    # macro: mean F1 = (1/2 + 2/3) / 2 = 7/12 (the summary mean); ERASER's F1 of the means:
    # mean P = (1/2 + 1) / 2 = 3/4, mean R = 1/2, F1 = 2 (3/4)(1/2) / (5/4) = 3/5
    assert result.mean() == pytest.approx(7 / 12)
    assert iou_f1_macro(result) == {"precision": pytest.approx(0.75), "recall": pytest.approx(0.5),
                                    "f1_of_means": pytest.approx(0.6), "mean_f1": pytest.approx(7 / 12),
                                    "n_examples": 2}
    with pytest.raises(ValueError, match="expected a result of 'plausibility_iou_f1'"):
        iou_f1_micro(xb.get_metric("plausibility_iou").evaluate(tiny_model, [one]))
    assert np.isnan(iou_f1_micro(iou_f1(tiny_model, three))["f1"])


def test_iou_f1_declares_its_facts():
    spec = xb.get_metric("plausibility_iou_f1")
    assert (spec.family, spec.higher_is_better, spec.uses_reference) == ("plausibility", True, True)
    assert spec.params() == {"k": None, "threshold": 0.5}
