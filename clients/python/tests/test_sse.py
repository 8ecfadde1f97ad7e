"""The event-stream reader, on the byte sequences a connection can deliver."""

from __future__ import annotations

from qrun_qiskit._sse import SseEvent, events, lines


def parse(chunks: list[bytes], last_event_id: str | None = None) -> list[SseEvent]:
    return list(events(lines(chunks), last_event_id))


def test_qruns_stream_as_warp_writes_it() -> None:
    stream = (
        b'retry:2000\nevent:status\nid:pending\ndata:{"status":"pending"}\n\n'
        b":\n\n"  # keep-alive
        b'event:status\nid:running\ndata:{"status":"running"}\n\n'
        b'event:error\ndata:{"error":{"code":"unavailable","message":"later"}}\n\n'
    )
    assert parse([stream]) == [
        SseEvent("status", '{"status":"pending"}', "pending", 2000),
        SseEvent("status", '{"status":"running"}', "running", 2000),
        SseEvent("error", '{"error":{"code":"unavailable","message":"later"}}', "running", 2000),
    ]


def test_events_split_anywhere_across_chunks_are_the_same_events() -> None:
    stream = 'event: status\r\nid: completed\r\ndata: {"note":"ψ"}\r\n\r\n'.encode()
    whole = parse([stream])
    assert whole == [SseEvent("status", '{"note":"ψ"}', "completed", None)]
    for cut in range(1, len(stream)):
        assert parse([stream[:cut], stream[cut:]]) == whole, cut
    assert parse([bytes([b]) for b in stream]) == whole


def test_an_unfinished_event_is_dropped_and_ids_carry_over() -> None:
    stream = b"data:one\ndata:two\n\nevent:status\ndata:cut off"
    assert parse([stream], last_event_id="pending") == [
        SseEvent("message", "one\ntwo", "pending", None)
    ]


def test_bare_cr_line_ends_and_unknown_fields() -> None:
    stream = b"event:status\rfoo:bar\rid:x\rdata:1\r\r"
    assert parse([stream]) == [SseEvent("status", "1", "x", None)]
