# The two commands a newcomer needs (see README.md):
#   make demo   a real Home Assistant on http://localhost:8123 with echo_sense on the simulated hub
#   make test   linters, type checks and the whole test suite
#   make figures  regenerates the README's figures (docs/img/*.png) from the real code
.PHONY: demo test setup lint figures

setup:
	scripts/setup.sh

demo: setup
	scripts/demo.sh

test: setup
	scripts/test.sh

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy dsp/echo_sense_dsp custom_components/echo_sense

figures: setup
	nice -n 10 .venv/bin/python scripts/figures.py
