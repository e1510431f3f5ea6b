#!/usr/bin/env bash
# gpu-check.sh — run MiniMind-Go's GPU checks from prebuilt binaries.
#
# Usage: scripts/gpu-check.sh BIN_DIR OUT_DIR
#
#   BIN_DIR  holds binaries built elsewhere (the GPU machine needs no Go):
#              minimind      CGO_ENABLED=0 go build -o BIN_DIR/minimind ./cmd/minimind
#              cuda.test     CGO_ENABLED=0 go test -c -o BIN_DIR/cuda.test ./kernels/cuda
#              <pkg>.test    any other test binary, e.g. model.test from ./model
#   OUT_DIR  receives one log per step and summary.json.
#
# Environment (all optional):
#   REPO_DIR    the source checkout (default: this script's parent). Test
#               binaries run in their package directory, as `go test` does,
#               so fixtures resolve to REPO_DIR/../shared/fixtures.
#   SHARED_DIR  where the shared fixtures live when that is not
#               REPO_DIR/../shared: a temporary tree links REPO_DIR and
#               SHARED_DIR side by side.
#   STEP_TIMEOUT  seconds per step (default 300).
#   CUDA_TEST_RUN  a -test.run pattern for cuda.test (default: all).
#
# Steps: every *.test in BIN_DIR with -test.v (cuda.test first: the
# conformance suite, bf16 checks, fixtures, the 50-step training curve),
# then `minimind bench train|generate --device cuda --json`. Each step's
# exit status, time and last JSON line go into OUT_DIR/summary.json. The
# script exits 0 only when every step passed. See kernels/cuda/README.md.
set -u -o pipefail

if [ $# -ne 2 ]; then
	sed -n '2,12p' "$0" >&2
	exit 2
fi
BIN_DIR=$(cd "$1" && pwd) || { echo "gpu-check: no directory $1" >&2; exit 2; }
mkdir -p "$2" && OUT_DIR=$(cd "$2" && pwd) || exit 2
REPO_DIR=${REPO_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
STEP_TIMEOUT=${STEP_TIMEOUT:-300}
CACHE_DIR="$OUT_DIR/cache" # kernel cache: the first step compiles, later ones hit
mkdir -p "$CACHE_DIR"
export XDG_CACHE_HOME="$CACHE_DIR"

# Fixtures are looked up at <module root>/../shared; when SHARED_DIR is
# elsewhere, run from a tree where it is.
ROOT="$REPO_DIR"
if [ -n "${SHARED_DIR:-}" ] && [ "$(cd "$REPO_DIR/.." && pwd)/shared" != "$(cd "$SHARED_DIR" && pwd)" ]; then
	tree=$(mktemp -d)
	ln -s "$REPO_DIR" "$tree/repo"
	ln -s "$(cd "$SHARED_DIR" && pwd)" "$tree/shared"
	ROOT="$tree/repo"
fi

{
	date -u +"%Y-%m-%dT%H:%M:%SZ"
	nvidia-smi 2>&1 || echo "nvidia-smi not available"
	# The CPU: whether gemm.test/cpu.test ran the AVX-512 kernels.
	grep -m1 'model name' /proc/cpuinfo
	grep -m1 -o -w 'avx512f' /proc/cpuinfo || echo "no avx512f"
	ls -l "$BIN_DIR"
} >"$OUT_DIR/environment.log" 2>&1

results=()
failed=0

# run NAME DIR CMD...: run CMD in DIR with a timeout, log to OUT_DIR/NAME.log.
run() {
	local name=$1 dir=$2
	shift 2
	local log="$OUT_DIR/$name.log" start end rc
	echo "== $name: $*" | tee -a "$OUT_DIR/steps.log"
	start=$(date +%s.%N)
	(cd "$dir" && timeout "$STEP_TIMEOUT" "$@") >"$log" 2>&1
	rc=$?
	end=$(date +%s.%N)
	local secs json
	secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}')
	# The bench commands print one JSON object as their last line.
	json=$(grep -E '^\{.*\}$' "$log" | tail -n 1)
	[ -n "$json" ] || json=null
	local pass=0 fail=0 skip=0
	pass=$(grep -c -E '^\s*--- PASS' "$log")
	fail=$(grep -c -E '^\s*--- FAIL' "$log")
	skip=$(grep -c -E '^\s*--- SKIP' "$log")
	echo "   rc=$rc ${secs}s pass=$pass fail=$fail skip=$skip" | tee -a "$OUT_DIR/steps.log"
	[ "$rc" -eq 0 ] || failed=1
	results+=("{\"step\":\"$name\",\"rc\":$rc,\"seconds\":$secs,\"tests_passed\":$pass,\"tests_failed\":$fail,\"tests_skipped\":$skip,\"result\":$json}")
}

# Test binaries: cuda.test first, in their package directories.
declare -A pkgdir=([cuda]=kernels/cuda [cpu]=kernels/cpu [ref]=kernels/ref [model]=model [train]=train [generate]=generate [server]=server)
tests=()
[ -x "$BIN_DIR/cuda.test" ] && tests+=("$BIN_DIR/cuda.test")
for t in "$BIN_DIR"/*.test; do
	[ -x "$t" ] && [ "$t" != "$BIN_DIR/cuda.test" ] && tests+=("$t")
done
for t in "${tests[@]}"; do
	name=$(basename "$t" .test)
	dir="$ROOT/${pkgdir[$name]:-.}"
	[ -d "$dir" ] || dir="$ROOT"
	args=(-test.v -test.count=1 -test.timeout="${STEP_TIMEOUT}s")
	if [ "$name" = cuda ] && [ -n "${CUDA_TEST_RUN:-}" ]; then
		args+=(-test.run "$CUDA_TEST_RUN")
	fi
	run "test-$name" "$dir" "$t" "${args[@]}"
	if [ "$name" = cuda ] && grep -q "no usable GPU" "$OUT_DIR/test-cuda.log"; then
		# The GPU tests skipped: on the GPU machine that is a failure.
		echo "   GPU tests skipped: $(grep -m1 "no usable GPU" "$OUT_DIR/test-cuda.log")" | tee -a "$OUT_DIR/steps.log"
		failed=1
	fi
	if [ "$name" = cuda ]; then
		# Benchmarks: copying-backend GEMM rates (informational).
		run "bench-cuda-matmul" "$dir" "$t" -test.run '^$' -test.bench BenchmarkMatMul -test.benchtime 20x
	fi
done

# The minimind benches on the GPU (both precisions) and on the CPU for scale.
if [ -x "$BIN_DIR/minimind" ]; then
	M="$BIN_DIR/minimind"
	run bench-train-cuda-bf16 "$ROOT" "$M" bench train --device cuda --precision bf16 --json
	run bench-train-cuda-fp32 "$ROOT" "$M" bench train --device cuda --precision fp32 --json
	run bench-generate-cuda "$ROOT" "$M" bench generate --device cuda --json
	run bench-train-cpu "$ROOT" "$M" bench train --device cpu --steps 2 --json
else
	echo "gpu-check: $BIN_DIR/minimind missing: benches skipped" | tee -a "$OUT_DIR/steps.log"
	failed=1
fi

{
	printf '{"passed":%s,"steps":[' "$([ $failed -eq 0 ] && echo true || echo false)"
	(IFS=,; printf '%s' "${results[*]}")
	printf ']}\n'
} >"$OUT_DIR/summary.json"
echo "summary: $OUT_DIR/summary.json"
exit $failed
