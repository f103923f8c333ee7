"""Small display helpers that several chapter notebooks share.

The book's rule of honest results asks every table and figure to say where its numbers
came from; these helpers give the chapters one way of doing that, so that a caption or a table
looks the same in every chapter and the notebooks keep only the code that teaches something:

- :func:`html_table`: a table with its caption (provenance) underneath, escaped, rendered alike by
  Jupyter, Colab and the Jupyter Book build (chapters 01, 02).
- :func:`to_rgb`: normalised model inputs back to displayable pictures (chapters 01, 02).
- :func:`model_origin` and :func:`caption_below`: the "where did this model come from" line and
  the caption block under a matplotlib figure (chapters 03, 04, 06).
- :func:`cpu_threads_for_small_models`: one CPU thread for the book's small models (chapters
  03–07, 09).
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence

import torch

from .provenance import provenance_caption

CAPTION_STYLE = "caption-side: bottom; font-size: 0.8em"
CELL_STYLE = "padding: 0.15em 0.6em; vertical-align: top; text-align: left"  # columns that do not run together


class HtmlMarkup(str):
    """A string of HTML that Jupyter renders as HTML (``_repr_html_``); needs no IPython import."""

    def _repr_html_(self) -> str:
        return str(self)


# One name and one colour per model across the chapters, so figures compare at a glance.
MODEL_TITLES = {"mocov3": "CL (MoCo v3)", "simmim": "MIM (SimMIM)", "mae": "MIM (MAE)", "hybrid": "CL+MIM hybrid",
                "dino": "CL (DINO)", "random_init": "random init"}
MODEL_COLORS = {"mocov3": "tab:blue", "simmim": "tab:red", "mae": "tab:orange", "hybrid": "tab:purple",
                "dino": "tab:cyan", "random_init": "tab:gray"}


def model_styles(*names: str) -> tuple[dict[str, str], dict[str, str]]:
    """``(titles, colours)`` of the models ``names``, in that order, from :data:`MODEL_TITLES` / :data:`MODEL_COLORS`."""
    unknown = [n for n in names if n not in MODEL_TITLES]
    if unknown:
        raise ValueError(f"no title for {unknown}; known models: {', '.join(MODEL_TITLES)}")
    return {n: MODEL_TITLES[n] for n in names}, {n: MODEL_COLORS[n] for n in names}


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], caption: str,
               widths: Sequence[str] | None = None) -> HtmlMarkup:
    """An HTML table with ``caption`` under it; every cell and the caption are HTML-escaped.

    ``rows`` are lists of already formatted strings, each as long as ``header``. A plain HTML table
    (not a pandas DataFrame) renders the same in Jupyter, Colab and the static book, and the
    caption carries the provenance the book requires of every number. ``widths`` (CSS widths, one per
    column, e.g. ``"40%"``) spread a table with long text over the column. The result is a ``str`` of
    the markup that ``IPython.display.display`` renders as a table.
    """
    header = [str(h) for h in header]
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"row {i} has {len(row)} cells, the header has {len(header)}")
    if widths is not None and len(widths) != len(header):
        raise ValueError(f"{len(widths)} widths for {len(header)} columns")

    def cells(tag: str, values: Sequence[str], sizes: Sequence[str | None]) -> str:
        return "".join(f'<{tag} style="{CELL_STYLE}{f"; width: {w}" if w else ""}">{html.escape(str(v))}</{tag}>'
                       for v, w in zip(values, sizes))

    plain = [None] * len(header)
    body = "".join(f"<tr>{cells('td', row, plain)}</tr>" for row in rows)
    table_style = ' style="width: 100%"' if widths is not None else ""
    return HtmlMarkup(f'<table{table_style}><caption style="{CAPTION_STYLE}">{html.escape(caption)}</caption>'
                      f"<thead><tr>{cells('th', header, widths or plain)}</tr></thead><tbody>{body}</tbody></table>")


def to_rgb(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Normalised float images (B, 3, H, W) → displayable pictures (B, H, W, 3) in [0, 1] on the CPU.

    Undoes :func:`sslvit_lite.data.normalize` (x · std + mean), clamps to [0, 1] (augmented or
    predicted pixels may leave it) and puts channels last for ``imshow``.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
    if len(mean) != 3 or len(std) != 3:
        raise ValueError(f"mean and std must have 3 values (RGB), got {len(mean)} and {len(std)}")
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)  # (1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)  # (1, 3, 1, 1)
    pixels = images.detach().float().cpu() * std_t + mean_t  # (B, 3, H, W)
    return pixels.clamp(0, 1).permute(0, 2, 3, 1)  # (B, H, W, 3)


def model_origin(title: str, info: dict) -> str:
    """One caption line for a trained backbone: its title, origin (saved run / trained now) and provenance.

    ``info`` is the dict :func:`sslvit_lite.saved_runs.trained_backbone` returns with the model; its
    ``provenance`` names preset, epochs, device and commit.
    """
    return f"{title}: {info['origin']} · {provenance_caption(info['provenance'])}"


def caption_below(fig, lines: Sequence[str], fontsize: int = 8) -> None:
    """Write ``lines`` under a matplotlib figure, each wrapped to the figure's width.

    Used for the provenance of the models and of the analysis behind a figure; a long line wraps
    with an indent so that each source stays recognisable.
    """
    width = int(fig.get_figwidth() * 21 * 6 / fontsize)  # characters of text per line at this size
    text = "\n".join(textwrap.fill(line, width, subsequent_indent="    ") for line in lines)
    fig.text(0.0, -0.01, text, ha="left", va="top", fontsize=fontsize)


class ProvenanceNote:
    """Where a chapter's figures and numbers come from: gathered while the chapter runs, shown once,
    folded, at its end (:meth:`html`), so that captions can say what to see.

    Each line is a source (a model's run, an analysis, a results file) with the figures that use it.
    """

    def __init__(self, title: str = "Where this chapter's figures and numbers come from"):
        self.title = title
        self.sources: dict[str, list[str]] = {}  # line → the figures (or tables) that use it

    def add(self, line: str, used_by: str = "") -> None:
        users = self.sources.setdefault(line, [])
        if used_by and used_by not in users:
            users.append(used_by)

    def html(self) -> HtmlMarkup:
        """A folded ``<details>`` block listing every source once."""
        if not self.sources:
            raise ValueError("nothing was added to the provenance note")
        items = "".join(f"<li>{html.escape(line)}" + (f" <em>({html.escape(', '.join(users))})</em>" if users else "")
                        + "</li>" for line, users in self.sources.items())
        return HtmlMarkup(f'<details class="sslvit-provenance"><summary>{html.escape(self.title)}</summary>'
                          f'<ul style="font-size: 0.85em">{items}</ul></details>')


class Captions:
    """The provenance of one chapter's figures: where each model and the analysis came from, gathered in a
    :class:`ProvenanceNote` (not written on the figures).

    ``titles``: model name → title; ``infos``: model name → the info dict of
    :func:`sslvit_lite.saved_runs.trained_backbone`.
    """

    def __init__(self, titles: dict[str, str], infos: dict[str, dict], note: ProvenanceNote | None = None):
        missing = sorted(set(titles) - set(infos))
        if missing:
            raise ValueError(f"no info for {missing}: pass the info dict of every titled model")
        self.titles, self.infos = titles, infos
        self.note = note if note is not None else ProvenanceNote()

    def describe(self, name: str) -> str:
        """One line for model ``name``: title, origin, preset, steps, device, commit."""
        return model_origin(self.titles[name], self.infos[name])

    def figure(self, fig, *names: str, analysis: dict, label: str = "", notes: Sequence[str] = (),
               sources: Sequence[str] = (), fontsize: int = 9) -> None:
        """Record the sources of ``fig`` (the models ``names``, the analysis and any other ``sources``, e.g. of
        the paper's reference values) in the note, under ``label``; write only ``notes`` (what to see, e.g.
        what a grey line is) under the figure."""
        for line in [*(self.describe(n) for n in names), f"analysis: {provenance_caption(analysis)}", *sources]:
            self.note.add(line, label)
        if notes:
            caption_below(fig, notes, fontsize)


# Font sizes for figures read at the book's column width (about 730 px): a figure up to 9.3 inches wide
# shows 11-pt text at 12 px or more. Chapters keep their figures within that width.
BOOK_STYLE = {"font.size": 11, "axes.titlesize": 11, "axes.labelsize": 11, "xtick.labelsize": 10,
              "ytick.labelsize": 10, "legend.fontsize": 10, "figure.titlesize": 12, "legend.framealpha": 0.9}
MAX_FIGURE_WIDTH = 9.3  # inches


def use_book_style() -> None:
    """Set matplotlib's font sizes for the book (:data:`BOOK_STYLE`)."""
    import matplotlib as mpl  # only the chapters draw

    mpl.rcParams.update(BOOK_STYLE)


def cpu_threads_for_small_models() -> int:
    """Use one torch thread when there is no GPU; returns the number of threads now in use.

    The book's CPU runs use tiny ViTs (2 blocks, width 32) on small batches: there the cost of
    spreading each small matrix product over threads outweighs the gain, and the CPUs of laptops,
    CI and Colab are often shared. On a GPU machine the setting is left alone.
    """
    if not torch.cuda.is_available():
        torch.set_num_threads(1)
    return torch.get_num_threads()
