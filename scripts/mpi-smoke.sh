#!/usr/bin/env bash
# Smoke test of package dist's launch paths on this machine, by hand:
#   1. mpirun -np 2 (MPI_COMM_WORLD), collectives checked on both ranks;
#   2. torchrun-style variables without mpirun (singletons joined through
#      ompi-server), 2 ranks;
#   3. the default model's gradient slab (27.4M floats) all-reduced on 2 ranks.
# Needs: apt-get install -y openmpi-bin (libopenmpi-dev only for C builds).
# Usage: scripts/mpi-smoke.sh [floats]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-27400000}

command -v mpirun >/dev/null || { echo "mpirun not found: apt-get install -y openmpi-bin" >&2; exit 1; }
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
CGO_ENABLED=0 go build -o "$bin/rankprog" ./dist/internal/rankprog

echo "== mpirun -np 2: collectives"
mpirun --oversubscribe -np 2 "$bin/rankprog" -mode ops

echo "== torchrun-style variables, 2 ranks, no mpirun"
port=$((29500 + RANDOM % 1000))
pids=()
for r in 0 1; do
  RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    timeout 60 "$bin/rankprog" -mode ops &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

echo "== mpirun -np 2: all-reduce of $n floats"
mpirun --oversubscribe -np 2 "$bin/rankprog" -mode bench -n "$n" -iters 5
