"""An interactive attention explorer for Jupyter (Park et al., ICLR 2023, Sec. 2 and Fig. 2).

Pick an image, a query patch, a block and a head, and see where that query attends in each
model, side by side (CL next to MIM). The maps are those of the paper's Fig. 2 and of its
official notebook (Fig 2): the prefix (CLS) rows and columns are dropped, each row is
renormalised, and the query's row is shown on the patch grid with the ``plasma`` colormap.

The data side (:meth:`AttentionExplorer.attention_map`, :meth:`AttentionExplorer.figure`) is
plain torch/matplotlib and works anywhere; :meth:`AttentionExplorer.widget` needs ipywidgets (the
``notebooks`` extra) and a live kernel (:func:`live_frontend`). For the rendered book,
:meth:`AttentionExplorer.static_html` precomputes every map (each image, block, head and query) into
one HTML block that a browser explores with a few lines of JavaScript: no kernel, no network.

Shapes: images uint8 (N, 3, H, W); attentions per model a list over blocks of (N, Hd, T, T)
post-softmax probabilities with T = prefix + R·C tokens (as recorded by
:func:`sslvit_lite.vit.capture`); a map is (R, C) and sums to 1.
"""

from __future__ import annotations

import base64
import json
import textwrap
import uuid
from typing import Mapping, Sequence

import torch
from torch import nn

from sslvit_lite.analysis.attention import drop_prefix, patch_index, query_map
from sslvit_lite.vit import model_input


