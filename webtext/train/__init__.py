"""GPT-2 training: the model, FSDP2 wrapping, data loading, checkpoints, the trainer, export."""
