# newsmill: `make run` and `make test` work on a fresh machine with only Python and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUTPUT ?= output

.PHONY: install run test docs bench-eval clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/newsmill run samples --output $(OUTPUT)

# The suite runs in TEST_JOBS processes (pytest-xdist): its slow tests mostly wait on servers and
# subprocesses, so more processes than cores; `make test TEST_JOBS=0` runs it in one process.
# loadgroup: a module marked xdist_group runs in one process (its tests share a worker).
TEST_JOBS ?= 4
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadgroup

docs: $(STAMP)
	$(BIN)/python -m newsmill.docs

clean:
	-[ -x $(BIN)/newsmill ] && $(BIN)/newsmill daemon stop && $(BIN)/newsmill server stop
	rm -rf $(OUTPUT)/* .prefect .pytest_cache
	touch $(OUTPUT)/.gitkeep
