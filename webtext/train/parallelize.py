"""Apply FSDP2 (``fully_shard`` on each block, then the root), activation checkpointing and
``torch.compile`` to a GPT, torchtitan-style. The model code itself knows nothing of this."""

from __future__ import annotations

import torch
from torch import nn


def parallelize(model: nn.Module, device: torch.device, *, compile: bool, activation_checkpointing: bool,
                compile_mode: str = "default") -> nn.Module:
    """``model`` (a GPT) made ready to train on ``device``: its blocks checkpointed and compiled as
    asked, each block then the whole model sharded (FSDP2). ``compile_mode``: torch.compile's mode."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    if activation_checkpointing:
        from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

        blocks = model.transformer.h
        for i, block in enumerate(blocks):
            blocks[i] = checkpoint_wrapper(block, preserve_rng_state=False)
    if compile:
        for i, block in enumerate(model.transformer.h):
            model.transformer.h[i] = torch.compile(block, mode=compile_mode)
        # The final norm, head and loss as one more region (torchtitan compiles the loss as well):
        # fused, the fp32 logits are never written out. Outside the blocks, so it runs under the
        # root's FSDP hooks, which have gathered the head's (tied) weight by then.
        model.head = torch.compile(model.head, mode=compile_mode)
    if device.type == "cuda":  # bf16 compute, fp32 gradient reduction
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    else:  # CPU: fp32 throughout (bf16 matmuls are emulated on many CPUs)
        mp = MixedPrecisionPolicy(param_dtype=torch.float32, reduce_dtype=torch.float32)
    import torch.distributed as dist

    # One process holds every parameter anyway: freeing them after each forward only adds copies.
    reshard = dist.get_world_size() > 1
    for block in model.transformer.h:
        fully_shard(block, mp_policy=mp, reshard_after_forward=reshard)
    fully_shard(model, mp_policy=mp, reshard_after_forward=reshard)
    return model
