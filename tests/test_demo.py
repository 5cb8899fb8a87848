"""`webtext-build demo`: the README's main command builds its sample and runs every stage."""

from __future__ import annotations

import zstandard

from webtext.cli import main
from webtext.data import verify_dataset


def test_demo_runs_every_stage(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--runner", "local", "--submissions", "6000"]) == 0
    out = capsys.readouterr().out
    assert "urls:" in out and "distinct URLs" in out
    assert verify_dataset(tmp_path / "urls")[1] == []
    dump = tmp_path / "dumps" / "RS_2017-11.zst"
    params = zstandard.get_frame_parameters(dump.read_bytes()[:18])
    assert params.window_size >= 2**31  # the sample dump needs the long window, as real ones do
    # Run again: everything is already done.
    assert main(["demo", "--out", str(tmp_path), "--runner", "local"]) == 0
