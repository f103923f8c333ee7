"""Formulas that render without a network: MathJax from an installed package, not a CDN.

Sphinx loads MathJax 3 from a CDN by default, so an offline reader sees raw TeX. The
``jupyter-server-mathjax`` package ships MathJax 2 (TeX input, HTML-CSS output, the STIX web fonts);
this extension copies it into the built site's ``_static/mathjax`` and points Sphinx at it.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

COMBINED_CONFIG = "TeX-AMS-MML_HTMLorMML-full"  # TeX and AMS input, HTML-CSS output, in one file
MATHJAX_CONFIG = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]], "processEscapes": True},
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None},
    "showMathMenu": False,
    "messageStyle": "none",
}


def mathjax_folder() -> Path:
    spec = importlib.util.find_spec("jupyter_server_mathjax")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("jupyter-server-mathjax is not installed: `pip install -r requirements.txt` "
                           "(it serves MathJax to the book offline)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    if not (folder / "MathJax.js").is_file():
        raise RuntimeError(f"{folder} holds no MathJax.js; reinstall jupyter-server-mathjax")
    return folder


def use_local_mathjax(app, config) -> None:
    mathjax_folder()  # fail early, before the notebooks run
    config.mathjax_path = f"mathjax/MathJax.js?config={COMBINED_CONFIG}"
    config.mathjax2_config = MATHJAX_CONFIG
    config.mathjax3_config = None
    config.myst_update_mathjax = False  # myst would add MathJax 3 settings, which MathJax 2 misreads


def copy_mathjax(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copytree(mathjax_folder(), Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app):
    app.connect("config-inited", use_local_mathjax)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
