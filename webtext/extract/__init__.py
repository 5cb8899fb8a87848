"""The ``extract`` stage: stored HTML (WARC) -> the **docs** dataset (trafilatura + GPT-2-style cleaning)."""
