#!/usr/bin/env bash
# gpu-check.sh — run MiniMind-Go's GPU checks from prebuilt binaries.
#
# Usage: scripts/gpu-check.sh BIN_DIR OUT_DIR
#
#   BIN_DIR  holds binaries built elsewhere (the GPU machine needs no Go):
#              minimind      CGO_ENABLED=0 go build -o BIN_DIR/minimind ./cmd/minimind
#              cuda.test     CGO_ENABLED=0 go test -c -o BIN_DIR/cuda.test ./kernels/cuda
#              devmodel.test the device-resident trainer against the CPU
#              <pkg>.test    any other test binary: gemm.test, cpu.test (the
#                            AVX-512 kernels on the GPU host's CPU), model.test
#   OUT_DIR  receives summary.json, steps.log, environment.log and
#            logs.tar.gz (one log per step): four files, so that a device
#            tool that returns few files returns them all.
#
# Environment (all optional):
#   REPO_DIR    the source checkout (default: this script's parent). Test
#               binaries run in their package directory, as `go test` does,
#               so fixtures resolve to REPO_DIR/../shared/fixtures.
#   SHARED_DIR  where the shared fixtures live when that is not
#               REPO_DIR/../shared: a temporary tree links REPO_DIR and
#               SHARED_DIR side by side.
#   STEP_TIMEOUT  seconds per step (default 240).
#   BUDGET      seconds after which no new step starts (default 480): the
#               steps left are recorded as not run and the script fails.
#   CUDA_TEST_RUN  a -test.run pattern for cuda.test (default: all).
#   QUICK=1     the benches at small sizes only (a first smoke pass).
#
# Steps: every *.test in BIN_DIR with -test.v (cuda.test first: the
# conformance suite, bf16 checks, fixtures, the 50-step training curve;
# devmodel.test: the resident trainer and decode against the CPU in fp32,
# bf16 and fp16, the traffic per step, the 200-step loss curves; gemm.test
# and cpu.test in -short), then `minimind bench train|generate --device
# cuda --json` (dense and MoE training in bf16, fp16 and fp32; decode at
# batch 1 and 32) and the NCCL check when nccl.test is there. Each step's
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
STEP_TIMEOUT=${STEP_TIMEOUT:-240}
BUDGET=${BUDGET:-480}
T0=$(date +%s)
CACHE_DIR=$(mktemp -d) # kernel cache: the first step compiles, later ones hit
LOG_DIR="$OUT_DIR/logs"
mkdir -p "$LOG_DIR"
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

