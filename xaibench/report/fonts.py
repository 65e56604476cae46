"""Fonts for figures and HTML: Chinese text must show as glyphs, never as empty boxes.

- ``cjk_font_path``: the CJK font file (Noto Sans CJK SC from the ``mplfonts`` package, a
  dependency, so Chinese renders offline on a bare machine; else a system CJK font).
- ``register_cjk_font`` / ``font_families``: the family list for matplotlib text, the default
  sans-serif first and the CJK family second (matplotlib falls back per glyph).
- ``missing_glyphs`` / ``check_glyphs``: characters none of the fonts can draw; ``check_glyphs``
  raises ``ValueError`` naming them, so a figure fails loudly instead of drawing boxes.
- ``font_face_css``: an ``@font-face`` rule embedding a subset of the CJK font (only the characters
  a page uses, WOFF, base64 ``data:`` URL) so an HTML report shows Chinese without installed fonts.

mplfonts is MIT-licensed; the Noto Sans CJK font it ships is under the SIL Open Font License,
which allows embedding subsets in documents.
"""
from __future__ import annotations

import base64
import functools
import importlib.util
import io
import os
import unicodedata
from collections.abc import Iterable
from pathlib import Path

_MPLFONTS_FILE = ("fonts", "NotoSansCJKsc-Regular.otf")
# System font files, most preferred first (matched against the lower-case file name without "-_ ").
_SYSTEM_HINTS = ("notosanscjksc", "notosanscjk", "notosanssc", "sourcehansanssc", "sourcehansanscn",
                 "sourcehansans", "wqyzenhei", "wqymicrohei", "wenquanyi", "droidsansfallback")
_PROBE = "中文好"  # a CJK font worth using has these
_HOW_TO_GET_ONE = ("no font with Chinese glyphs found: `pip install mplfonts` (ships Noto Sans CJK SC; "
                   "a dependency of xaibench) or install a system CJK font (e.g. `apt-get install fonts-noto-cjk`)")


def _font_number(path: str | os.PathLike) -> int | None:
    return 0 if str(path).lower().endswith((".ttc", ".otc")) else None


@functools.lru_cache(maxsize=None)
def _codepoints(path: str) -> frozenset[int]:
    """The code points a font file maps to glyphs (its best cmap; face 0 of a collection)."""
    from fontTools.ttLib import TTFont

    number = _font_number(path)
    kwargs = {"fontNumber": number} if number is not None else {}
    font = TTFont(path, lazy=True, **kwargs)
    try:
        return frozenset((font["cmap"].getBestCmap() or {}).keys())
    finally:
        font.close()


def _mplfonts_file() -> Path | None:
    spec = importlib.util.find_spec("mplfonts")  # locates the package without running its code
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root).joinpath(*_MPLFONTS_FILE)
        if path.is_file():
            return path
    return None


def _system_file() -> Path | None:
    from matplotlib import font_manager

    ranked = []
    for path in font_manager.findSystemFonts():
        name = os.path.basename(path).lower()
        for char in "-_ ":
            name = name.replace(char, "")
        rank = next((i for i, hint in enumerate(_SYSTEM_HINTS) if name.startswith(hint)), None)
        if rank is not None:
            ranked.append((rank, "bold" in name or "light" in name or "thin" in name, path))
    for *_, path in sorted(ranked):
        try:
            if all(ord(c) in _codepoints(path) for c in _PROBE):
                return Path(path)
        except Exception:  # noqa: BLE001 - an unreadable font file is simply skipped
            continue
    return None


@functools.lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    """The CJK font file figures and HTML use: mplfonts' ``fonts/NotoSansCJKsc-Regular.otf``, else a
    system Noto Sans CJK / Source Han Sans / WenQuanYi / Droid Sans Fallback file.
    Raises ``RuntimeError`` (saying how to get one) when there is none."""
    path = _mplfonts_file() or _system_file()
    if path is None:
        raise RuntimeError(_HOW_TO_GET_ONE)
    return path


@functools.lru_cache(maxsize=1)
def register_cjk_font() -> str:
    """Add the CJK font file to matplotlib's font manager (once) and return its family name,
    e.g. "Noto Sans CJK SC"."""
    from matplotlib import font_manager

    path = str(cjk_font_path())
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


