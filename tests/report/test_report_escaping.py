"""User text (data set names, texts, error messages that quote them) is escaped in every report:
HTML, Markdown and LaTeX."""
from pathlib import Path

from xaibench.report.writer import write_run


def test_user_text_is_escaped_in_every_report(tiny_model, run_tiny_session, tmp_path, monkeypatch):
    from xaibench.explainers.occlusion import Occlusion

    original = Occlusion.explain
    evil = "<script>alert('x')</script> | 100% & fun_stuff"

    def flaky(self, model, texts, *args, **kwargs):
        if any("broken" in t for t in texts):
            raise RuntimeError(f"cannot explain {evil}")
        return original(self, model, texts, *args, **kwargs)

    monkeypatch.setattr(Occlusion, "explain", flaky)
    name = "rev<script>_|&%.csv"
    session = run_tiny_session(tiny_model, tmp_path, [evil, "a broken phone"], dataset=name)
    out = Path(write_run(session.record))
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert '>&lt;</i>' in html and '>&amp;</i>' in html     # the text's own units "<" and "&"
    assert "rev&lt;script&gt;_|&amp;%.csv" in html
    # summary.md wraps long list items at 120 characters (indented continuation lines): unwrap
    md = (out / "summary.md").read_text(encoding="utf-8").replace("\n  ", " ")
    assert "<script>" not in md
    assert "rev\\<script\\>\\_\\|&%.csv" in md                                  # heading
    assert "cannot explain \\<script\\>alert('x')\\</script\\> \\| 100% & fun\\_stuff" in md  # failure line
    tex = (out / "summary.tex").read_text(encoding="utf-8")
    caption = next(line for line in tex.splitlines() if "\\caption" in line)
    assert "rev\\textless{}script\\textgreater{}\\_\\textbar{}\\&\\%.csv" in caption
