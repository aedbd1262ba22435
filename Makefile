# The dev commands in one place; CI (.ci/run) runs the same ones.
.PHONY: install test lint serve bench cdn-refresh

install:
	python3 -m pip install -e '.[test]'

test: install
	python3 -m pytest

lint:
	python3 -m ruff check .
	python3 -m mypy
	lint-imports

serve:
	python3 -m pip install -e . && nttd serve

bench:
	python3 -m bench.resolve
	python3 bench/recheck.py

cdn-refresh:
	python3 -m resolvers.cdn_refresh
