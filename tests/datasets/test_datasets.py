import pytest

import xaibench as xb
from xaibench.core.errors import DataValidationError


@pytest.mark.parametrize("name, min_test", [("reviews-en", 1000),
                                             pytest.param("reviews-zh", 2000, marks=pytest.mark.slow)])  # ~3 s
def test_builtin_splits_are_disjoint_deterministic_and_large_enough(name, min_test):
    splits = {s: xb.load_dataset(name, split=s) for s in ("train", "validation", "test")}
    ids = {s: set(d.ids) for s, d in splits.items()}
    assert not ids["train"] & ids["test"] and not ids["train"] & ids["validation"] and not ids["validation"] & ids["test"]
    assert len(splits["test"]) >= min_test
    texts = {s: set(d.texts) for s, d in splits.items()}
    assert not texts["train"] & texts["test"], "identical review text in train and test"
    again = xb.load_dataset(name, split="test")
    assert again.ids == splits["test"].ids
    assert set(splits["test"].labels) == {0, 1}
    full = xb.load_dataset(name, split="all")
    assert len(full) == sum(len(d) for d in splits.values())
    assert len(set(full.ids)) == len(full)


def test_reviews_en_label_rule_and_sources():
    ds = xb.load_dataset("reviews-en", split="all")
    assert {i.split("-")[0] for i in ds.ids} == {"amazon", "movie"}
    assert len(ds) == 12976  # distinct sentences rated > 0.5 or < -0.5 of 14,313
    assert ds.label_names == ["negative", "positive"]


def test_sampling_is_seeded_and_nested():
    a = xb.load_dataset("reviews-zh", split="test", n=16, seed=0)
    b = xb.load_dataset("reviews-zh", split="test", n=200, seed=0)
    c = xb.load_dataset("reviews-zh", split="test", n=16, seed=1)
    assert len(a) == 16 and a.ids == xb.load_dataset("reviews-zh", split="test", n=16, seed=0).ids
    assert set(a.ids) <= set(b.ids)
    assert a.ids != c.ids


def test_user_csv_with_bom_names_and_rationales(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("\ufefftext,label,rationale\n\"Great, fast delivery\",positive,fast delivery\n"
                    "质量太差了,negative,太差\n", encoding="utf-8")
    ds = xb.load_dataset(str(path))
    assert ds.texts == ["Great, fast delivery", "质量太差了"]
    assert ds.label_names == ["negative", "positive"] and ds.labels == [1, 0]
    assert ds[0].rationale == ("fast delivery",)
    assert ds.ids == ["row-2", "row-3"]  # header is line 1


def test_user_file_problems_are_all_reported_with_line_numbers(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,text,label\n1,good,1\n1,bad,0\n3,   ,1\n4,fine,\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        xb.load_dataset(str(path))
    message = str(err.value)
    assert "line 3: duplicate id '1'" in message
    assert "line 4: empty text" in message
    assert "line 5: missing label" in message


def test_gbk_file_gets_an_encoding_hint(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("text,label\n质量很好,1\n".encode("gbk"))
    with pytest.raises(DataValidationError, match="gbk"):
        xb.load_dataset(str(path))
    ds = xb.load_dataset(str(path), encoding="gbk")
    assert ds.texts == ["质量很好"]


def test_unknown_dataset_suggests_closest_name():
    with pytest.raises(KeyError, match="did you mean 'reviews-en'"):
        xb.load_dataset("reviews-eng")
