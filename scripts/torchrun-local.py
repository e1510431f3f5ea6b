#!/usr/bin/env python3
"""Launch a binary the way `torchrun --nproc_per_node=N --no_python BIN ARGS...` does.

Uses torch elastic's own agent (static rendezvous; the agent serves its store
on MASTER_PORT and sets TORCHELASTIC_USE_AGENT_STORE=True), through its Python
API because the torchrun CLI of Debian's torch 1.13 fails on Python 3.11
(`--redirects` parsing trips over enum changes).

    scripts/torchrun-local.py 2 minimind pretrain --ddp ...
    scripts/torchrun-local.py 2 /tmp/rankprog -mode ops
"""
import sys
import uuid

from torch.distributed.elastic.multiprocessing import Std
from torch.distributed.launcher.api import LaunchConfig, elastic_launch


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    port = 29500 + uuid.uuid4().int % 1000
    cfg = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=int(sys.argv[1]),
        run_id=str(uuid.uuid4()), rdzv_backend="static",
        rdzv_endpoint=f"127.0.0.1:{port}", rdzv_configs={"rank": 0},
        max_restarts=0, monitor_interval=1, redirects=Std.NONE, tee=Std.NONE)
    # elastic_launch raises ChildFailedError (non-zero exit) if a rank fails.
    elastic_launch(cfg, sys.argv[2])(*sys.argv[3:])


if __name__ == "__main__":
    main()