# run NAME DIR CMD...: run CMD in DIR with a timeout, log to LOG_DIR/NAME.log.
run() {
	local name=$1 dir=$2
	shift 2
	local log="$LOG_DIR/$name.log" start end rc
	if [ $(($(date +%s) - T0)) -gt "$BUDGET" ]; then
		echo "== $name: not run (past BUDGET=${BUDGET}s)" | tee -a "$OUT_DIR/steps.log"
		results+=("{\"step\":\"$name\",\"rc\":null,\"not_run\":\"past budget\"}")
		failed=1
		return
	fi
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
declare -A pkgdir=([cuda]=kernels/cuda [devmodel]=devmodel [gemm]=kernels/gemm [cpu]=kernels/cpu [ref]=kernels/ref [model]=model [train]=train [generate]=generate [server]=server [nccl]=dist/nccl)
tests=()
for first in cuda devmodel; do
	[ -x "$BIN_DIR/$first.test" ] && tests+=("$BIN_DIR/$first.test")
done
for t in "$BIN_DIR"/*.test; do
	case "$(basename "$t")" in cuda.test | devmodel.test) continue ;; esac
	[ -x "$t" ] && tests+=("$t")
done
for t in "${tests[@]}"; do
	name=$(basename "$t" .test)
	dir="$ROOT/${pkgdir[$name]:-.}"
	[ -d "$dir" ] || dir="$ROOT"
	args=(-test.v -test.count=1 -test.timeout="${STEP_TIMEOUT}s")
	if [ "$name" = cuda ] && [ -n "${CUDA_TEST_RUN:-}" ]; then
		args+=(-test.run "$CUDA_TEST_RUN")
	fi
	case "$name" in
	gemm | cpu | model) args+=(-test.short) ;; # the CPU conformance, bounded
	esac
	run "test-$name" "$dir" "$t" "${args[@]}"
	if { [ "$name" = cuda ] || [ "$name" = devmodel ]; } && grep -q "no usable GPU" "$LOG_DIR/test-$name.log"; then
		# The GPU tests skipped: on the GPU machine that is a failure.
		echo "   GPU tests skipped: $(grep -m1 "no usable GPU" "$LOG_DIR/test-$name.log")" | tee -a "$OUT_DIR/steps.log"
		failed=1
	fi
	if [ "$name" = cuda ]; then
		# Benchmarks: copying-backend GEMM rates (informational).
		run "bench-cuda-matmul" "$dir" "$t" -test.run '^$' -test.bench BenchmarkMatMul -test.benchtime 20x
	fi
done

# The minimind benches on the GPU (device-resident path: tokens/s, step
# time, bytes copied per step, device memory) and on the CPU for scale.
# Batch 32 × 512 is the size of the issue's PyTorch figures.
if [ -x "$BIN_DIR/minimind" ]; then
	M="$BIN_DIR/minimind"
	TB=32
	[ "${QUICK:-0}" = 1 ] && TB=4
	run bench-train-cuda-bf16 "$ROOT" "$M" bench train --device cuda --precision bf16 --batch_size $TB --steps 5 --json
	run bench-train-cuda-moe-bf16 "$ROOT" "$M" bench train --device cuda --precision bf16 --use_moe --batch_size $TB --steps 3 --json
	run bench-train-cuda-fp16 "$ROOT" "$M" bench train --device cuda --precision fp16 --batch_size $TB --steps 3 --json
	run bench-train-cuda-fp32 "$ROOT" "$M" bench train --device cuda --precision fp32 --batch_size 8 --steps 3 --json
	run bench-generate-cuda-b1 "$ROOT" "$M" bench generate --device cuda --precision bf16 --batch_size 1 --steps 2 --json
	run bench-generate-cuda-b32 "$ROOT" "$M" bench generate --device cuda --precision bf16 --batch_size $TB --steps 2 --json
	# The real loop end to end on the GPU: data, schedule, checkpoints.
	CORPUS="${SHARED_DIR:-$REPO_DIR/../shared}/corpus/pretrain_en.jsonl.gz"
	if [ -f "$CORPUS" ]; then
		run pretrain-cuda-bf16 "$ROOT" "$M" pretrain --device cuda --precision bf16 --data_path "$CORPUS" \
			--max_seq_len 256 --batch_size 32 --epochs 1 --out_dir "$CACHE_DIR/pretrain" --quiet
	else
		echo "== pretrain-cuda-bf16: not run ($CORPUS missing)" | tee -a "$OUT_DIR/steps.log"
	fi
	# Data-parallel over NCCL, one rank per GPU, when there are two GPUs and
	# mpirun (NCCL refuses two ranks on one GPU; devmodel.test's
	# TestNCCLOneRank checks the bindings on one).
	gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
	if [ -f "$CORPUS" ] && [ "${gpus:-0}" -ge 2 ] && command -v mpirun >/dev/null; then
		run pretrain-cuda-ddp2 "$ROOT" mpirun --allow-run-as-root -np 2 "$M" pretrain --ddp --device cuda --precision bf16 \
			--data_path "$CORPUS" --max_seq_len 256 --batch_size 16 --epochs 1 --out_dir "$CACHE_DIR/ddp" --quiet
	else
		echo "== pretrain-cuda-ddp2: not run (${gpus:-0} GPUs, mpirun $(command -v mpirun || echo missing))" | tee -a "$OUT_DIR/steps.log"
	fi
	run bench-train-cpu "$ROOT" "$M" bench train --device cpu --batch_size 2 --steps 1 --json
else
	echo "gpu-check: $BIN_DIR/minimind missing: benches skipped" | tee -a "$OUT_DIR/steps.log"
	failed=1
fi

{
	printf '{"passed":%s,"seconds":%s,"steps":[' "$([ $failed -eq 0 ] && echo true || echo false)" $(($(date +%s) - T0))
	(IFS=,; printf '%s' "${results[*]}")
	printf ']}\n'
} >"$OUT_DIR/summary.json"
# One archive of the step logs, so the output is four files.
tar czf "$OUT_DIR/logs.tar.gz" -C "$OUT_DIR" logs && rm -rf "$LOG_DIR"
rm -rf "$CACHE_DIR"
echo "summary: $OUT_DIR/summary.json (logs: $OUT_DIR/logs.tar.gz)"
exit $failed