def _default_family() -> str:
    import matplotlib

    return list(matplotlib.rcParams["font.sans-serif"])[0]


def _drawable(label) -> set[str]:
    return {c for c in str(label) if not c.isspace() and unicodedata.category(c) != "Cc"}


def font_families(labels: Iterable = ()) -> list[str]:
    """Font family list for matplotlib text: the default sans-serif, then the CJK family (matplotlib
    takes each glyph from the first family that has it). Pass it to every text object (or as
    ``font.family``): tick labels are created at draw time.

    Without a CJK font the list is the default family alone, unless ``labels`` hold characters it
    lacks: then the ``RuntimeError`` of ``cjk_font_path`` (how to get a font) is raised."""
    default = _default_family()
    try:
        return [default, register_cjk_font()]
    except RuntimeError:
        if missing_glyphs(labels, [default]):
            raise
        return [default]


def _family_file(family: str) -> str | None:
    from matplotlib import font_manager

    try:
        return font_manager.findfont(font_manager.FontProperties(family=[family]), fallback_to_default=False)
    except ValueError:
        return None


def missing_glyphs(labels: Iterable, families: Iterable[str]) -> set[str]:
    """Characters of ``labels`` that none of the font ``families`` has a glyph for (whitespace and
    control characters aside): matplotlib would draw them as empty boxes."""
    chars = set().union(*(_drawable(label) for label in labels)) if labels else set()
    if not chars:
        return set()
    for family in families:
        path = _family_file(family)
        if path is not None:
            have = _codepoints(path)
            chars = {c for c in chars if ord(c) not in have}
        if not chars:
            break
    return chars


def _describe(char: str) -> str:
    name = unicodedata.name(char, None) or {"Co": "private use", "Cn": "unassigned",
                                            "Cs": "surrogate"}.get(unicodedata.category(char), "no name")
    return f"{char!r} (U+{ord(char):04X} {name})"


def check_glyphs(labels: Iterable, families: Iterable[str]) -> None:
    """Raise ``ValueError`` naming the characters of ``labels`` that no font in ``families`` can
    draw (emoji and private-use characters included), instead of letting them render as boxes."""
    labels, families = list(labels), list(families)
    missing = missing_glyphs(labels, families)
    if missing:
        shown = ", ".join(_describe(c) for c in sorted(missing))
        raise ValueError(f"no font among {families} has a glyph for {len(missing)} character(s) of the figure's "
                         f"text: {shown}; they would render as empty boxes (replace or drop them, or "
                         f"install a font that has them)")


def _has_cjk(text: str) -> bool:
    import regex

    from xaibench.core.units import _CJK  # the characters the unit split treats as CJK

    return regex.search(f"[{_CJK}]", text) is not None


def font_face_css(chars: str, family: str = "xb-cjk") -> str:
    """A CSS ``@font-face`` rule for ``family`` whose source is a base64 ``data:`` URL of a WOFF
    subset of the CJK font holding exactly the characters of ``chars`` (no hinting, only the
    tables a browser needs), with ``font-display: swap``. "" when ``chars`` has no CJK character.
    Use the family as a fallback after the page's own fonts: ``font-family: system-ui, xb-cjk``."""
    if not family or any(c in family for c in "\"'\\;{}<>\n"):
        raise ValueError(f"family must be a plain CSS font family name, got {family!r}")
    wanted = "".join(sorted(_drawable(chars)))
    if not _has_cjk(wanted):
        return ""
    return _font_face_css(wanted, family)


@functools.lru_cache(maxsize=32)
def _font_face_css(chars: str, family: str) -> str:
    data = base64.b64encode(subset_font(chars)).decode("ascii")
    return (f'@font-face {{\n  font-family: "{family}";\n'
            f'  src: url(data:font/woff;base64,{data}) format("woff");\n'
            f"  font-display: swap;\n}}\n")


