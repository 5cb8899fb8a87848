"""``python -m webtext.train``: one training process, as torchrun (or ``--nproc``) launches it.

``torchrun --nproc-per-node 8 -m webtext.train --data TOKENS --preset gpt2 --out RUN`` takes the
same flags as ``webtext-build train``; ``--config-json`` is how ``--nproc`` passes them on.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from webtext.errors import ConfigError, FatalError
    from webtext.logs import setup_logging
    from webtext.options import add_config_options, config_from_args
    from webtext.train.config import TrainConfig

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--config-json"]:
        from webtext.train import rank_errors
        from webtext.train.launch import config_from_json
        from webtext.train.trainer import train_process

        setup_logging(0)
        out = argv[argv.index("--out") + 1]
        try:
            return train_process(config_from_json(Path(argv[1])), Path(out))
        except FatalError as exc:
            if not os.environ.get(rank_errors.ENV):  # else noted: the launcher raises it, once for all ranks
                print(f"python -m webtext.train: rank {os.environ.get('RANK', '0')}: {exc}", file=sys.stderr)
            return 1
        except Exception:
            if rank_errors.peer_failed():  # the process group broke under us because a peer stopped
                return 1
            raise
    parser = argparse.ArgumentParser(prog="python -m webtext.train", description=TrainConfig.__doc__)
    add_config_options(parser, TrainConfig)
    parser.add_argument("--out", required=True, help="run folder: metrics.jsonl, step-N/ checkpoints")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    ns = parser.parse_args(argv)
    setup_logging(-1 if ns.quiet else ns.verbose)
    try:
        from webtext.train.run import run_train

        manifest = run_train(config_from_args(TrainConfig, ns), Path(ns.out))
    except ConfigError as exc:
        print(f"python -m webtext.train: configuration error: {exc}", file=sys.stderr)
        return 2
    except FatalError as exc:
        print(f"python -m webtext.train: {exc}", file=sys.stderr)
        return 1
    s = manifest.stats
    print(f"train: {s['steps']:,} steps, loss {s['first_loss']} -> {s['last_loss']}, checkpoint {s['checkpoint']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
