"""Decoding seed files: UTF-8 (optional BOM), keeping a few undecodable bytes as surrogate
escapes so the rows holding them can be quarantined one by one instead of failing the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from linkqa_pipelines.core.seeds.raw import RAW_PREVIEW_CHARS, SeedSourceError

_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by surrogateescape
_MAX_BAD_LINE_SHARE = 0.5  # above this a file is in another encoding, not a UTF-8 file with bad rows


def read_text(path: Path) -> str:
    """Whole file as text: UTF-8 with an optional BOM.

    A few undecodable bytes are kept as surrogate escapes so the rows holding them can be
    quarantined one by one (`undecodable_reason`); a file mostly in another encoding, or
    holding NUL bytes (UTF-16, binary), cannot be read at all and is a file-level error.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SeedSourceError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        lines = data.splitlines()
        bad_lines = sum(1 for line in lines if not _is_utf8(line))
        if b"\x00" in data or bad_lines > _MAX_BAD_LINE_SHARE * max(len(lines), 1):
            line = data.count(b"\n", 0, exc.start) + 1
            raise SeedSourceError(
                f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}, byte offset {exc.start}; "
                f"{bad_lines} of {len(lines)} lines undecodable); re-encode the file as UTF-8"
            ) from exc
        return data.decode("utf-8-sig", errors="surrogateescape")


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def undecodable_reason(text: str) -> str | None:
    """Why a row's text is unreadable (its first non-UTF-8 byte), or None when it is clean."""
    found = _UNDECODABLE.search(text)
    if found is None:
        return None
    return f"unreadable encoding: byte 0x{ord(found.group()) - 0xDC00:02x} is not UTF-8"


def printable(text: str) -> str:
    """Text with escaped bytes shown as U+FFFD, safe to store and print."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")[:RAW_PREVIEW_CHARS]
