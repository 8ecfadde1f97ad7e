"""A reader of server-sent events (the ``text/event-stream`` format of the HTML standard,
§9.2), small enough to keep here rather than depend on a package for it.

Only what qrun's ``GET /api/runs/{id}/events`` uses is interpreted: ``event``, ``data``,
``id`` and ``retry`` fields, comment lines (keep-alives), and blank lines ending an event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event.

    Attributes:
        event: The event type (``message`` when the stream named none).
        data: The data lines joined by ``\\n``.
        id: The last event id the stream set (carried over from earlier events, as the
            standard says), or ``None``.
        retry_ms: The reconnection time the stream last asked for (``retry:``), milliseconds,
            or ``None`` if it has not.
    """

    event: str
    data: str
    id: str | None
    retry_ms: int | None


def lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Splits a byte stream into lines as they arrive: ``\\n``, ``\\r\\n`` and ``\\r`` end a
    line, and a line split across chunks is joined. Bytes are decoded as UTF-8 per line (the
    format's encoding), so a multi-byte character split across chunks survives. A final line
    without its end is dropped: the standard discards an event the stream did not finish.
    """
    pending = b""
    for chunk in chunks:
        if not chunk:
            continue
        pending += chunk
        while True:
            cut = _line_end(pending)
            if cut is None:
                break
            line, rest = cut
            yield line.decode("utf-8", errors="replace")
            pending = rest
    if pending.endswith(b"\r"):
        # The stream ended on a bare CR: it did end that line.
        yield pending[:-1].decode("utf-8", errors="replace")


def _line_end(buffer: bytes) -> tuple[bytes, bytes] | None:
    """The first complete line of ``buffer`` and what follows it, or ``None``. A ``\\r`` at
    the very end may be the first half of ``\\r\\n``, so it waits for the next byte."""
    for i, byte in enumerate(buffer):
        if byte == 0x0A:  # \n
            return buffer[:i], buffer[i + 1 :]
        if byte == 0x0D:  # \r
            if i + 1 == len(buffer):
                return None
            skip = 2 if buffer[i + 1] == 0x0A else 1
            return buffer[:i], buffer[i + skip :]
    return None


def events(stream_lines: Iterable[str], last_event_id: str | None = None) -> Iterator[SseEvent]:
    """The events of a stream of lines (see :func:`lines`).

    Args:
        stream_lines: The stream's lines, without their line ends.
        last_event_id: The id in force before the stream starts (the one sent as
            ``Last-Event-ID`` on reconnection).

    Yields:
        Each event as it is dispatched (at the blank line that ends it). An event with no data
        is not dispatched, as the standard says; its ``id`` and ``retry`` still take effect.
    """
    event_type = ""
    data: list[str] = []
    current_id = last_event_id
    retry_ms: int | None = None
    for line in stream_lines:
        if line == "":
            if data:
                yield SseEvent(event_type or "message", "\n".join(data), current_id, retry_ms)
            event_type, data = "", []
            continue
        if line.startswith(":"):
            continue  # a comment: warp's keep-alive
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            event_type = value
        elif field == "data":
            data.append(value)
        elif field == "id" and "\0" not in value:
            current_id = value
        elif field == "retry" and value.isdigit():
            retry_ms = int(value)
        # Any other field is ignored, as the standard says.
