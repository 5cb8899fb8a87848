# ruff: noqa: F811 (the fixtures imported from train_fixtures are arguments of the tests)
"""The GPT-2 model of the train stage, and its ways out: export-hf / import-hf and eval-loss.

Parity peer: Hugging Face transformers' GPT2LMHeadModel (a test-only dependency).
"""

from __future__ import annotations

import dataclasses
import json
import math
import resource

import numpy as np
import pytest
import torch
from train_fixtures import VOCAB, base_run, tokens_dir, train, weights  # noqa: F401 (fixtures)

from webtext.cli import main
from webtext.train.model import GPT, PRESETS, GPTConfig, count_parameters, flops_per_token

# What transformers reports for gpt2 / -medium / -large / -xl (tied head counted once).
PAPER_SIZES = {"gpt2": 124_439_808, "gpt2-medium": 354_823_168, "gpt2-large": 774_030_080,
               "gpt2-xl": 1_557_611_200}


def small(**kw) -> GPTConfig:
    return dataclasses.replace(GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=16, vocab_size=100), **kw)


def test_paper_presets_parameter_counts_on_meta_device():
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    for name, expected in PAPER_SIZES.items():
        cfg = PRESETS[name]
        assert (cfg.block_size, cfg.vocab_size) == (1024, 50257)
        assert count_parameters(cfg) == expected, name
    # gpt2-xl alone would need 6 GB in fp32: nothing was allocated
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 300_000
    assert [(PRESETS[n].n_layer, PRESETS[n].n_embd) for n in PAPER_SIZES] == [(12, 768), (24, 1024), (36, 1280),
                                                                             (48, 1600)]
    tiny = PRESETS["tiny"]
    assert (tiny.n_layer, tiny.n_embd, tiny.block_size) == (2, 128, 128)


def test_parameter_count_equals_transformers_for_the_same_shape():
    transformers = pytest.importorskip("transformers")
    for name in ("gpt2", "gpt2-xl"):
        cfg = PRESETS[name]
        with torch.device("meta"):
            hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(
                n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd, n_positions=cfg.block_size,
                vocab_size=cfg.vocab_size))
        assert count_parameters(cfg) == sum(p.numel() for p in hf.parameters()) == PAPER_SIZES[name]


def test_flops_per_token_is_6n_plus_attention():
    cfg = PRESETS["gpt2"]
    n = count_parameters(cfg) - cfg.block_size * cfg.n_embd  # without position embeddings
    assert flops_per_token(cfg, 1024) == 6 * n + 12 * 12 * 1024 * 768


def test_head_is_tied_to_the_token_embedding():
    model = GPT(small())
    assert model.lm_head.weight is model.transformer.wte.weight
    names = [n for n, _ in model.named_parameters()]
    assert "lm_head.weight" not in names  # counted (and optimised) once
    with torch.no_grad():
        model.transformer.wte.weight[3].fill_(0.5)
    assert torch.all(model.lm_head.weight[3] == 0.5)


@pytest.mark.parametrize("cfg", [small(), small(n_layer=3, vocab_size=500, pad_vocab_to=64), PRESETS["tiny"]])
def test_meta_model_initialised_from_a_seeded_generator_equals_the_eager_model(cfg):
    """The trainer builds GPT on the meta device and copies in ``initial_values`` after sharding:
    the weights (and the RNG left behind) must be those of ``GPT(cfg)`` after ``torch.manual_seed``."""
    torch.manual_seed(11)
    eager = GPT(cfg)
    rng_after = torch.get_rng_state()
    with torch.device("meta"):
        model = GPT(cfg)
    model.to_empty(device="cpu")
    model.lm_head.weight = model.transformer.wte.weight  # to_empty unties a plain module (FSDP keeps it)
    generator = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for module, name, value in model.initial_values(generator):
            getattr(module, name).copy_(value)
    got, want = model.state_dict(), eager.state_dict()
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in want)
    assert torch.equal(generator.get_state(), rng_after)


def test_init_std_and_residual_scaling():
    torch.manual_seed(0)
    n_layer = 4
    model = GPT(GPTConfig(n_layer=n_layer, n_head=4, n_embd=256, block_size=256, vocab_size=2000))
    residual = 0.02 / math.sqrt(2 * n_layer)
    for name, p in model.named_parameters():
        if name.endswith(("c_proj.weight",)):
            assert abs(p.std().item() - residual) < 0.05 * residual, name
        elif name.endswith(("c_attn.weight", "c_fc.weight", "wte.weight", "wpe.weight")):
            assert abs(p.std().item() - 0.02) < 0.05 * 0.02, name
            assert abs(p.mean().item()) < 2e-3, name
        elif name.endswith(".bias"):
            assert torch.all(p == 0), name
        elif ".ln_" in name or "ln_f" in name:
            assert torch.all(p == 1), name
        else:
            raise AssertionError(f"unexpected parameter {name}")


