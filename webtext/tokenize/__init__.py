"""GPT-2 byte-level BPE: tokenizers (load, train), token shards (write, read)."""
