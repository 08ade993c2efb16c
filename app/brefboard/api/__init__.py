"""BrefBoard's OpenAI-compatible API (``/v1/``): transcriptions by per-user bearer tokens."""
