"""Every chapter notebook: paired with its py:percent source, parameterisable, and runnable.

Each notebook is executed with papermill at smoke size (offline, the embedded CIFAR-10 sample)
with a per-cell timeout. Per-notebook extra parameters may live in
``tests/notebook_params/<stem>.json``.
"""

import json
from pathlib import Path

import jupytext
import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
SMOKE_PARAMS = {"data_source": "sample", "preset": "smoke"}
CELL_TIMEOUT_S = 300


def smoke_params(notebook: Path) -> dict:
    extra = ROOT / "tests" / "notebook_params" / f"{notebook.stem}.json"
    return {**SMOKE_PARAMS, **(json.loads(extra.read_text()) if extra.exists() else {})}


def run_notebook(notebook: Path, output: Path, parameters: dict) -> nbformat.NotebookNode:
    return papermill.execute_notebook(
        str(notebook), str(output), parameters=parameters, kernel_name="python3",
        execution_timeout=CELL_TIMEOUT_S, cwd=str(notebook.parent), progress_bar=False,
    )


def comparable(cells):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in cells]


def test_there_are_notebooks_and_each_has_a_source():
    assert NOTEBOOKS, "no notebooks found"
    assert [p.stem for p in NOTEBOOKS] == [p.stem for p in SOURCES]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_pair_in_sync_without_outputs_and_with_parameters_cell(notebook):
    ipynb = nbformat.read(notebook, as_version=4)
    source = jupytext.read(notebook.with_suffix(".py"))
    assert comparable(ipynb.cells) == comparable(source.cells), f"run `make sync`: {notebook.name} differs from its .py"
    assert all(not c.get("outputs") and not c.get("execution_count") for c in ipynb.cells if c.cell_type == "code"), \
        f"{notebook.name} is committed with outputs"
    tagged = [c for c in ipynb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell must be tagged `parameters` (papermill ignores parameters otherwise)"
    first_code = next(c for c in ipynb.cells if c.cell_type == "code")
    assert 'if "google.colab" in sys.modules' in first_code.source, "the first code cell is the Colab install guard"
    assert not any(line.lstrip().startswith(("!", "%pip")) for c in ipynb.cells for line in c.source.splitlines()), \
        "shell installs would run in CI too; guard them in Python"


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_at_smoke_size(notebook, tmp_path):
    executed = run_notebook(notebook, tmp_path / notebook.name, smoke_params(notebook))
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert any(o.get("output_type") == "display_data" for c in executed.cells for o in c.get("outputs", [])), \
        "a chapter shows at least one figure"


def test_a_notebook_that_raises_fails_the_run(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("assert x == 2, 'deliberate failure'")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "failing.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(papermill.PapermillExecutionError, match="deliberate failure"):
        run_notebook(path, tmp_path / "out.ipynb", {"x": 1})
    run_notebook(path, tmp_path / "out.ipynb", {"x": 2})  # the injected parameter really reaches the cell