def live_frontend() -> bool:
    """True inside a Jupyter kernel driven by an interactive front end (JupyterLab, Notebook, VS Code, Colab).

    Interactive front ends send their execute requests with ``allow_stdin=True`` (so that
    ``input()`` works); headless executors (papermill, nbclient, Jupyter Book) send
    ``allow_stdin=False``, and plain Python has no kernel at all. ipykernel keeps the flag of the
    running request as ``kernel._allow_stdin``.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    kernel = getattr(get_ipython(), "kernel", None)
    return bool(getattr(kernel, "_allow_stdin", False))


@torch.no_grad()
def record_attentions(
    model: nn.Module,
    images_uint8: torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 32,
) -> list[torch.Tensor]:
    """Attention probabilities of every block for ``images_uint8``: L × (N, Hd, T, T) float32 on the CPU.

    The model runs in eval mode (its training mode is restored afterwards) on its own device.
    """
    from sslvit_lite.vit import capture

    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    parts: list[list[torch.Tensor]] = []
    try:
        for start in range(0, images_uint8.shape[0], batch_size):
            x = model_input(model, images_uint8[start : start + batch_size], mean, std).to(device)  # (b, 3, h, w)
            with capture(model) as cap:
                model(x)
            parts.append([a.float().cpu() for a in cap.attentions])  # L × (b, Hd, T, T)
    finally:
        model.train(was_training)
    return [torch.cat(blocks) for blocks in zip(*parts)]  # L × (N, Hd, T, T)


class AttentionExplorer:
    """Attention maps of several models on the same images, for one query, block and head at a time.

    attentions: {model name: L × (N, Hd, T, T)}; every model must have the same number of blocks
    L, heads Hd and tokens T (compare models of one architecture). images: uint8 (N, 3, H, W),
    the pictures the attentions were recorded on (any size: the query box is scaled to it).
    grid: (R, C) patch grid, T = num_prefix + R·C. titles: optional label per model for figures.
    """

    def __init__(
        self,
        attentions: Mapping[str, Sequence[torch.Tensor]],
        images: torch.Tensor,
        grid: tuple[int, int],
        num_prefix: int = 1,
        titles: Mapping[str, str] | None = None,
    ):
        if not attentions:
            raise ValueError("attentions is empty: pass {model name: list of (N, H, T, T) per block}")
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be uint8 (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        rows, cols = (int(g) for g in grid)
        shapes = {}
        for name, blocks in attentions.items():
            if len(blocks) == 0:
                raise ValueError(f"model {name!r} has no blocks")
            shapes[name] = (len(blocks), *tuple(blocks[0].shape))
            if any(tuple(b.shape) != tuple(blocks[0].shape) for b in blocks):
                raise ValueError(f"model {name!r}: every block's attention must have the same shape")
        if len(set(shapes.values())) != 1:
            listed = ", ".join(f"{n}: {s[0]} blocks × {tuple(s[1:])}" for n, s in shapes.items())
            raise ValueError(f"models must share blocks, heads and tokens to be compared; got {listed}")
        depth, num, heads, tokens, _ = next(iter(shapes.values()))
        if num != images.shape[0]:
            raise ValueError(f"{images.shape[0]} images but attentions for {num}")
        if rows * cols + num_prefix != tokens:
            raise ValueError(f"grid {rows}×{cols} + {num_prefix} prefix tokens ≠ {tokens} tokens")
        self.attentions = {name: list(blocks) for name, blocks in attentions.items()}
        self.images = images
        self.grid = (rows, cols)
        self.num_prefix = int(num_prefix)
        self.num_blocks, self.num_heads = depth, heads
        self.titles = {name: (titles or {}).get(name, name) for name in attentions}
        self.shown: dict | None = None  # the view the widget drew last
        self.controls: dict | None = None  # the widget's controls, once built

    @classmethod
    def from_models(
        cls,
        models: Mapping[str, nn.Module],
        images_uint8: torch.Tensor,
        mean: Sequence[float],
        std: Sequence[float],
        titles: Mapping[str, str] | None = None,
        batch_size: int = 32,
    ) -> "AttentionExplorer":
        """Record every model's attention on ``images_uint8`` (uint8 (N, 3, H, W)) and explore it."""
        if not models:
            raise ValueError("models is empty")
        grids = {name: tuple(int(g) for g in m.patch_embed.grid_size) for name, m in models.items()}
        prefixes = {name: int(m.num_prefix_tokens) for name, m in models.items()}
        if len(set(grids.values())) != 1 or len(set(prefixes.values())) != 1:
            raise ValueError(f"models must share the patch grid and prefix tokens; got grids {grids}, prefixes {prefixes}")
        attentions = {name: record_attentions(m, images_uint8, mean, std, batch_size) for name, m in models.items()}
        return cls(attentions, images_uint8, next(iter(grids.values())), next(iter(prefixes.values())), titles)

    @property
    def num_images(self) -> int:
        return int(self.images.shape[0])

    def _check_view(self, image: int, row: int, col: int, block: int, head: int | None) -> None:
        if not 0 <= image < self.num_images:
            raise ValueError(f"image must be in 0..{self.num_images - 1}, got {image}")
        if not 1 <= block <= self.num_blocks:
            raise ValueError(f"block must be in 1..{self.num_blocks} (1-based), got {block}")
        if head is not None and not 0 <= head < self.num_heads:
            raise ValueError(f"head must be None (mean over heads) or in 0..{self.num_heads - 1}, got {head}")
        patch_index(row, col, self.grid)  # raises a ValueError naming the grid

    def attention_map(self, model: str, image: int, row: int, col: int, block: int, head: int | None = None) -> torch.Tensor:
        """Where the query patch (row, col) of ``image`` attends in ``block`` (1-based): (R, C), sums to 1.

        ``head`` = None averages the heads' maps (each already a distribution over patches).
        """
        if model not in self.attentions:
            raise ValueError(f"unknown model {model!r}; valid: {', '.join(self.attentions)}")
        self._check_view(image, row, col, block, head)
        attn = self.attentions[model][block - 1][image : image + 1]  # (1, Hd, T, T)
        maps = query_map(attn, patch_index(row, col, self.grid), self.grid, self.num_prefix)[0]  # (Hd, R, C)
        return maps.mean(dim=0) if head is None else maps[head]  # (R, C)

    def figure(self, image: int, row: int, col: int, block: int, head: int | None = None, caption: str = ""):
        """A matplotlib figure: the image with the query box, then one map per model (not shown).

        ``caption`` (e.g. the models' provenance) is written under the panels, wrapped to the figure's width.
        """
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle

        self._check_view(image, row, col, block, head)
        names = list(self.attentions)
        fig, axes = plt.subplots(1, 1 + len(names), figsize=(2.6 * (1 + len(names)), 2.9))
        height, width = self.images.shape[-2:]
        box_h, box_w = height / self.grid[0], width / self.grid[1]
        axes[0].imshow(self.images[image].permute(1, 2, 0).numpy())
        axes[0].add_patch(Rectangle((col * box_w - 0.5, row * box_h - 0.5), box_w, box_h, fill=False, color="red", lw=2))
        axes[0].set_title(f"image {image}, query ({row}, {col})", fontsize=8)
        which = "mean over heads" if head is None else f"head {head}"
        for ax, name in zip(axes[1:], names):
            ax.imshow(self.attention_map(name, image, row, col, block, head).numpy(), cmap="plasma", vmin=0)
            ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, color="white", lw=1, ls="--"))
            ax.set_title(f"{self.titles[name]}\nblock {block}, {which}", fontsize=8)
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        if caption:
            width = int(fig.get_figwidth() * 21)  # characters of 6-pt text per line
            text = "\n".join(textwrap.fill(line, width, subsequent_indent="    ") for line in caption.splitlines())
            fig.text(0.0, -0.01, text, ha="left", va="top", fontsize=6)
        return fig

    def widget(self, image: int = 0, row: int | None = None, col: int | None = None, block: int | None = None,
               head: int | None = None, caption: str = ""):
        """An ipywidgets box: sliders for image, query row/column and block, a head menu, and the figure.

        Defaults: the centre patch and the last block, mean over heads. Needs ipywidgets and, to be
        useful, a live kernel (:func:`live_frontend`).
        """
        import ipywidgets as widgets
        import matplotlib.pyplot as plt
        from IPython.display import display

        rows, cols = self.grid
        start = {"image": image, "row": rows // 2 if row is None else row, "col": cols // 2 if col is None else col,
                 "block": self.num_blocks if block is None else block, "head": head}
        self._check_view(**start)
        style = {"description_width": "initial"}
        self.controls = {
            "image": widgets.IntSlider(start["image"], 0, self.num_images - 1, description="image", style=style),
            "row": widgets.IntSlider(start["row"], 0, rows - 1, description="query row", style=style),
            "col": widgets.IntSlider(start["col"], 0, cols - 1, description="query column", style=style),
            "block": widgets.IntSlider(start["block"], 1, self.num_blocks, description="block", style=style),
            "head": widgets.Dropdown(options=[("mean", None)] + [(str(h), h) for h in range(self.num_heads)],
                                     value=start["head"], description="head", style=style),
        }
        out = widgets.Output()

        def redraw(_change=None):
            view = {key: control.value for key, control in self.controls.items()}
            with out:
                out.clear_output(wait=True)
                fig = self.figure(**view, caption=caption)
                display(fig)
                plt.close(fig)
            self.shown = view

        for control in self.controls.values():
            control.observe(redraw, names="value")
        redraw()
        return widgets.VBox([widgets.HBox(list(self.controls.values())[:3]),
                             widgets.HBox(list(self.controls.values())[3:]), out])

    def static_html(self, images: Sequence[int], block: int | None = None, row: int | None = None,
                    col: int | None = None) -> str:
        """The explorer for a page without a kernel: see :func:`static_html`."""
        return static_html(self, images, block, row, col)


