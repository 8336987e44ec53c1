"""Malformed and unusual bodies on the wire, per endpoint family, JSON and SSE (generator: ``bodies.wire_body``).

For every body: the app gets the same result, or the same exception class, as without aigw-trace; exactly one
span is started and it is ended once; and over the whole run the library logs at most one line per failure kind.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.reliability import bodies
from tests.reliability.harness import Script, Server, capture_library_logs, client, observe, uninstrumented

CASES = [(name, False) for name in bodies.FAMILIES] + [(name, True) for name in bodies.STREAMING]


@pytest.mark.aigw_options(capture_content="span_and_event")
@pytest.mark.parametrize(("family", "stream"), CASES, ids=[f"{f}-{'sse' if s else 'json'}" for f, s in CASES])
def test_odd_bodies_change_nothing_the_app_sees(aigw_telemetry, ledger, family, stream):
    fam = bodies.FAMILIES[family]
    server = Server()
    sdk = client(server, fam.provider, is_async=False)

    with capture_library_logs() as logs:

        @given(wire=bodies.wire_body(family, stream))
        def fuzz(wire: bodies.Wire) -> None:
            server.reply(Script(wire.status, wire.chunks, wire.content_type))
            with uninstrumented(aigw_telemetry):
                plain = observe(family, sdk, stream)
            ledger.clear()
            traced = observe(family, sdk, stream)
            assert traced == plain
            ledger.assert_one_span_ended_once()
            repeated = {kind: n for kind, n in logs.kinds().items() if n > 1}
            assert not repeated, f"logged more than once: {repeated}"

        fuzz()
