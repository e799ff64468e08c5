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
	$(BIN)/vulture  # dead code; paths and framework names in pyproject.toml [tool.vulture]

# The suite runs on SQLite, then the database-facing tests again on PostgreSQL.
test: venv sysdeps lint
	$(BIN)/python -m pytest -p no:cacheprovider --durations=20
	DATABASE_URL=$(DATABASE_URL_PG) $(BIN)/python -m pytest -p no:cacheprovider -m "not browser and not slow" tests/studyapp tests/contract

# The demo reuses what exists: make rebuilds the corpora, model and bundle only if their inputs changed.
# It serves an informative study: a model trained with a planted cue (a tone tied to digits 3
# and 7), explained on held-out voices whose clips carry the other digit's cue (cue-conflict).
DEMO_CORPUS ?= fixtures/demo_corpus
DEMO_PORT ?= 8000
DEMO_CUE ?= --classes 3,7 --freq-hz 3200,2400 --level-db 0 --duration-ms 150
$(DEMO_DIR)/cue/split.json: $(VENV)/.installed $(DEMO_CORPUS)/audioMNIST_meta.txt
	$(BIN)/python -m explainer cue --data $(DEMO_CORPUS) --out $(DEMO_DIR)/cue $(DEMO_CUE) --force

# summary.json is written last: a run stopped half-way is resumed from its checkpoint.
# The demo preset by name: auto would pick the speech recipe (the cue corpus has no
# generation.json), which trains a larger model for up to 40 epochs.
DEMO_TRAIN = $(BIN)/python -m explainer train --data $(DEMO_DIR)/cue/train --out $(DEMO_DIR)/cued
$(DEMO_DIR)/cued/summary.json: $(DEMO_DIR)/cue/split.json
	if [ -f $(DEMO_DIR)/cued/checkpoint.pt ]; then $(DEMO_TRAIN) --resume; \
	else $(DEMO_TRAIN) --model audionet --task digit --preset demo --split $(DEMO_DIR)/cue/split.json --force; fi

$(DEMO_DIR)/bundle/manifest.json: $(DEMO_DIR)/cued/summary.json
	$(BIN)/python -m explainer bundle --run $(DEMO_DIR)/cued --data $(DEMO_DIR)/cue/probe --out $(DEMO_DIR)/bundle --n 40 --seed 0 --practice 4 --overwrite

demo: venv sysdeps $(DEMO_DIR)/bundle/manifest.json
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py import_bundle $(DEMO_DIR)/bundle --study demo --title "Audible vs visual explanations of a model with a planted cue (demo)" --practice 2 --catch 1 --headphone-screen
	$(BIN)/python manage.py demo_setup --study demo --port $(DEMO_PORT)
	$(BIN)/python manage.py runserver --noreload 127.0.0.1:$(DEMO_PORT)

clean:
	rm -rf $(VENV) var .pytest_cache
