"""Cited units of sentence explanations (``xaibench.core.citations``) and stated classes
(``xaibench.core.class_names``): English and Chinese, quotes and bare words, case, repeats, words
absent from the input, whole-unit matching without stemming."""
from __future__ import annotations

import numpy as np
import pytest

from xaibench.core.citations import cite, citation_scores, cited_units
from xaibench.core.class_names import class_phrase, language_of, stated_class
from xaibench.core.units import split_units

LABELS = ["negative", "positive"]


def words(text, indices):
    units = split_units(text)
    return [units[i].text for i in indices]


def test_quoted_english_pieces_cite_their_units_in_order_of_mention():
    text = "The battery died after two days and the screen is awful"
    sentence = "Predicted negative, mainly because of “awful” and “died”."
    citations = cite(sentence, text)
    assert [c.piece for c in citations] == ["awful", "died"]
    assert all(c.quoted for c in citations)
    assert words(text, cited_units(citations)) == ["awful", "died"]
    scores = citation_scores(citations, len(split_units(text)))
    units = [u.text for u in split_units(text)]
    assert scores[units.index("awful")] == 1.0 and scores[units.index("died")] == 0.5
    assert np.count_nonzero(scores) == 2  # uncited units score 0
    ranking = np.lexsort((np.arange(len(scores)), -scores))
    assert [units[i] for i in ranking[:2]] == ["awful", "died"]


def test_straight_quotes_case_and_multiword_pieces():
    text = "Not good at all, NOT GOOD"
    citations = cite('The model said negative because of "not good".', text)
    assert len(citations) == 1
    # Case-insensitive, every occurrence of the sequence.
    assert words(text, citations[0].units) == ["Not", "good", "NOT", "GOOD"]


def test_matching_is_whole_units_without_stemming():
    text = "Goodness, the die is cast and nothing works"
    citations = cite("because of “good”, “died” and “not”", text)
    assert [c.piece for c in citations] == ["good", "died", "not"]
    assert not any(c.found for c in citations)  # "good" is not inside "Goodness", "died" is not "die"
    assert not citation_scores(citations, len(split_units(text))).any()


def test_words_absent_from_the_input_are_kept_as_unfound_citations():
    text = "Great phone, fast delivery"
    citations = cite("Predicted positive because of “battery” and “fast”.", text)
    assert [(c.piece, c.found) for c in citations] == [("battery", False), ("fast", True)]
    scores = citation_scores(citations, len(split_units(text)))
    # Only found pieces are ranked: "fast" is the first (and only) one, so it scores 1.
    assert scores[[u.text for u in split_units(text)].index("fast")] == 1.0


def test_repeated_pieces_count_once_at_their_first_mention():
    text = "bad bad service, good food"
    citations = cite("“good” and “bad”, and again “Bad” and “good”", text)
    assert [c.piece for c in citations] == ["good", "bad"]
    assert words(text, citations[1].units) == ["bad", "bad"]


def test_quoted_punctuation_is_trimmed_unless_it_is_the_whole_piece():
    text = "It died. Awful!"
    citations = cite("because of “died.” and “!”", text)
    assert words(text, citations[0].units) == ["died"]
    assert words(text, citations[1].units) == ["!"]


def test_chinese_quotes_cite_characters_as_a_sequence():
    text = "质量很差，非常失望，不会再买"
    citations = cite("模型判断为差评，主要因为“失望”和“差”。", text)
    assert [c.piece for c in citations] == ["失望", "差"]
    assert words(text, cited_units(citations)) == ["失", "望", "差"]
    scores = citation_scores(citations, len(split_units(text)))
    assert scores[[u.text for u in split_units(text)].index("失")] == 1.0
    assert scores[[u.text for u in split_units(text)].index("差")] == 0.5
    # Corner brackets work too; a piece absent from the text cites nothing.
    assert [c.found for c in cite("因为「不会」和「便宜」", text)] == [True, False]


def test_bare_words_without_quotes_skip_function_words_and_class_names():
    text = "The battery died quickly, not worth it"
    citations = cite("The review is negative because the battery died and it is not worth the price", text)
    assert [c.piece for c in citations] == ["battery", "died", "not", "worth", "price"]
    assert [c.quoted for c in citations] == [False] * 5
    assert [c.found for c in citations] == [True, True, True, True, False]


def test_bare_chinese_characters_skip_the_frame_and_class_phrases():
    text = "物流太慢了，包装也破"
    citations = cite("模型判断为差评，因为物流慢", text)
    assert [c.piece for c in citations] == ["物", "流", "慢"]
    assert all(c.found for c in citations)


def test_a_quoted_class_name_absent_from_the_text_is_the_verdict_not_a_citation():
    text = "Great phone"
    assert [c.piece for c in cite('The model predicted "positive" because of "Great".', text)] == ["Great"]
    # ... but a quoted class name that is in the text is cited evidence.
    assert [c.found for c in cite('because of "negative"', "a negative review of a good phone")] == [True]


def test_a_sentence_that_cites_nothing():
    assert cite("Predicted negative; no single word stands out.", "meh") == []
    assert cite("", "meh") == []


def test_stated_class_reads_the_verdict_outside_quotes_first():
    assert stated_class("Predicted negative, mainly because of “good”.", LABELS) == 0
    assert stated_class("This review is POSITIVE overall.", LABELS) == 1
    assert stated_class("The text is positively glowing.", LABELS) is None  # whole words only
    assert stated_class("It was “negative”.", LABELS) == 0  # quoted only when nothing else names a class
    assert stated_class("模型判断为差评，主要因为“好”。", LABELS) == 0
    assert stated_class("这是一条好评", LABELS) == 1
    assert stated_class("no verdict here", LABELS) is None
    assert stated_class("Predicted neutral", ["negative", "neutral", "positive"]) == 1
    assert stated_class("label spam detected", ["ham", "spam"]) == 1


@pytest.mark.parametrize("label, language, phrase", [
    ("negative", "en", "negative"), ("negative", "zh", "差评"), ("positive", "zh", "好评"),
    ("neutral", "zh", "中评"), ("spam", "zh", "spam")])
def test_class_phrases(label, language, phrase):
    assert class_phrase(label, language) == phrase


def test_language_of():
    assert language_of("质量很好") == "zh" and language_of("iPhone 很好") == "zh"
    assert language_of("great phone") == "en" and language_of("") == "en"
