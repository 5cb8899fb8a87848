"""Benchmark contamination: GPT-2's 8-gram overlap analysis, reports and decontamination."""
