# Every install comes from the lock files in this repository (uv.lock, ci/lowest.txt), so a
# new release of a dependency cannot change what runs here. `make lock` refreshes them.
#
#   make demo    install, start the embedded server with the demo model, answer one prompt
#   make test    install, then lint, types, import contracts and the whole test suite, then the
#                client tests again on the lowest versions pyproject.toml allows
#   make lock    re-resolve both lock files to the newest (and lowest) allowed versions

UV_VERSION := 0.13.9
PYTHON ?= python3
UV := .uv/bin/uv
VENV := .venv
RUN := $(VENV)/bin
PROMPT ?= Why is the sky blue?

.PHONY: demo test check pytest test-lowest lock sync

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

sync: $(UV)
	$(UV) sync --locked --extra dev --extra server

demo: $(UV)
	$(UV) sync --locked --extra server
	$(RUN)/ollamakit run gemma3:270m "$(PROMPT)"

test: sync check pytest test-lowest

check:
	$(RUN)/ruff check src tests benchmarks examples ci
	$(RUN)/ruff format --check src tests benchmarks examples ci
	$(RUN)/mypy
	$(RUN)/lint-imports
	$(RUN)/python ci/unasync.py --check

pytest:
	$(RUN)/python -m pytest

# The client's dependency floors are claims: install exactly the lowest versions pyproject.toml
# allows (ci/lowest.txt) and run every test that needs no llama.cpp.
LOWEST := .venv-lowest
test-lowest: $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(LOWEST)
	$(UV) pip sync --quiet --python $(LOWEST)/bin/python ci/lowest.txt
	$(UV) pip install --quiet --python $(LOWEST)/bin/python --no-deps -e .
	$(LOWEST)/bin/python -c "import httpx, msgspec, urllib3, aiohttp; \
	print('lowest:', *(f'{m.__name__} {m.__version__}' for m in (httpx, msgspec, urllib3, aiohttp)))"
	$(LOWEST)/bin/python -m pytest -q -p no:cacheprovider --ignore=tests/server --ignore=tests/cli
	$(LOWEST)/bin/python -m pytest -q -p no:cacheprovider tests/server/test_server_unit_json.py

lock: $(UV)
	$(UV) lock --upgrade
	$(UV) pip compile --quiet pyproject.toml --resolution lowest-direct --no-header \
		-o ci/lowest-floors.txt
	$(UV) pip compile --quiet pyproject.toml --extra dev --constraint ci/lowest-floors.txt \
		--generate-hashes -o ci/lowest.txt
