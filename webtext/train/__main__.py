"""``python -m webtext.train``: one training process, as torchrun (or ``--nproc``) launches it.

``torchrun --nproc-per-node 8 -m webtext.train --data TOKENS --preset gpt2 --out RUN`` takes the
same flags as ``webtext-build train``; ``--config-json`` is how ``--nproc`` passes them on.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--config-json"]:
        from pathlib import Path

        from webtext.logs import setup_logging
        from webtext.train.trainer import config_from_json, train_process

        setup_logging(0)
        out = argv[argv.index("--out") + 1]
        return train_process(config_from_json(Path(argv[1])), Path(out))
    from webtext.cli import main as cli_main

    return cli_main(["train", *argv])


if __name__ == "__main__":
    sys.exit(main())
