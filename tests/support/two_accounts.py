"""An AssemblyAI stand-in with one account per key (a helper, not tests): each resource belongs to
the key that made it, and each key can be rate-limited or rejected on demand."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx

KEY_A = "pool-key-a-0123456789abcdef0123456"
KEY_B = "pool-key-b-0123456789abcdef0123456"


@dataclass
class Call:
    key: str
    method: str
    path: str
    status: int


@dataclass
class TwoAccounts:
    owner: dict[str, str] = field(default_factory=dict)
    limited: dict[str, int] = field(default_factory=dict)
    """Key -> the Retry-After its 429 carries."""
    rejected: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def keys_called(self) -> list[str]:
        return [call.key for call in self.calls]

    def handle(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("authorization", "")
        response = self._answer(key, request)
        self.calls.append(Call(key, request.method, request.url.path, response.status_code))
        return response

    def _answer(self, key: str, request: httpx.Request) -> httpx.Response:
        if key in self.rejected:
            return httpx.Response(401, json={"error": "Authentication error, API token missing/invalid"})
        if key in self.limited:
            headers = {"retry-after": str(self.limited[key])}
            return httpx.Response(429, headers=headers, json={"error": "Too Many Requests"})
        path, method = request.url.path, request.method
        if method == "POST" and path == "/v2/upload":
            url = f"https://cdn.assemblyai.com/upload/u{len(self.owner)}"
            self.owner[url] = key
            return httpx.Response(200, json={"upload_url": url})
        if method == "POST" and path == "/v2/transcript":
            return self._create(key, json.loads(request.content))
        if method == "GET" and path.startswith("/v2/transcript/"):
            transcript_id = path.split("/")[3]
            if self.owner.get(transcript_id) != key:
                return httpx.Response(404, json={"error": "Transcript not found"})
            return httpx.Response(200, json={"id": transcript_id, "status": "queued"})
        if method == "GET" and path == "/v2/transcript":
            owned = [
                {"id": name} for name, owner in self.owner.items() if owner == key and name.startswith("tr_")
            ]
            return httpx.Response(200, json={"transcripts": owned, "page_details": {}})
        return httpx.Response(404, json={"error": "Not found"})

    def _create(self, key: str, body: dict[str, str]) -> httpx.Response:
        audio_url = body.get("audio_url", "")
        if audio_url in self.owner and self.owner[audio_url] != key:
            # An upload URL only works for the account that uploaded it.
            return httpx.Response(400, json={"error": "Download error, unable to download upload URL"})
        transcript_id = f"tr_{len(self.owner)}"
        self.owner[transcript_id] = key
        return httpx.Response(200, json={"id": transcript_id, "status": "queued", "audio_url": audio_url})
