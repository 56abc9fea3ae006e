"""32 concurrent streaming clients, different prompts: all complete in bounded time, nothing lost or
mixed (each answer equals that prompt's answer alone), and the engine really batched them."""

from __future__ import annotations

import asyncio

import httpx
import openai
from serve_test_support import API_KEY, TINY

CLIENTS = 32
MAX_TOKENS = 6
TIME_LIMIT_S = 240


def prompt(index: int) -> str:
    # all the same length: the byte tokenizer makes them the same number of tokens, so the
    # single answers and the batch see few distinct shapes
    return f"Request {index:02d}: say something about the number {index * 7:03d}."


def test_32_concurrent_streams_match_their_single_answers(base_url, auth):
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=API_KEY, max_retries=0, timeout=120)
    alone = [
        client.completions.create(model=TINY, prompt=prompt(i), max_tokens=MAX_TOKENS, temperature=0).choices[0].text
        for i in range(CLIENTS)
    ]
    assert len(set(alone)) > 1  # different prompts, different answers: a mix-up would show
    before = httpx.get(f"{base_url}/metrics", params={"format": "json"}).json()

    async def stream_one(aclient: openai.AsyncOpenAI, index: int) -> str:
        chunks = await aclient.completions.create(
            model=TINY, prompt=prompt(index), max_tokens=MAX_TOKENS, temperature=0, stream=True
        )
        return "".join([chunk.choices[0].text async for chunk in chunks])

    async def all_at_once() -> list[str]:
        async with openai.AsyncOpenAI(
            base_url=f"{base_url}/v1", api_key=API_KEY, max_retries=0, timeout=TIME_LIMIT_S
        ) as aclient:
            tasks = [stream_one(aclient, i) for i in range(CLIENTS)]
            return await asyncio.wait_for(asyncio.gather(*tasks), TIME_LIMIT_S)

    together = asyncio.run(all_at_once())
    assert together == alone

    after = httpx.get(f"{base_url}/metrics", params={"format": "json"}).json()
    assert after["batch_occupancy"]["max"] > 1  # requests were decoded together
    assert after["requests"]["finished"] - before["requests"]["finished"] == CLIENTS
    assert after["requests"]["rejected"] == before["requests"]["rejected"]
    assert after["running"] == after["queue_length"] == 0
    assert after["time_to_first_token_s"]["count"] >= 2 * CLIENTS
    text = httpx.get(f"{base_url}/metrics").text  # the Prometheus form of the same numbers
    assert f'autodeploy_serve_requests_total{{outcome="finished"}} {after["requests"]["finished"]}' in text
    assert "# TYPE autodeploy_serve_time_to_first_token_seconds summary" in text
