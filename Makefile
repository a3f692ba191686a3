# One entry point for readers, authors and CI. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
# Where the two builds go: the full site (published) and the FAST one (tests; it says so on every page).
SITE_FULL := _build/html
SITE_FAST := _build/fast/_build/html
FAST_BANNER := FAST build: the short test run of the book (COURSE_FAST=1, small data, few epochs). \
  Its numbers are not the lesson's results; the full book shows those.
# No progress bars in book builds, notebook tests and reports: the website and CI logs stay clean.
# (Readers running a chapter in Jupyter or a terminal see them; see Runner.train's progress=.)
export COURSE_PROGRESS := 0
KERNEL_CONFIG := $(VENV)/etc/ipython/ipython_kernel_config.py

.PHONY: help setup book book-fast test unit notebooks notebooks-default site-test student colab-sim benchmarks report clean

help:
	@echo "make book       set everything up and build the full website (default mode) into $(SITE_FULL)"
	@echo "make book-fast  a FAST build (COURSE_FAST=1: small data, few epochs) into $(SITE_FAST), with a banner"
	@echo "make test       set everything up and run the whole test suite (unit tests, notebooks in FAST and default"
	@echo "                mode, FAST book, browser)"
	@echo "make site-test  the browser test of a built site (SITE=$(SITE_FAST) by default; SITE=$(SITE_FULL) for the full one)"
	@echo "make student    write student versions of the chapters (solutions removed) into student/"
	@echo "make colab-sim  run every chapter alone in a simulated Colab (another torch; needs PyPI, 5 GB, slow)"
	@echo "course-grade    assign, grade and self-check homework: see pages/instructors.md"
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

# ipykernel warns at every kernel start that its link to the local Jupyter client (127.0.0.1)
# is not encrypted. The warning is noise in build and test logs; this kernel configuration,
# read from the environment's etc/ipython, drops that one message and no other.
$(KERNEL_CONFIG): $(STAMP)
	mkdir -p $(dir $@)
	printf '%s\n' \
	  '# Written by make setup (see the Makefile): drop ipykernel'"'"'s warning that the kernel' \
	  '# talks to its local client over unencrypted TCP; every other message still shows.' \
	  'import logging' '' '' \
	  'class _LocalTcpNotice(logging.Filter):' \
	  '    def filter(self, record):' \
	  '        return "running over TCP without encryption" not in record.getMessage()' '' '' \
	  'logging.getLogger("IPKernelApp").addFilter(_LocalTcpNotice())' > $@

setup: $(STAMP) $(KERNEL_CONFIG) build/static/mathjax/tex-mml-chtml.js

# The full build: what the workflow publishes (built by its GPU job, where the full run fits).
book: setup
	# --all: re-execute every page, so no output of an earlier build survives
	env -u COURSE_FAST $(BIN)/jupyter-book build . --all --warningiserror --nitpick --keep-going
	@echo "The website is in $(SITE_FULL)/index.html"

# The FAST build goes to its own folder, so it never overwrites the full site, and its
# configuration adds a banner to every page that says it is the short run.
build/fast_config.yml: _config.yml setup
	$(BIN)/python -c "import sys, yaml; config = yaml.safe_load(open('_config.yml')); \
	  config.setdefault('html', {})['announcement'] = sys.argv[1]; \
	  config['exclude_patterns'] = config.get('exclude_patterns', []) + ['.*', '.*/**']; \
	  yaml.safe_dump(config, open('$@', 'w'), allow_unicode=True, sort_keys=False)" "$(FAST_BANNER)"

book-fast: setup build/fast_config.yml
	COURSE_FAST=1 $(BIN)/jupyter-book build . --config build/fast_config.yml --path-output _build/fast \
	  --all --warningiserror --nitpick --keep-going
	@echo "The FAST website is in $(SITE_FAST)/index.html"

unit: setup
	$(BIN)/python -m pytest tests --ignore=tests/site

notebooks: setup
	$(BIN)/python tests/nbval_copies.py chapters build/nbval
	COURSE_FAST=1 $(BIN)/python -m pytest --nbval-lax --nbval-cell-timeout=600 -p no:cacheprovider build/nbval

# Every chapter once more, in the default mode (the settings and assertions readers run) and with
# the CPU kernels of an AVX2 laptop instead of this machine's: a run whose result hangs on the last
# digit of a sum (a chaotic training run) then fails here, not on a student's computer. Outputs
# are checked for errors only. On a machine without AVX-512 the kernels are its own.
OTHER_CPU := ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2
notebooks-default: setup
	env -u COURSE_FAST $(OTHER_CPU) $(BIN)/python -m pytest --nbval-lax --nbval-cell-timeout=900 \
	  -p no:cacheprovider chapters

SITE ?= $(SITE_FAST)
site-test: setup
	@command -v chromium >/dev/null || { echo "site-test needs Chromium: sudo apt-get install chromium fonts-noto-cjk (Debian/Ubuntu)"; exit 1; }
	COURSE_SITE=$(SITE) $(BIN)/python -m pytest tests/site

test: unit notebooks notebooks-default book-fast site-test

student: setup
	$(BIN)/python -m course_utils.student chapters/*.ipynb --output-dir student

# Every chapter alone in a fresh environment with another torch, as on Colab (built once in build/colab-sim).
colab-sim: setup
	$(BIN)/python tests/colab_sim.py --fast --report build/colab-sim/report.json

benchmarks: setup
	cd benchmarks && ../$(BIN)/python runner_overhead.py --report
	cd benchmarks && ../$(BIN)/python runner_tabular.py --report
	cd benchmarks && ../$(BIN)/python data_path.py --report
	cd benchmarks && ../$(BIN)/python resnet18_cifar.py --report

report: setup
	$(BIN)/python reports/run_chapters.py $(if $(FAST),--fast)

clean:
	rm -rf _build build student
