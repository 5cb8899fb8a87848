"""The ``memorization`` stage: GPT-2 section 4's generalization-vs-memorization report."""
