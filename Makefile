# One entry point for readers, authors and CI. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help setup book book-fast test unit notebooks site-test student benchmarks report clean

help:
	@echo "make book       set everything up and build the website (default mode) into _build/html"
	@echo "make book-fast  the same with COURSE_FAST=1 (small data, few epochs: minutes, not hours)"
	@echo "make test       set everything up and run the whole test suite (unit tests, notebooks, book, browser)"
	@echo "make student    write student versions of the chapters (solutions removed) into student/"
	@echo "make benchmarks run benchmarks/ on this machine's best device; results go to reports/ (several minutes)"
	@echo "make report     run every chapter in default mode (FAST=1: FAST mode), timed, into reports/"

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

# The site serves MathJax itself (no CDN), so it also works on a classroom server without internet.
build/static/mathjax/tex-mml-chtml.js: node_modules/.package-lock.json
	rm -rf build/static/mathjax && mkdir -p build/static
	cp -r node_modules/mathjax/es5 build/static/mathjax

setup: $(STAMP) build/static/mathjax/tex-mml-chtml.js

book: setup
	# --all: re-execute every page, so a FAST build never leaves its outputs in a full one (and vice versa)
	$(BIN)/jupyter-book build . --all --warningiserror --nitpick --keep-going
	@echo "The website is in _build/html/index.html"

book-fast:
	COURSE_FAST=1 $(MAKE) book

unit: setup
	$(BIN)/python -m pytest tests --ignore=tests/site

notebooks: setup
	$(BIN)/python tests/nbval_copies.py chapters build/nbval
	COURSE_FAST=1 $(BIN)/python -m pytest --nbval-lax --nbval-cell-timeout=600 -p no:cacheprovider build/nbval

site-test: setup
	@command -v chromium >/dev/null || { echo "site-test needs Chromium: sudo apt-get install chromium (Debian/Ubuntu)"; exit 1; }
	$(BIN)/python -m pytest tests/site

test: unit notebooks book-fast site-test

student: setup
	$(BIN)/python -m course_utils.student chapters/*.ipynb --output-dir student

benchmarks: setup
	cd benchmarks && ../$(BIN)/python runner_overhead.py --report
	cd benchmarks && ../$(BIN)/python runner_tabular.py --report
	cd benchmarks && ../$(BIN)/python data_path.py --report
	cd benchmarks && ../$(BIN)/python resnet18_cifar.py --report

report: setup
	$(BIN)/python reports/run_chapters.py $(if $(FAST),--fast)

clean:
	rm -rf _build build student
