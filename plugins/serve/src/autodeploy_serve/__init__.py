"""``python -m autodeploy serve``: an OpenAI-compatible server over autodeploy's batching runtime.

A first-party plugin written like a third-party one: it adds the ``serve`` subcommand through
``autodeploy_register_commands`` and uses only the core's public runtime (`LLM`, `Engine`,
`SamplingParams`). Importing this package imports neither torch nor FastAPI.
"""

__version__ = "0.1.0"
