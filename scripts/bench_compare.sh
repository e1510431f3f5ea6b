#!/usr/bin/env bash
# bench_compare.sh: MiniMind-Go against PyTorch on this machine, back to
# back and interleaved (Go, PyTorch, Go, PyTorch, ...), so that load from
# elsewhere hits both alike. Prints the median of each over the rounds and
# the ratio.
#
#   scripts/bench_compare.sh [rounds]       (default 3)
#   ONLY=train scripts/bench_compare.sh     (only the cases whose name matches)
#
# Needs Debian's python3-torch (/usr/bin/python3) for the PyTorch side, on
# a fast BLAS: Debian's torch calls whatever libblas.so.3 the alternatives
# system points at, and with the netlib reference BLAS (no
# libopenblas0-pthread installed) it is ~20× slower, so the script checks
# the library torch actually loads and refuses to compare against the
# reference one.
#
# MFU is against the fp32 peak our run measures with an FMA loop on the
# same threads; PyTorch's MFU divides its GFLOP/s by that same peak.
#
# AVX2=1 restricts both sides to AVX2 on an AVX-512 machine, to stand in
# for an AVX2-only one such as Zen 3: ours with GODEBUG=cpu.avx512f=off
# (Go's switch that hides AVX-512 from every kernel; the peak is then
# measured with the AVX2 loop), PyTorch with OPENBLAS_CORETYPE=Haswell
# (OpenBLAS's AVX2 kernels, the ones it runs on Zen) and
# ATEN_CPU_CAPABILITY=avx2.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
goenv=() pyenv=()
if [[ ${AVX2:-} == 1 ]]; then
	goenv=(GODEBUG=cpu.avx512f=off)
	pyenv=(OPENBLAS_CORETYPE=Haswell ATEN_CPU_CAPABILITY=avx2)
	echo "AVX2 only: ${goenv[*]} / ${pyenv[*]}" >&2
fi
py=/usr/bin/python3
if ! blas=$("$py" scripts/bench_torch.py blas); then
	echo "bench_compare: PyTorch runs on the reference BLAS ($blas);" >&2
	echo "  install OpenBLAS (apt-get install libopenblas0-pthread) and compare again" >&2
	exit 1
fi
echo "PyTorch BLAS: $blas" >&2
bin=$(mktemp -d)/minimind
go build -o "$bin" ./cmd/minimind
out=$(mktemp)

# case name | our command | PyTorch command | JSON key
cases=(
	"train dense B8×512|bench train --steps 5 --json|train|tokens_per_s"
	"train MoE B8×512|bench train --use_moe --steps 3 --json|train --use_moe|tokens_per_s"
	"decode B1 fp32|bench generate --batch_size 1 --json|generate --batch_size 1|decode_tokens_per_s"
	"decode B1 bf16|bench generate --batch_size 1 --dtype bf16 --json|generate --batch_size 1|decode_tokens_per_s"
	"decode B8 fp32|bench generate --batch_size 8 --json|generate --batch_size 8|decode_tokens_per_s"
	"decode B8 bf16|bench generate --batch_size 8 --dtype bf16 --json|generate --batch_size 8|decode_tokens_per_s"
)
for ((r = 1; r <= rounds; r++)); do
	for c in "${cases[@]}"; do
		IFS='|' read -r name ours theirs key <<<"$c"
		[[ -n ${ONLY:-} && ! $name =~ $ONLY ]] && continue
		echo "round $r: $name" >&2
		# shellcheck disable=SC2086
		g=$(env "${goenv[@]}" "$bin" $ours | tail -n 1)
		# shellcheck disable=SC2086
		t=$(env "${pyenv[@]}" "$py" scripts/bench_torch.py $theirs | tail -n 1)
		printf '%s\t%s\t%s\t%s\n' "$name" "$key" "$g" "$t" >>"$out"
	done
done
"$py" - "$out" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, key, g, t = line.rstrip("\n").split("\t")
    g, t = json.loads(g), json.loads(t)
    r = rows.setdefault(name, {"go": [], "torch": [], "mfu": [], "tmfu": []})
    r["go"].append(g[key]); r["torch"].append(t[key])
    if "mfu" in g:
        r["mfu"].append(g["mfu"])
        r["tmfu"].append(t["gflops"] / g["peak_gflops"])
print(f"{'case':<18} {'MiniMind-Go':>12} {'PyTorch':>10} {'ratio':>7}   (tokens/s, medians)")
for name, r in rows.items():
    go, th = statistics.median(r["go"]), statistics.median(r["torch"])
    extra = ""
    if r["mfu"]:
        extra = f"   MFU {100*statistics.median(r['mfu']):.1f}% (PyTorch {100*statistics.median(r['tmfu']):.1f}%)"
    print(f"{name:<18} {go:>12.1f} {th:>10.1f} {go/th:>6.2f}×{extra}")
PY
