# Two commands matter: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch comes first and pinned: an open range would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
DEMO_DIR ?= var/demo
export HEARXAI_DATA_DIR ?= $(CURDIR)/var
export DATABASE_URL_PG ?= postgres://postgres@127.0.0.1:5432/test
export REDIS_URL_TEST ?= redis://127.0.0.1:6379/15

.PHONY: demo test sysdeps venv lint clean serve test-sqlite test-postgres

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e '.[all]'
	touch $@

venv: $(VENV)/.installed

.ci/.sysdeps-done: .ci/install-system-packages.sh
	./.ci/install-system-packages.sh
	touch $@

sysdeps: .ci/.sysdeps-done

LINT_PATHS := contracts explainer studyapp analysis tests benchmarks manage.py
lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

# The suite runs on SQLite, then the database-facing tests again on PostgreSQL.
test: venv sysdeps lint
	$(BIN)/python -m pytest -p no:cacheprovider
	DATABASE_URL=$(DATABASE_URL_PG) $(BIN)/python -m pytest -p no:cacheprovider -m "not browser and not slow" tests/studyapp tests/contract

# The demo reuses what exists: make rebuilds the model and bundle only if their inputs changed.
DEMO_CORPUS ?= fixtures/demo_corpus
DEMO_PORT ?= 8000
# summary.json is written last: a run stopped half-way is resumed from its checkpoint.
DEMO_TRAIN = $(BIN)/python -m explainer train --data $(DEMO_CORPUS) --out $(DEMO_DIR)/run
$(DEMO_DIR)/run/summary.json: $(VENV)/.installed $(DEMO_CORPUS)/audioMNIST_meta.txt
	if [ -f $(DEMO_DIR)/run/checkpoint.pt ]; then $(DEMO_TRAIN) --resume; \
	else $(DEMO_TRAIN) --model audionet --task digit --force; fi

$(DEMO_DIR)/bundle/manifest.json: $(DEMO_DIR)/run/summary.json
	$(BIN)/python -m explainer bundle --run $(DEMO_DIR)/run --data $(DEMO_CORPUS) --out $(DEMO_DIR)/bundle --n 40 --seed 0 --practice 2 --overwrite

demo: venv sysdeps $(DEMO_DIR)/bundle/manifest.json
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py import_bundle $(DEMO_DIR)/bundle --study demo --title "Audible vs visual explanations (demo)"
	$(BIN)/python manage.py demo_setup --study demo --port $(DEMO_PORT)
	$(BIN)/python manage.py runserver --noreload 127.0.0.1:$(DEMO_PORT)

clean:
	rm -rf $(VENV) var .pytest_cache
