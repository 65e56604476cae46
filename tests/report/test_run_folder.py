"""The run folder: a re-run into the same ``--xb-out`` folder replaces the old run atomically but
keeps a scaling sweep stored there, and that sweep's pictures and exponents go into the report."""
import pandas as pd


def test_rerun_into_the_same_out_folder_replaces_the_run_but_keeps_the_scaling_sweep(tmp_path):
    from xaibench.report.writer import _publish

    final, staging = tmp_path / "out", tmp_path / "staging"
    (final / "scaling").mkdir(parents=True)
    (final / "summary.csv").write_text("old run")
    (final / "stale.csv").write_text("only the old run wrote this")
    (final / "scaling" / "scaling.csv").write_text("sweep")
    staging.mkdir()
    (staging / "summary.csv").write_text("new run")
    _publish(staging, final)
    assert (final / "summary.csv").read_text() == "new run"
    assert not (final / "stale.csv").exists()
    assert (final / "scaling" / "scaling.csv").read_text() == "sweep"
    assert not staging.exists() and [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_scaling_sweep_in_the_out_folder_goes_into_the_report(tmp_path):
    from xaibench.report.writer import _scaling_sweep

    assert _scaling_sweep(tmp_path / "scaling") == ([], [])
    folder = tmp_path / "scaling"
    folder.mkdir()
    (folder / "scaling.png").write_bytes(b"\x89PNG")
    pd.DataFrame([{"model": "m", "explainer": "lime", "exponent": 0.987, "lengths": 6},
                  {"model": "m", "explainer": "occlusion", "exponent": 2.08, "lengths": 6}]).to_csv(
        folder / "scaling_exponents.csv", index=False)
    pictures, tables = _scaling_sweep(folder)
    assert pictures == [folder / "scaling.png"]
    (title, table), = tables
    assert "tokens" in title and table.loc["lime", "m"] == 0.99 and table.loc["occlusion", "m"] == 2.08
