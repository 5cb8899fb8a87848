"""The ``train-tokenizer`` and ``tokenize`` stages as the registry sees them (light: no tokenizers)."""

from __future__ import annotations

from webtext.data import Manifest
from webtext.stage_spec import DemoContext, StageSpec
from webtext.tokenize.commands import add_commands
from webtext.tokenize.config import TokenizeConfig, TrainTokenizerConfig

DEMO_VOCAB = 2_048  # GPT-2 has 50,257; the demo corpus is ~150 pages


def summarise_train_tokenizer(manifest: Manifest) -> str:
    s = manifest.stats
    return f"train-tokenizer: vocab {s.get('vocab_size', 0):,} (<|endoftext|> = {s.get('eot_id')})"


def summarise_tokenize(manifest: Manifest) -> str:
    s = manifest.stats
    tokens = s.get("train_tokens", 0) + s.get("val_tokens", 0)
    docs = s.get("train_documents", 0) + s.get("val_documents", 0)
    per_doc = tokens / docs if docs else 0.0
    bpt = s.get("text_bytes", 0) / tokens if tokens else 0.0
    return (f"tokenize: {docs:,} documents -> {tokens:,} tokens ({s.get('train_tokens', 0):,} train, "
            f"{s.get('val_tokens', 0):,} val; {per_doc:,.0f} tokens per document, {bpt:.2f} bytes per token; "
            f"{s.get('empty_documents', 0):,} empty skipped)")


def demo_train_tokenizer(ctx: DemoContext) -> TrainTokenizerConfig:
    return TrainTokenizerConfig(inputs=[str(ctx.out("dedup"))], vocab_size=DEMO_VOCAB)


def demo_tokenize(ctx: DemoContext) -> TokenizeConfig:
    return TokenizeConfig(inputs=[str(ctx.out("dedup"))], tokenizer=str(ctx.out("train-tokenizer")),
                          val_fraction=0.05)


TRAIN_TOKENIZER = StageSpec(
    name="train-tokenizer", config=TrainTokenizerConfig, run="webtext.tokenize.encode:run_train_tokenizer",
    help="train GPT-2's kind of byte-level BPE tokenizer on a corpus sample",
    summarise=summarise_train_tokenizer, demo=demo_train_tokenizer, demo_out="tokenizer",
    static_inputs=TrainTokenizerConfig.static_inputs,
)

TOKENIZE = StageSpec(
    name="tokenize", config=TokenizeConfig, run="webtext.tokenize.encode:run_tokenize",
    help="docs -> GPT-2 BPE token shards (Arrow IPC, train/ and val/)",
    summarise=summarise_tokenize, demo=demo_tokenize, demo_out="tokens", add_commands=add_commands,
    static_inputs=TokenizeConfig.static_inputs,
)