def test_attention_is_causal():
    torch.manual_seed(0)
    model = GPT(small()).eval()
    x = torch.randint(0, 100, (2, 16))
    y = x.clone()
    y[:, 9:] = torch.randint(0, 100, (2, 7))
    with torch.no_grad():
        a, b = model(x), model(y)
    assert a.shape == (2, 16, 100)
    assert torch.equal(a[:, :9], b[:, :9])  # the past does not see the future
    assert not torch.allclose(a[:, 9:], b[:, 9:])


@pytest.mark.parametrize("first", ["math", "cudnn", "flash", "efficient"])
def test_attention_kernel_choice_keeps_the_logits(first):
    from webtext.train.trainer import attention_kernels

    torch.manual_seed(0)
    model = GPT(small()).eval()
    x = torch.randint(0, 100, (2, 16))
    with torch.no_grad():
        auto = model(x)
        with attention_kernels(first):  # a kernel this device lacks falls back to the next one
            chosen = model(x)
    torch.testing.assert_close(chosen, auto, atol=1e-5, rtol=1e-5)


def test_sequence_longer_than_context_is_refused():
    with pytest.raises(ValueError, match="exceeds the context"):
        GPT(small())(torch.zeros((1, 17), dtype=torch.long))


def test_padded_vocab_gives_the_same_loss():
    torch.manual_seed(0)
    plain = GPT(small(vocab_size=100))
    padded = GPT(small(vocab_size=100, pad_vocab_to=64))
    assert plain.transformer.wte.weight.shape[0] == 100 and padded.transformer.wte.weight.shape[0] == 128
    state = plain.state_dict()
    with torch.no_grad():
        for name, p in padded.state_dict().items():
            if name in ("transformer.wte.weight", "lm_head.weight"):
                p[:100] = state[name]  # rows 100..127 keep their random init: they must not matter
            else:
                p.copy_(state[name])
    x, y = torch.randint(0, 100, (3, 16)), torch.randint(0, 100, (3, 16))
    with torch.no_grad():
        assert padded(x).shape[-1] == 100
        assert torch.allclose(plain(x), padded(x), atol=1e-6)
        assert abs(plain(x, y).item() - padded(x, y).item()) < 1e-6


# ---------------------------------------------------------------------------------------------
# export-hf / import-hf / eval-loss against transformers


def hf_logits(folder, x):
    transformers = pytest.importorskip("transformers")
    model = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
    with torch.no_grad():
        return model, model(x).logits


@pytest.fixture(scope="module")
def exported(base_run, tmp_path_factory):
    pytest.importorskip("transformers")
    out = tmp_path_factory.mktemp("hf") / "gpt2"
    assert main(["export-hf", str(base_run), "--out", str(out)]) == 0
    return out


def test_export_hf_logits_equal_transformers(base_run, exported):
    from webtext.train.export import load_model

    conf = json.loads((exported / "config.json").read_text())
    assert (conf["model_type"], conf["vocab_size"], conf["n_layer"], conf["n_embd"], conf["n_positions"]) == (
        "gpt2", VOCAB, 2, 128, 128)
    ours, record = load_model(base_run)
    assert record["step"] == 6
    x = torch.randint(0, VOCAB, (2, 128), generator=torch.Generator().manual_seed(1))
    _, theirs = hf_logits(exported, x)
    with torch.no_grad():
        mine = ours(x)
    assert mine.shape == theirs.shape == (2, 128, VOCAB)
    assert (mine - theirs).abs().max().item() < 1e-5


def test_export_hf_of_a_padded_vocab_model(tokens_dir, tmp_path):
    from webtext.train.export import load_model

    run = tmp_path / "run"
    assert train(tokens_dir, run, 2, "--pad-vocab") == 0
    ours, _ = load_model(run / "step-2")
    assert ours.transformer.wte.weight.shape[0] == 512 and ours.config.vocab_size == VOCAB
    assert main(["export-hf", str(run / "step-2"), "--out", str(tmp_path / "hf")]) == 0
    x = torch.randint(0, VOCAB, (2, 64), generator=torch.Generator().manual_seed(2))
    model, theirs = hf_logits(tmp_path / "hf", x)
    assert model.transformer.wte.weight.shape == (VOCAB, 128)
    with torch.no_grad():
        assert (ours(x) - theirs).abs().max().item() < 1e-5