def subset_font(chars: str) -> bytes:
    """WOFF bytes of the CJK font cut down to the glyphs of ``chars`` (plus .notdef)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    path = str(cjk_font_path())
    number = _font_number(path)
    options = subset.Options()
    options.flavor = "woff"
    options.hinting = False
    options.desubroutinize = True  # compresses better once the subroutines serve few glyphs
    options.layout_features = []  # no GSUB/GPOS lookups: plain horizontal text only
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]  # names, copyright and the OFL notice (13, 14) kept
    options.notdef_outline = True
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "vhea", "vmtx", "VORG", "DSIG", "meta"]
    font = TTFont(path, lazy=False, **({"fontNumber": number} if number is not None else {}))
    try:
        subsetter = subset.Subsetter(options=options)
        subsetter.populate(text=chars)
        subsetter.subset(font)
        buffer = io.BytesIO()
        font.recalcTimestamp = False  # the source's date, not now: the same page bytes on every run
        font.flavor = "woff"
        font.save(buffer)
        return buffer.getvalue()
    finally:
        font.close()


@functools.lru_cache(maxsize=1)
def _source_font():
    from fontTools.ttLib import TTFont

    path = str(cjk_font_path())
    number = _font_number(path)
    return TTFont(path, lazy=True, **({"fontNumber": number} if number is not None else {}))


def _source_name(font, name_id: int) -> str | None:
    record = font["name"].getName(name_id, 3, 1, 0x409) or font["name"].getName(name_id, 1, 0, 0)
    return None if record is None else record.toUnicode()


@functools.lru_cache(maxsize=64)
def _truetype_subset_family(chars: str) -> str:
    import hashlib
    import tempfile

    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from matplotlib import font_manager

    src = _source_font()
    cmap = src["cmap"].getBestCmap()
    mapping = {ord(c): cmap[ord(c)] for c in chars if ord(c) in cmap}
    names = [".notdef", *sorted(set(mapping.values()) - {".notdef"})]
    glyph_set, hmtx = src.getGlyphSet(), src["hmtx"]
    glyphs = {}
    for name in names:  # cubic (CFF) outlines to quadratic (TrueType) ones
        pen = TTGlyphPen(None)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    digest = hashlib.sha1(chars.encode("utf-8")).hexdigest()[:12]
    family = f"XB CJK {digest}"
    builder = FontBuilder(src["head"].unitsPerEm, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap(mapping)
    builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics({name: hmtx[name] for name in names})
    builder.setupHorizontalHeader(ascent=src["hhea"].ascent, descent=src["hhea"].descent)
    os2 = src["OS/2"]
    builder.setupOS2(sTypoAscender=os2.sTypoAscender, sTypoDescender=os2.sTypoDescender,
                     sTypoLineGap=os2.sTypoLineGap, usWinAscent=os2.usWinAscent, usWinDescent=os2.usWinDescent,
                     fsType=os2.fsType)
    builder.setupNameTable({"familyName": family, "styleName": "Regular", "psName": f"XBCJK-{digest}",
                            **{key: value for key, value in (("copyright", _source_name(src, 0)),
                                                             ("licenseDescription", _source_name(src, 13)),
                                                             ("licenseInfoURL", _source_name(src, 14))) if value}})
    builder.setupPost()
    # The source's date, not now: the same characters give the same font, and the same PDF bytes.
    builder.font["head"].created = builder.font["head"].modified = src["head"].modified
    builder.font.recalcTimestamp = False
    folder = Path(tempfile.gettempdir()) / f"xaibench-fonts-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"xb-cjk-{digest}.ttf"
    partial = folder / f".{path.name}.{os.getpid()}"
    builder.save(str(partial))
    os.replace(partial, path)
    font_manager.fontManager.addfont(str(path))
    return family


def truetype_cjk_family(chars: str) -> str | None:
    """Family name of a TrueType-outline copy of the CJK font holding the CJK font's glyphs for
    ``chars`` (registered with matplotlib), or None when ``chars`` needs none of them.

    For PDF output: matplotlib embeds fonts as Type 42 (TrueType) but cannot embed the CFF outlines
    of Noto Sans CJK correctly (viewers such as MuPDF then show nothing), so a PDF's CJK text is
    drawn with this converted subset instead."""
    try:
        have = _codepoints(str(cjk_font_path()))
    except RuntimeError:
        return None
    default = _family_file(_default_family())
    default_has = _codepoints(default) if default else frozenset()
    needed = "".join(sorted({c for c in _drawable(chars) if ord(c) in have and ord(c) not in default_has}))
    return _truetype_subset_family(needed) if needed else None
