"""The ``memorization`` stage: GPT-2 section 4's generalization-vs-memorization report."""

# webtext.config lists this stage's config (memorization.config) and that module uses webtext.config's
# helpers: importing webtext.config first, whichever module is asked for, lets the cycle resolve.
import webtext.config  # noqa: F401
