"""Book-wide conventions of the chapters: formulas that render offline (MathJax from an installed package,
book/_ext/offline_mathjax.py), exercises with folded answers, one folded provenance note, figures sized for
the column."""

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def load_extension():
    spec = importlib.util.spec_from_file_location("offline_mathjax", ROOT / "book" / "_ext" / "offline_mathjax.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_book_loads_the_extension():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["sphinx"]["local_extensions"] == {"offline_mathjax": "book/_ext"}


def test_mathjax_points_at_files_the_build_copies():
    ext = load_extension()
    config = SimpleNamespace()
    ext.use_local_mathjax(None, config)
    script, query = config.mathjax_path.split("?config=")
    folder = ext.mathjax_folder()
    assert not config.mathjax_path.startswith(("http:", "https:", "//"))
    assert (folder / script.removeprefix("mathjax/")).is_file()
    assert (folder / "config" / f"{query}.js").is_file()
    assert config.mathjax3_config is None and config.myst_update_mathjax is False


def test_a_missing_package_is_a_clear_error(monkeypatch):
    ext = load_extension()
    monkeypatch.setattr(ext.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="pip install"):
        ext.mathjax_folder()


def test_book_pages_write_formulas_in_tex():
    pages = {p.name: p.read_text() for p in (ROOT / "notebooks").glob("0[1237]_*.py")}
    assert all("$$" in text for text in pages.values()), [n for n, t in pages.items() if "$$" not in t]
    assert "pages are written in plain text" not in "".join(pages.values())


CHAPTERS = sorted((ROOT / "notebooks").glob("0*.py"))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_has_two_to_four_exercises_with_folded_answers(chapter):
    text = chapter.read_text()
    section = text.split("# ## Exercises", 1)
    assert len(section) == 2, "no Exercises section"
    questions = re.findall(r"^# \d\. \*\*", section[1], flags=re.M)
    answers = re.findall(r"^#    :::\{admonition\} Answer\n#    :class: dropdown$", section[1], flags=re.M)
    assert 2 <= len(questions) <= 4 and len(answers) == len(questions)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_ends_with_its_folded_provenance_note(chapter):
    cells = chapter.read_text().rstrip().split("# %%")
    last = cells[-1].strip().splitlines()
    assert last[0] == 'tags=["remove-input"]' and last[-1].split("#")[0].strip() == "note.html()"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_no_figure_is_wider_than_the_column_allows(chapter):
    from sslvit_lite.display import MAX_FIGURE_WIDTH

    widths = re.findall(r"figsize=\(([^,]+?), ", chapter.read_text())
    for width in widths:
        literal = re.fullmatch(r"[\d.]+", width.strip())
        assert (float(width) <= MAX_FIGURE_WIDTH) if literal else width.strip() == f"min({MAX_FIGURE_WIDTH}", width
