"""Agent frameworks whose default (or option) is the Responses API, unchanged, against Onshore: the
OpenAI Agents SDK running a one-tool agent with its default ``OpenAIResponsesModel``, and LangChain's
``ChatOpenAI(use_responses_api=True)``. The engine behind is a chat-completions-only scripted one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.scripted_engine import ScriptedEngine
from tests.support.services import Gateway, make_gateway, remote_backend


@pytest.fixture(scope="module")
def engine() -> Iterator[ScriptedEngine]:
    eng = ScriptedEngine().start()
    yield eng
    eng.stop()


@pytest.fixture(scope="module")
def gateway(engine: ScriptedEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("frameworks")
    gw = make_gateway(tmp, [remote_backend("engine", engine.url, "echo", "tool")])
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def key(gateway: Gateway) -> str:
    return gateway.create_key("acme")[1]


def test_openai_agents_sdk_runs_a_one_tool_agent(gateway: Gateway, key: str) -> None:
    from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled
    from openai import AsyncOpenAI

    set_tracing_disabled(True)
    seen: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        seen.append(city)
        return "25C"

    async def run() -> str:
        client = AsyncOpenAI(base_url=gateway.v1, api_key=key, max_retries=0)
        agent = Agent(
            name="weather",
            instructions="Answer with the weather.",
            tools=[get_weather],
            model=OpenAIResponsesModel(model="tool", openai_client=client),
        )
        result = await Runner.run(agent, "Weather in Seoul?")
        await client.close()
        return str(result.final_output)

    assert asyncio.run(run()) == "sunny: 25C"
    assert seen == ["Seoul"]


def test_openai_agents_sdk_streamed(gateway: Gateway, key: str) -> None:
    from agents import Agent, OpenAIResponsesModel, Runner, set_tracing_disabled
    from openai import AsyncOpenAI

    set_tracing_disabled(True)

    async def run() -> str:
        client = AsyncOpenAI(base_url=gateway.v1, api_key=key, max_retries=0)
        agent = Agent(name="echo", model=OpenAIResponsesModel(model="echo", openai_client=client))
        result = Runner.run_streamed(agent, "say this back")
        async for _ in result.stream_events():
            pass
        await client.close()
        return str(result.final_output)

    assert asyncio.run(run()) == "say this back"


def test_langchain_chat_openai_with_the_responses_api(gateway: Gateway, key: str) -> None:
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model="echo", base_url=gateway.v1, api_key=key, use_responses_api=True, max_retries=0)  # type: ignore[arg-type]
    assert llm.invoke("hello from langchain").text == "hello from langchain"
    assert "".join(chunk.text for chunk in llm.stream("streamed back")) == "streamed back"

    @tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "25C"

    caller = ChatOpenAI(model="tool", base_url=gateway.v1, api_key=key, use_responses_api=True, max_retries=0)  # type: ignore[arg-type]
    message = caller.bind_tools([get_weather]).invoke("Weather in Seoul?")
    assert [(call["name"], call["args"]) for call in message.tool_calls] == [
        ("get_weather", {"city": "Seoul"})
    ]
