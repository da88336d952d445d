# Shortcuts; each target is one dev.py command (dev.py needs only Python 3.11+).
.PHONY: serve test demo bench lint format

serve:
	python3 dev.py serve

test:
	python3 dev.py test

demo:
	python3 dev.py demo

bench:
	python3 dev.py bench

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .
