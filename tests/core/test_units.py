import pytest

from xaibench.core.units import keep_units, remove_units, split_units


def texts(s):
    return [u.text for u in split_units(s)]


@pytest.mark.parametrize("text, expected", [
    ("I don't like this well-made product!", ["I", "don't", "like", "this", "well-made", "product", "!"]),
    ("质量很好，物流也快！", ["质", "量", "很", "好", "，", "物", "流", "也", "快", "！"]),
    ("iPhone手机很好用 5G", ["iPhone", "手", "机", "很", "好", "用", "5G"]),
    ("great 👍🏽 phone 👨‍👩‍👧", ["great", "👍🏽", "phone", "👨‍👩‍👧"]),
    ("a\u200bb  c", ["a", "b", "c"]),
    ("مرحبا بك hello", ["مرحبا", "بك", "hello"]),
    ("école", ["école"]),
    ("", []),
    ("   ", []),
])
def test_split_units(text, expected):
    assert texts(text) == expected


def test_spans_index_the_text():
    s = "Mixed 中文 text, with emoji 😀 and Ünïcödé!"
    for u in split_units(s):
        assert s[u.start:u.end] == u.text


def test_remove_and_keep_follow_the_removal_rule():
    s = "the  movie was   great !"
    units = split_units(s)
    assert remove_units(s, units, [1]) == "the was great !"  # spans cut, whitespace collapsed
    assert remove_units(s, units, []) == "the movie was great !"
    assert keep_units(s, units, [3, 1]) == "movie great"  # original order
    assert keep_units(s, units, []) == ""
    zh = "质量很好"
    assert remove_units(zh, split_units(zh), [2, 3]) == "质量"