def test_import_hf_round_trip(base_run, exported, tmp_path):
    from webtext.train.export import import_hf

    mine = weights(base_run)
    back = import_hf(exported)
    assert back.lm_head.weight is back.transformer.wte.weight
    state = back.state_dict()
    assert state.keys() == mine.keys()
    assert all(torch.equal(state[k], mine[k]) for k in mine)
    # and a folder written by transformers itself
    model, theirs = hf_logits(exported, torch.arange(100)[None] % VOCAB)
    model.save_pretrained(tmp_path / "saved")
    again = import_hf(tmp_path / "saved")
    with torch.no_grad():
        assert (again(torch.arange(100)[None] % VOCAB) - theirs).abs().max().item() < 1e-5


def test_eval_loss_cli_equals_eval_loss_and_transformers(base_run, exported, tokens_dir, capsys):
    from webtext.train.export import eval_loss, load_model, split_stream

    capsys.readouterr()
    assert main(["-q", "eval-loss", str(base_run), str(tokens_dir), "--split", "val", "--json"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    stream, _ = split_stream(tokens_dir, "val")
    model, _ = load_model(base_run)
    loss, n = eval_loss(model, stream)
    t = 128
    assert last["split"] == "val" and last["tokens"] == n == (len(stream) - 1) // t * t
    assert abs(last["loss"] - loss) < 1e-6
    assert 3.0 < loss < 7.0  # a few steps from ln(500) = 6.2

    # transformers on the exported model: non-overlapping windows of the context length
    transformers = pytest.importorskip("transformers")
    hf = transformers.GPT2LMHeadModel.from_pretrained(exported).eval()
    x = torch.as_tensor(np.asarray(stream[: n + 1], dtype=np.int64))
    inputs, targets = x[:-1].view(-1, t), x[1:].view(-1, t)
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(inputs), 64):
            logits = hf(inputs[i:i + 64]).logits
            total += torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), targets[i:i + 64].reshape(-1),
                                                       reduction="sum").item()
    assert abs(total / n - last["loss"]) < 1e-4


def test_eval_loss_refuses_another_tokenizer(base_run, tokens_dir, tmp_path, capsys):
    """Shards made with a different tokenizer than the run's are a configuration error."""
    import shutil

    from webtext.tokenize.shards import open_shard

    meta = open_shard(next((tokens_dir / "val").glob("*.arrow"))).meta
    record = json.loads((base_run / "step-6" / "webtext-checkpoint.json").read_text())
    assert record["tokenizer_hash"] == meta["tokenizer_hash"]
    run = tmp_path / "run"
    shutil.copytree(base_run / "step-6", run / "step-6")
    record["tokenizer_hash"] = "0" * 64
    (run / "step-6" / "webtext-checkpoint.json").write_text(json.dumps(record))
    assert main(["-q", "eval-loss", str(run / "step-6"), str(tokens_dir), "--json"]) == 2
    assert "tokenized with" in capsys.readouterr().err


@pytest.mark.slow
def test_compiled_loss_equals_the_eager_loss_and_its_gradients():
    """--compile swaps in a compiled head (final norm, head, loss: no fp32 copy of the logits): same loss, gradients
    and logits."""
    torch.manual_seed(0)
    cfg = GPTConfig(n_layer=1, n_head=2, n_embd=32, block_size=16, vocab_size=100, pad_vocab_to=64)
    model = GPT(cfg)
    idx, targets = torch.randint(0, 100, (3, 16)), torch.randint(0, 100, (3, 16))
    eager = model(idx, targets)
    eager.backward()
    grad = model.lm_head.weight.grad.clone()
    model.zero_grad()
    with torch.no_grad():
        eager_logits = model(idx)
    model.head = torch.compile(model.head)
    compiled = model(idx, targets)
    compiled.backward()
    assert torch.allclose(compiled, eager, rtol=1e-5, atol=1e-6)
    assert torch.allclose(model.lm_head.weight.grad, grad, rtol=1e-4, atol=1e-6)
    assert grad[100:].abs().sum() == 0  # padded rows get no gradient through the loss
    with torch.no_grad():
        logits = model(idx)
    assert logits.shape == (3, 16, 100) and torch.allclose(logits, eager_logits, rtol=1e-5, atol=1e-5)
