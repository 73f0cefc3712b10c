# Convenience wrappers; the scripts in tools/ are the real entry points (make is not on a fresh
# Debian, the scripts need nothing but bash).
.PHONY: bench bench-quick

bench:
	tools/bench.sh

bench-quick:
	tools/bench.sh --quick
