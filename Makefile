# One command each: `make serve` (set up and run the gateway on the shipped model), `make test` (set up and test).
.PHONY: serve test setup-serve setup-dev lint triton-cpu

serve: setup-serve
	.venv/bin/python -m service

test: setup-dev
	.venv/bin/python -m pytest

setup-serve:
	scripts/setup.sh serve

setup-dev:
	scripts/setup.sh dev

lint: setup-dev
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
