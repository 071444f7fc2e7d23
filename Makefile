# Two entry points on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel lies on disk here; a bare `torch` requirement would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test lint install clean space

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e '.[dev,app]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/huggingtweets demo

test: install
	$(PY) -m pytest -q

# The wheel space/requirements.txt names: the package and its templates, for a Hugging Face Space.
space: install
	rm -f space/huggingtweets-*.whl
	$(PY) -m pip wheel -q --no-deps -w space .

lint: install
	$(VENV)/bin/ruff check huggingtweets tests benchmarks

clean:
	rm -rf $(VENV) runs build dist *.egg-info
