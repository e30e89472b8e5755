"""Streaming readers of CloudTrail records.

CloudTrail delivers gzipped JSON objects `{"Records": [...]}` to S3; exports and pipelines often
produce NDJSON (one record per line). `iter_records` reads either, gzipped or not, as a stream of
concatenated JSON values: a value with a `Records` array is expanded element by element without
holding the whole array, any other object is one record. Malformed input raises
`Invalid("cloudtrail_malformed", ...)` naming the line and what is wrong.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from typing import IO, Any

from acso_shared.errors import Invalid

CHUNK_CHARS = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_WHITESPACE = " \t\r\n"
_decoder = json.JSONDecoder()


def open_text(source: IO[bytes] | bytes) -> IO[str]:
    """A UTF-8 text stream over `source`, gunzipped when it starts with the gzip magic bytes.

    Log objects arrive gzipped or plain whatever their key says; sniffing the first bytes (and
    putting them back) streams either without reading the whole object into memory.
    """
    stream: IO[bytes] = io.BytesIO(source) if isinstance(source, bytes) else source
    head = stream.read(2)
    prefixed = io.BufferedReader(_Prefixed(head, stream))
    if head == _GZIP_MAGIC:
        return io.TextIOWrapper(gzip.GzipFile(fileobj=prefixed, mode="rb"), encoding="utf-8")
    return io.TextIOWrapper(prefixed, encoding="utf-8")


def iter_records(source: IO[bytes] | bytes) -> Iterator[dict[str, Any]]:
    """Yield CloudTrail record dicts from delivery-format JSON or NDJSON, gzipped or plain."""
    yield from _Parser(open_text(source)).records()


class _Prefixed(io.RawIOBase):
    """A byte stream whose first bytes were already read to sniff the format."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


class _Parser:
    """Incremental parser over a text stream: a sequence of JSON values, with `Records` arrays
    decoded one element at a time. Consumed text is dropped so memory stays at about one record."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._line = 1  # line number of self._pos, for error messages
        self._records = 0

    def records(self) -> Iterator[dict[str, Any]]:
        while self._skip_ws():
            if self._starts_envelope():
                yield from self._envelope()
            else:
                value = self._value()
                yield self._record(value)

    def _fill(self) -> bool:
        if self._eof:
            return False
        try:
            chunk = self._text.read(CHUNK_CHARS)
        except (OSError, EOFError, zlib.error) as err:
            raise Invalid("cloudtrail_malformed", f"gzip stream is corrupt or truncated: {err}") from err
        except UnicodeDecodeError as err:
            raise Invalid("cloudtrail_malformed", f"input is not UTF-8 text near line {self._line}") from err
        if not chunk:
            self._eof = True
            return False
        self._buf = self._buf[self._pos :] + chunk
        self._pos = 0
        return True

    def _advance(self, to: int) -> None:
        self._line += self._buf.count("\n", self._pos, to)
        self._pos = to

    def _skip_ws(self) -> bool:
        """Skip whitespace; False at the end of input."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in _WHITESPACE:
                if self._buf[self._pos] == "\n":
                    self._line += 1
                self._pos += 1
            if self._pos < len(self._buf):
                return True
            if not self._fill():
                return False

    def _peek(self, n: int) -> str:
        while len(self._buf) - self._pos < n and self._fill():
            pass
        return self._buf[self._pos : self._pos + n]

    def _expect(self, char: str, what: str) -> None:
        if not self._skip_ws() or self._buf[self._pos] != char:
            found = "end of input" if self._pos >= len(self._buf) else repr(self._buf[self._pos])
            raise Invalid("cloudtrail_malformed", f"line {self._line}: expected {what}, found {found}")
        self._advance(self._pos + 1)

    def _value(self) -> Any:
        """Decode the next JSON value, reading more input until it is complete."""
        while True:
            try:
                value, end = _decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as err:
                # An error may only mean the value continues in the next chunk.
                if self._fill():
                    continue
                raise Invalid("cloudtrail_malformed", f"line {self._line}: invalid JSON: {err.msg}") from err
            if end == len(self._buf) and not self._eof and self._fill():
                continue  # a number at the end of a chunk may go on
            self._advance(end)
            return value

    def _starts_envelope(self) -> bool:
        head = self._peek(64).lstrip("{" + _WHITESPACE)
        return self._peek(1) == "{" and head.startswith('"Records"')

    def _envelope(self) -> Iterator[dict[str, Any]]:
        self._expect("{", "'{'")
        first = True
        while True:
            self._skip_ws()
            if self._peek(1) == "}":
                self._advance(self._pos + 1)
                return
            if not first:
                self._expect(",", "',' or '}' in the envelope object")
                self._skip_ws()
            first = False
            key = self._value()
            self._expect(":", "':' after an object key")
            self._skip_ws()
            if key == "Records":
                yield from self._array()
            else:
                self._value()  # other envelope keys carry no records

    def _array(self) -> Iterator[dict[str, Any]]:
        self._expect("[", "'[' starting the Records array")
        self._skip_ws()
        if self._peek(1) == "]":
            self._advance(self._pos + 1)
            return
        while True:
            self._skip_ws()
            yield self._record(self._value())
            self._skip_ws()
            if self._peek(1) == "]":
                self._advance(self._pos + 1)
                return
            self._expect(",", "',' or ']' in the Records array")

    def _record(self, value: Any) -> dict[str, Any]:
        self._records += 1
        if not isinstance(value, dict):
            raise Invalid(
                "cloudtrail_malformed",
                f"line {self._line}: record {self._records} is a JSON {type(value).__name__}, expected an object",
            )
        return value
