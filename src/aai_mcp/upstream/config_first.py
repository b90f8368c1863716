"""The multipart body the Sync and Dictation APIs take: a `config` JSON part, then the `audio` part.

The order is the API's rule, not a habit: the server decodes as bytes arrive and rejects audio that
arrives before the config (SDK 1.8.2 `_multipart.py:65-74`). httpx's own `files=` encoder gives a
plain form field no Content-Type, and the config part needs `application/json`, so the body is built
here, whole: both APIs cap a clip at 120 s (40 MB), small enough to hold in memory.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

# Characters the SDK percent-escapes in a part's filename (`_multipart.py:39-53`).
_FILENAME_ESCAPES = {'"': "%22", "\\": "%5C"}


def escaped_filename(name: str) -> str:
    out = []
    for char in name:
        if char in _FILENAME_ESCAPES:
            out.append(_FILENAME_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"%{ord(char):02X}")
        else:
            out.append(char)
    return "".join(out)


def config_first_body(
    config: dict[str, Any], audio: bytes, filename: str, audio_type: str
) -> tuple[bytes, str]:
    """(body, Content-Type header) with the config part first; an empty config is sent as `{}`."""
    boundary = secrets.token_hex(16)
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="config"\r\n'
        "Content-Type: application/json\r\n\r\n"
        f"{json.dumps(config, separators=(',', ':'))}\r\n"
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="audio"; filename="{escaped_filename(filename)}"\r\n'
        f"Content-Type: {audio_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + audio + tail, f"multipart/form-data; boundary={boundary}"
