"""`eval`: GPT-2's zero-shot Table 3 tasks, de-tokenizers, rolling windows, per-example results."""
