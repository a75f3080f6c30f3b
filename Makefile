# make demo  -- set up a Python 3.12 environment and train dfa on digits
# make test  -- set up the environment and run the test suite (with the cuda extra where nvcc is on PATH)
# make study-quick / make study  -- the rule-comparison sweep on digits (42 / 315 points; their five-rule versions took 7 min / 1 h 37 min on 2 cores)
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv clean study study-quick

venv: $(STAMP)

$(STAMP): setup.py scripts/find_python312.sh
	@PY312=$$(scripts/find_python312.sh) || exit 1; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then \
	  rm -rf $(VENV); echo "creating $(VENV) with $$PY312"; $$PY312 -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/brianrules train --rule dfa --dataset digits --epochs 10 --hidden 100 \
	    --device cpp_standalone --seed 0 --out runs/demo --force

test: $(STAMP)
	@# with nvcc on PATH, the cuda_standalone tests compile a CUDA program: they need the cuda extra
	@if command -v nvcc >/dev/null 2>&1 && ! $(PY) -c 'import sys, brianrules.cuda as c; sys.exit(bool(c.missing_tools()))'; then \
	  echo "nvcc found: installing the cuda extra (brian2cuda, nvidia-curand)"; \
	  $(PY) -m pip install --quiet -e '.[test,cuda]' || exit 1; \
	fi
	$(PY) -m pytest tests

JOBS ?= 2
study-quick: $(STAMP)
	$(VENV)/bin/brianrules sweep models/sweeps/rule_comparison_quick.toml --out runs/rule_comparison_quick --jobs $(JOBS)
	$(VENV)/bin/brianrules plot runs/rule_comparison_quick --heatmap lr_scale variant --curves variant

study: $(STAMP)
	$(VENV)/bin/brianrules sweep models/sweeps/rule_comparison.toml --out runs/rule_comparison --jobs $(JOBS)
	$(VENV)/bin/brianrules plot runs/rule_comparison --heatmap lr_scale variant --curves variant

clean:
	rm -rf $(VENV) runs .pytest_cache
