# The two README commands: `make demo` and `make test`. Both create .venv on first use and reuse it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test export readme labs docs clean-venv

# pip installs without byte-compiling, and compileall then compiles on every core: pip does it on one. The one file left out is in
# Python 3.12 syntax, which pip fails to compile and skips too (torch/testing/_internal/py312_intrinsics.py).
$(STAMP): setup.py settings.ini constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -c constraints.txt -e ".[dev]"
	$(BIN)/python -m compileall -q -j 0 -x '/torch/testing/_internal/' $(VENV)/lib
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sau_nb demo --out demo_out --overwrite

test: $(STAMP)
	$(BIN)/python tests/check_sync.py
	$(BIN)/ruff check sau_nb
	OMP_NUM_THREADS=1 $(BIN)/python tools/nbtest.py --do_print --timing  # nbdev_test that keeps the executed notebooks for the docs
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests  # two workers, one thread each: both cores busy; a file's tests (and its module fixtures: the docs site, the Colab runtime) stay on one; the files in tests/conftest.py's order, longest first

# Notebook-first workflow: regenerate the library and README from nbs/.
export: $(STAMP)
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean && $(BIN)/python tests/readme.py

readme: $(STAMP)
	$(BIN)/python tests/readme.py

# Student copies of the chapters (solutions blanked by nbgrader) in labs/, committed so that Colab badges can open them.
labs: $(STAMP)
	$(BIN)/python tools/labs.py

# The documentation website in _docs/, offline: nbdev's doc processing without Quarto, then Sphinx + myst-nb (-W). Every page
# shows its cells' outputs from the run `make test` recorded in runs/executed/; notebooks changed since run again first.
docs: $(STAMP)
	$(BIN)/python tools/docs.py

clean-venv:
	rm -rf $(VENV)
