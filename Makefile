# hgpt workspace. `make demo` and `make test` set everything up first (scripts/setup.sh, fast when done).
SHELL := bash
.DEFAULT_GOAL := help
RUFF := .venv/bin/ruff
MYPY := .venv/bin/mypy

.PHONY: help setup demo test format lint bench

help:
	@echo "make setup   create .venv (pinned requirements, ROS 2 wheels) and colcon-build src/ into install/"
	@echo "make demo    setup, then run the demo (scripts/demo.sh)"
	@echo "make test    setup, then run all tests (scripts/test.sh; ARGS='...' passes pytest arguments)"
	@echo "make format  ruff format + import sorting"
	@echo "make lint    ruff check (docstring rules on hgpt_core) + ruff format --check + mypy over src/"
	@echo "make bench   setup, then run the benchmarks (scripts/bench.sh)"

setup:
	@bash scripts/setup.sh

demo: setup
	@bash scripts/demo.sh

test: setup
	@bash scripts/test.sh $(ARGS)

format: setup
	$(RUFF) format .
	$(RUFF) check --select I --fix .

lint: setup
	$(RUFF) check .
	$(RUFF) format --check .
	$(MYPY)

bench: setup
	@bash scripts/bench.sh
