"""A traced stream is of the SDK's own class, on every installed release: ``type(stream) is openai.Stream`` holds.

For every streaming family and every way of getting a stream (``stream=True``, a raw response's ``parse()``, a
streaming response's ``parse()``, the ``.stream()`` helpers and the SDK stream they hold), sync and async, the exact
classes the app gets (and the class of the HTTP response's ``stream``) are those it gets uninstrumented, while the
call is still observed to the end (its output tokens come from the stream's last events). ``nox -s tests-sdks``
runs this against every supported major, anthropic 0.x's stream metaclass and 0.40's helper that builds its own
stream from the response included.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any

import pytest

import aigw_trace
from aigw_trace import _attributes as A
from tests.sdks.conftest import FakeAPI, transport_of
from tests.sdks.test_matrix import FAMILIES, _check_available, _client, _drain, _enter, _helper, _resolve, _run_sync

STYLES = ("stream", "raw-stream", "streaming-response-stream", "helper")


def _cases() -> list[Any]:
    return [
        pytest.param(family, style, id=f"{family.sdk}-{family.name}-{style}")
        for family in FAMILIES
        if family.streamed is not None
        for style in STYLES
        if style != "helper" or family.helpers
    ]


def _types(stream: Any) -> dict[str, type]:
    """The exact classes the app can reach: the stream, the SDK stream a helper holds, the HTTP body's stream."""
    found = {"stream": type(stream)}
    raw = getattr(stream, "_raw_stream", None)
    if raw is not None:
        found["raw_stream"] = type(raw)
    response = getattr(raw if raw is not None else stream, "response", None)
    if response is not None:
        found["http_response.stream"] = type(response.stream)
    return found


async def _stream_types(family: Any, style: str, client: Any) -> tuple[dict[str, type], int]:
    resource = getattr(client, family.resource[0])
    for name in family.resource[1:]:
        resource = getattr(resource, name)
    kwargs = {**family.kwargs, **dict(family.stream_kwargs)}
    async with contextlib.AsyncExitStack() as stack:
        if style == "stream":
            stream = await _resolve(resource.create(**kwargs, stream=True))
        elif style == "raw-stream":
            stream = await _resolve((await _resolve(resource.with_raw_response.create(**kwargs, stream=True))).parse())
        elif style == "streaming-response-stream":
            response = await _enter(stack, resource.with_streaming_response.create(**kwargs, stream=True))
            stream = await _resolve(response.parse())
        else:
            stream = await _enter(stack, _helper(family, client)(**kwargs))
        types = _types(stream)
        items = len(await _drain(stream))
    return types, items


async def _baseline_and_traced(family: Any, style: str, is_async: bool, telemetry: Any) -> tuple[Any, Any]:
    pytest.importorskip(family.sdk, reason=f"{family.sdk} is not installed")
    hx = transport_of(family.sdk)
    assert family.streamed is not None
    aigw_trace.uninstrument()
    client = _client(family.sdk, FakeAPI(hx, family.streamed.reply()), is_async=is_async)
    _check_available(family, style, client)
    baseline = await _stream_types(family, style, client)
    telemetry.instrument()
    traced = await _stream_types(
        family, style, _client(family.sdk, FakeAPI(hx, family.streamed.reply()), is_async=is_async)
    )
    return baseline, traced


def _assert_same_types_and_observed(
    family: Any, style: str, is_async: bool, baseline: Any, traced: Any, telemetry: Any
) -> None:
    assert traced == baseline
    sdk = importlib.import_module(family.sdk)
    expected = sdk.AsyncStream if is_async else sdk.Stream
    types = traced[0]
    assert types.get("raw_stream", types["stream"]) is expected
    # The HTTP library's own byte stream stays on the response (the body is watched one level down).
    assert types["http_response.stream"].__module__.partition(".")[0] == transport_of(family.sdk).__name__
    (span,) = telemetry.genai_spans()
    assert span.end_time is not None
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == family.streamed.output_tokens


@pytest.mark.parametrize(("family", "style"), _cases())
def test_sync_stream_is_of_the_sdks_own_class(family: Any, style: str, aigw_telemetry: Any) -> None:
    baseline, traced = _run_sync(_baseline_and_traced(family, style, False, aigw_telemetry))
    _assert_same_types_and_observed(family, style, False, baseline, traced, aigw_telemetry)


@pytest.mark.parametrize(("family", "style"), _cases())
async def test_async_stream_is_of_the_sdks_own_class(family: Any, style: str, aigw_telemetry: Any) -> None:
    baseline, traced = await _baseline_and_traced(family, style, True, aigw_telemetry)
    _assert_same_types_and_observed(family, style, True, baseline, traced, aigw_telemetry)


def test_uninstrument_puts_the_stream_classes_back(aigw_telemetry: Any) -> None:
    for sdk_name in ("openai", "anthropic"):
        sdk = pytest.importorskip(sdk_name)
        streaming = importlib.import_module(f"{sdk_name}._streaming")
        aigw_trace.uninstrument()
        before = {
            (cls, name): vars(cls)[name] for cls in (sdk.Stream, sdk.AsyncStream) for name in ("__stream__", "close")
        }
        assert streaming.Stream is sdk.Stream
        aigw_telemetry.instrument()
        assert all(vars(cls)[name] is not original for (cls, name), original in before.items())
        aigw_trace.uninstrument()
        assert {(cls, name): vars(cls)[name] for cls, name in before} == before