# ----------------------------------------------------------------------------------------------
# the explorer of the static book: precomputed maps, drawn by the browser

_STATIC_SCRIPT = """
(function () {
  const D = %(data)s;
  const root = document.getElementById(%(id)s);
  const bytes = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const maps = Object.fromEntries(D.models.map((m) => [m, bytes(D.maps[m])]));
  const pictures = D.images.map(bytes);
  const [R, C] = D.grid, P = R * C, H = D.heads + 1, S = D.size, Z = D.zoom;
  const state = {image: 0, block: D.start.block, head: D.heads, row: D.start.row, col: D.start.col};
  const $ = (name) => root.querySelector("[data-role=" + name + "]");
  function canvas(title) {
    const box = document.createElement("figure");
    const c = document.createElement("canvas");
    c.width = c.height = S * Z;
    const label = document.createElement("figcaption");
    label.textContent = title;
    box.append(c, label);
    $("panels").append(box);
    return c;
  }
  const picture = canvas("image: click a patch");
  const panels = D.models.map((m) => canvas(D.titles[m]));
  function drawPicture() {
    const ctx = picture.getContext("2d"), px = pictures[state.image], cell = S * Z / C;
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
      const i = 3 * (y * S + x);
      ctx.fillStyle = "rgb(" + px[i] + "," + px[i + 1] + "," + px[i + 2] + ")";
      ctx.fillRect(x * Z, y * Z, Z, Z);
    }
    ctx.strokeStyle = "red"; ctx.lineWidth = 3;
    ctx.strokeRect(state.col * cell + 1.5, state.row * cell + 1.5, cell - 3, S * Z / R - 3);
  }
  function drawMap(c, model) {
    const ctx = c.getContext("2d"), q = state.row * C + state.col;
    const start = ((((state.image * D.blocks) + state.block - 1) * H + state.head) * P + q) * P;
    const row = maps[model].subarray(start, start + P), w = c.width / C, h = c.height / R;
    for (let k = 0; k < P; k++) {
      const v = row[k];
      ctx.fillStyle = "rgb(" + D.lut[3 * v] + "," + D.lut[3 * v + 1] + "," + D.lut[3 * v + 2] + ")";
      ctx.fillRect((k %% C) * w, Math.floor(k / C) * h, Math.ceil(w), Math.ceil(h));
    }
    ctx.strokeStyle = "white"; ctx.lineWidth = 2; ctx.setLineDash([4, 3]);
    ctx.strokeRect(state.col * w + 1, state.row * h + 1, w - 2, h - 2); ctx.setLineDash([]);
  }
  function draw() {
    drawPicture();
    D.models.forEach((m, i) => drawMap(panels[i], m));
    $("block-value").textContent = state.block;
    $("query").textContent = "query patch (" + state.row + ", " + state.col + ")";
  }
  picture.addEventListener("click", (e) => {
    const r = picture.getBoundingClientRect();
    state.col = Math.min(C - 1, Math.floor((e.clientX - r.left) / r.width * C));
    state.row = Math.min(R - 1, Math.floor((e.clientY - r.top) / r.height * R));
    draw();
  });
  $("block").addEventListener("input", (e) => { state.block = +e.target.value; draw(); });
  $("head").addEventListener("change", (e) => { state.head = +e.target.value; draw(); });
  $("image").addEventListener("change", (e) => { state.image = +e.target.value; draw(); });
  draw();
})();
"""

