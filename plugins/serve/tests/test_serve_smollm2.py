"""The default model (SmolLM2-135M-Instruct, the embedded GGUF converted once per session) served:
the chat endpoint answers the demo's question the way ``python -m autodeploy run`` does."""

from __future__ import annotations

import openai
import pytest
from serve_test_support import start_server


@pytest.mark.slow
def test_the_default_model_answers_through_the_chat_endpoint(model_cache):
    server = start_server([], model_cache)  # no --model: the embedded default, graph mode
    try:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=120)
        assert [model.id for model in client.models.list()] == ["default"]
        response = client.chat.completions.create(
            model="default",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=16,
            temperature=0,
        )
        # the answer the README's demo (`python -m autodeploy run`) gives for the same question
        assert response.choices[0].message.content == "The capital of France is Paris."
        assert response.choices[0].finish_reason == "stop"
        assert server.stop() == 0
    finally:
        server.stop()
