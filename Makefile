# Two commands do all the set-up on a fresh machine: `make book` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# CI sets CONSTRAINTS=.ci/constraints.txt (the only place torch is pinned).
CONSTRAINTS ?=
PIP_C := $(if $(CONSTRAINTS),-c $(CONSTRAINTS),)

.PHONY: install test book reproduce sync clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(PIP_C) torch torchvision
	$(BIN)/python -m pip install -q $(PIP_C) -r requirements.txt
	$(BIN)/python -m pip install -q $(PIP_C) --no-deps -e .
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

book: $(STAMP)
	rm -rf _build/html _build/.doctrees _build/jupyter_execute
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter-book build . --builder html -W --keep-going
	test -f _build/html/index.html
	! grep -rlE 'src="https?://[^"]*(mathjax|katex)' _build/html --include=*.html   # formulas must not need a CDN

# Train every objective at the laptop preset and measure everything (about 75 min on 2 cores;
# resumable: run it again after an interruption). Needs CIFAR-10 ($$SSLVIT_DATA or the network).
PRESET ?= cpu
OUT ?= results/laptop
reproduce: $(STAMP)
	$(BIN)/python -m sslvit_lite reproduce --preset $(PRESET) --out $(OUT) --seeds 2

# Regenerate each paired .ipynb (without outputs) from its py:percent source.
sync: $(STAMP)
	$(BIN)/jupytext --to ipynb notebooks/*.py

clean:
	rm -rf _build