_STATIC_STYLE = """
#%(id)s {font-size: 0.9rem; margin: 0.5rem 0 1rem;}
#%(id)s .controls {display: flex; flex-wrap: wrap; gap: 0.4rem 1.2rem; align-items: center; margin-bottom: 0.4rem;}
#%(id)s [data-role=panels] {display: flex; flex-wrap: wrap; gap: 0.5rem;}
#%(id)s figure {margin: 0; text-align: center;}
#%(id)s canvas {width: 88px; height: 88px; image-rendering: pixelated; border: 1px solid #ccc;}
#%(id)s figure:first-child canvas {cursor: crosshair;}
#%(id)s figcaption {font-size: 0.85rem; max-width: 88px; line-height: 1.2;}
"""


def _plasma_lut() -> list[int]:
    from matplotlib import colormaps  # matplotlib only for its colour table

    table = colormaps["plasma"](torch.linspace(0, 1, 256).numpy())[:, :3]  # (256, 3) in [0, 1]
    return [int(round(255 * v)) for v in table.reshape(-1)]


def _encode(t: torch.Tensor) -> str:
    return base64.b64encode(t.contiguous().numpy().tobytes()).decode("ascii")


def static_maps(explorer: "AttentionExplorer", model: str, images: Sequence[int]) -> torch.Tensor:
    """Every query's map of ``model``, each scaled to its own maximum (as :meth:`AttentionExplorer.figure`
    draws it): uint8 (len(images), L, Hd + 1, P, P), the last head the mean over heads."""
    index = torch.as_tensor(list(images), dtype=torch.long)
    per_block = []
    for attn in explorer.attentions[model]:
        # rows renormalised without [CLS], as attention_map's query_map does; a row with no patch attention stays 0
        a = drop_prefix(attn[index].float(), explorer.num_prefix).nan_to_num(0.0)  # (n, Hd, P, P)
        a = torch.cat([a, a.mean(dim=1, keepdim=True)], dim=1)  # (n, Hd + 1, P, P): the mean over heads last
        scaled = a / a.amax(dim=-1, keepdim=True).clamp_min(1e-12)
        per_block.append((scaled * 255).round().to(torch.uint8))
    return torch.stack(per_block, dim=1)  # (n, L, Hd + 1, P, P)


