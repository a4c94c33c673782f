# The two commands of the README: `make demo` and `make test`. Both create the virtualenv and
# install the project into it on first use; nothing else needs installing by hand.
PYTHON ?= python3
VENV ?= .venv
# A bare `torch` requirement (pulled in by stable-baselines3) resolves to a multi-GB CUDA build;
# pinning the CPU build first keeps the environment small. Override for a GPU machine:
#   make test TORCH_SPEC="torch==2.13.0"
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo baselines test lint bench tune clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	WANDB_MODE=$${WANDB_MODE:-offline} $(BIN)/python -m lowcarbon.scripts.benchmark experiment=case_study

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
	$(BIN)/python -m lowcarbon.scripts.bench_gdm
	$(BIN)/python -m lowcarbon.scripts.bench_suite
	WANDB_MODE=disabled $(BIN)/python -m lowcarbon.scripts.bench_train

# Fair tuning of GDM, Tianshou SAC, SB3 SAC and SB3 PPO on the case study (hours): agent presets
# in conf/agent/tuned/metaverse/ with their study records
tune: $(STAMP)
	WANDB_MODE=disabled $(BIN)/python -m lowcarbon.scripts.tune --env metaverse

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
