# linfit — make install | test | lint | demo | bench
PY     ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= torch,plot,dask,dev

.PHONY: install test lint format demo bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	touch $@

test: install
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: install
	@echo '$$ linfit fit sample_data/noisy_line.csv'
	@$(BIN)/linfit fit sample_data/noisy_line.csv
	@echo '$$ linfit fit sample_data/tutorial_points.csv --method gd --lr 0.1 --epochs 100 --log-every 25'
	@$(BIN)/linfit fit sample_data/tutorial_points.csv --method gd --lr 0.1 --epochs 100 --log-every 25 --no-stats
	@echo '$$ linfit compare sample_data/multi_feature.csv --check'
	@$(BIN)/linfit compare sample_data/multi_feature.csv --check

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