def static_html(explorer: "AttentionExplorer", images: Sequence[int], block: int | None = None,
                row: int | None = None, col: int | None = None) -> str:
    """A self-contained HTML explorer of ``images`` (indices): an image menu, a block slider, a head menu
    (mean by default) and a click on the picture to choose the query patch; every model's map side by
    side. All maps are precomputed (see :func:`static_maps`): about L·(Hd + 1)·P² bytes per image and model."""
    images = [int(i) for i in images]
    if not images:
        raise ValueError("images is empty: pass the indices of the images to explore")
    rows, cols = explorer.grid
    start = {"block": explorer.num_blocks if block is None else block,
             "row": rows // 2 if row is None else row, "col": cols // 2 if col is None else col}
    for image in images:
        explorer._check_view(image, start["row"], start["col"], start["block"], None)
    size = int(explorer.images.shape[-1])
    element = f"sslvit-explorer-{uuid.uuid4().hex[:8]}"
    data = {
        "models": list(explorer.attentions), "titles": explorer.titles, "grid": [rows, cols],
        "blocks": explorer.num_blocks, "heads": explorer.num_heads, "size": size, "zoom": max(1, 112 // size),
        "start": start, "lut": _plasma_lut(),
        "images": [_encode(explorer.images[i].permute(1, 2, 0)) for i in images],  # (S, S, 3) uint8 each
        "maps": {m: _encode(static_maps(explorer, m, images)) for m in explorer.attentions},
    }
    image_options = "".join(f'<option value="{k}">{k + 1}</option>' for k in range(len(images)))
    head_options = "".join(f'<option value="{h}">{h}</option>' for h in range(explorer.num_heads))
    head_options += f'<option value="{explorer.num_heads}" selected>mean</option>'
    return (f'<div id="{element}" class="sslvit-explorer"><style>{_STATIC_STYLE % {"id": element}}</style>'
            '<div class="controls">'
            f'<label>image <select data-role="image">{image_options}</select></label>'
            f'<label>block <input data-role="block" type="range" min="1" max="{explorer.num_blocks}" '
            f'value="{start["block"]}"> <span data-role="block-value"></span></label>'
            f'<label>head <select data-role="head">{head_options}</select></label>'
            '<span data-role="query"></span></div>'
            '<div data-role="panels"></div>'
            f'<script>{_STATIC_SCRIPT % {"data": json.dumps(data), "id": json.dumps(element)}}</script></div>')
