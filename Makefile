# The two commands of the README:  make demo   and   make test
.PHONY: demo test bench venv clean

# Large messages over Fast DDS lose UDP fragments with the default transports
# (see README, "Large messages"); every process this Makefile starts uses LARGE_DATA.
export FASTDDS_BUILTIN_TRANSPORTS ?= LARGE_DATA

venv:
	@bash scripts/bootstrap.sh

demo: venv
	.venv/bin/dcr demo

test: venv
	.venv/bin/python -m pytest

bench: venv
	@for b in benchmarks/bench_*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done

clean:
	rm -rf .venv build install log out *.egg-info
