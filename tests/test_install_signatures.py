"""The patched SDK methods take the SDK's parameters by name when its signature is one they know (no repacking of
``*args, **kwargs`` per call), and fall back to forwarding whatever they get otherwise; both record the same."""

from __future__ import annotations

from typing import Any

import pytest

from aigw_trace import _install
from tests.conftest import Reply, parent_of
from tests.providers.test_openai_chat import completion

MESSAGES = [{"role": "user", "content": "hi"}]


def test_known_signatures_are_recognised_and_others_are_not() -> None:
    def request(self: Any, cast_to: Any, options: Any, *, stream: bool = False, stream_cls: Any = None) -> None: ...
    def old_request(self: Any, cast_to: Any, options: Any, remaining_retries: Any = None, *, stream: bool = False,
                    stream_cls: Any = None) -> None: ...  # fmt: skip
    def build(self: Any, options: Any, *, retries_taken: int = 0) -> None: ...
    def old_build(self: Any, options: Any) -> None: ...
    def required_retries(self: Any, options: Any, *, retries_taken: int) -> None: ...
    def process(self: Any, *, cast_to: Any, options: Any, response: Any, stream: Any, stream_cls: Any,
                retries_taken: int = 0) -> None: ...  # fmt: skip
    def forwarding(*args: Any, **kwargs: Any) -> None: ...

    assert _install._takes(request, _install._REQUEST)
    assert not _install._takes(old_request, _install._REQUEST)
    assert _install._takes(build, _install._BUILD_REQUEST)
    assert _install._takes(old_build, _install._BUILD_REQUEST)
    assert not _install._takes(required_retries, _install._BUILD_REQUEST)
    assert _install._takes(process, _install._PROCESS_RESPONSE)
    assert not _install._takes(forwarding, _install._REQUEST)
    assert not _install._takes(len, _install._REQUEST)


@pytest.mark.aigw_options(response_headers=["x-gateway-id"])
def test_the_sdks_own_calls_and_a_direct_request_record_alike(aigw_telemetry, fake_api, openai_client) -> None:
    import openai

    fake_api.reply(Reply(json=completion(), headers={"x-gateway-id": "gw-1"}))
    client = openai_client()
    named = _install._takes(vars(openai._base_client.SyncAPIClient)["request"].__wrapped__, _install._REQUEST)
    # On the SDK this suite runs, the replacement with named parameters is the one installed.
    assert named == (openai._base_client.SyncAPIClient.request.__code__.co_kwonlyargcount == 2)

    client.chat.completions.create(model="gpt-4o", messages=MESSAGES, temperature=0.5)
    # The same call, made by hand without stream/stream_cls: the SDK's defaults apply, through the generic path.
    options = openai._models.FinalRequestOptions.construct(
        method="post", url="/chat/completions", json_data={"model": "gpt-4o", "messages": MESSAGES, "temperature": 0.5}
    )
    direct = client.request(openai.types.chat.ChatCompletion, options)
    assert isinstance(direct, openai.types.chat.ChatCompletion)

    first, second = aigw_telemetry.spans()
    assert dict(first.attributes) == dict(second.attributes)
    assert first.attributes["gen_ai.request.temperature"] == 0.5
    assert "gw-1" in first.attributes.values()  # read in _process_response
    for span, headers in zip((first, second), fake_api.headers, strict=True):
        assert parent_of(headers)[1] == format(span.get_span_context().span_id, "016x")


@pytest.mark.parametrize("is_async", [False, True])
def test_a_method_of_an_unknown_shape_is_forwarded_as_called(aigw_telemetry, fake_api, openai_client, monkeypatch,
                                                             is_async) -> None:  # fmt: skip
    """An SDK release whose methods take other parameters gets the generic replacements, which pass on exactly
    what they were given."""
    import asyncio

    import openai

    import aigw_trace

    aigw_trace.uninstrument()
    seen: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    base = openai._base_client
    for owner, name in ((base.SyncAPIClient, "request"), (base.AsyncAPIClient, "request"),
                        (base.BaseClient, "_build_request"), (base.SyncAPIClient, "_process_response"),
                        (base.AsyncAPIClient, "_process_response")):  # fmt: skip
        sdk = getattr(owner, name)

        def make(sdk: Any, name: str, owner: Any) -> Any:
            if name == "request" and owner is base.AsyncAPIClient:

                async def forwarding_async(self: Any, *args: Any, **kwargs: Any) -> Any:
                    seen.append((name, args, kwargs))
                    return await sdk(self, *args, **kwargs)

                return forwarding_async

            def forwarding(self: Any, *args: Any, **kwargs: Any) -> Any:
                seen.append((name, args, kwargs))
                return sdk(self, *args, **kwargs)

            return forwarding

        monkeypatch.setattr(owner, name, make(sdk, name, owner))
    aigw_telemetry.instrument(response_headers=["x-gateway-id"])
    assert base.SyncAPIClient.request.__code__.co_kwonlyargcount == 0  # the generic replacement

    fake_api.reply(Reply(json=completion(), headers={"x-gateway-id": "gw-1"}))
    client = openai_client(is_async=is_async)
    create = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, temperature=0.5)
    if is_async:
        asyncio.run(create)
    assert [name for name, _, _ in seen] == ["request", "_build_request", "_process_response"]
    request_kwargs = seen[0][2]
    assert set(request_kwargs) == {"stream", "stream_cls"}  # as the SDK passed them, nothing added
    (span,) = aigw_telemetry.spans()
    assert span.attributes["gen_ai.request.temperature"] == 0.5
    assert "gw-1" in span.attributes.values()
    assert parent_of(fake_api.headers[0])[1] == format(span.get_span_context().span_id, "016x")
