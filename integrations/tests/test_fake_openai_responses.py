"""The fake OpenAI server's Responses API, driven by the official `openai` SDK (sync
and async): the response object, the stream helper's events and final response, the
named SSE events on the wire, `max_output_tokens` making it incomplete."""

import asyncio

import httpx

from integrations.fake_openai import ANSWER_WORDS

ANSWER = " ".join(ANSWER_WORDS)


def test_responses_plain(fake_openai_client):
    response = fake_openai_client.responses.create(
        model="gpt-4o", input="Tell me a story", instructions="Be short"
    )
    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.model == "gpt-4o"
    assert response.output_text == ANSWER
    assert response.output[0].type == "message"
    assert response.usage.input_tokens == 6
    assert response.usage.output_tokens == 20
    assert response.usage.total_tokens == 26


def test_responses_stream_helper_yields_events_and_final_response(fake_openai_client, fake_openai):
    fake_openai.configure(chunk_count=5)
    with fake_openai_client.responses.stream(model="gpt-4o", input="hello there") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [event.type for event in events]
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 5,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert final.output_text == " ".join(ANSWER_WORDS[:5])
    assert final.usage.input_tokens == 2
    assert final.usage.output_tokens == 5


def test_responses_wire_format_names_each_event(fake_openai):
    fake_openai.configure(chunk_count=1)
    response = httpx.post(
        f"{fake_openai.base_url}/responses",
        headers={"Authorization": f"Bearer {fake_openai.key}"},
        json={"model": "gpt-4o", "input": "hi", "stream": True},
    )
    events = [event for event in response.text.split("\n\n") if event]
    assert len(events) == 9
    for event in events:
        name_line, data_line = event.split("\n")
        name = name_line.removeprefix("event: ")
        assert data_line.startswith('data: {"type":"' + name + '"')


def test_responses_async_create_stream(fake_openai_async_client):
    async def scenario():
        stream = await fake_openai_async_client.responses.create(
            model="gpt-4o", input="hi", stream=True
        )
        events = [event async for event in stream]
        await fake_openai_async_client.close()
        return events

    events = asyncio.run(scenario())
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert deltas == ANSWER
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage.output_tokens == 20
    assert events[-1].response.output_text == ANSWER


def test_responses_max_output_tokens_is_incomplete(fake_openai_client):
    response = fake_openai_client.responses.create(model="gpt-4o", input="hi", max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage.output_tokens == 16
