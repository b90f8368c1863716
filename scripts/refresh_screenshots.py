"""Regenerate the README's screenshots (docs/screenshots/) from the browser tests.

    python scripts/refresh_screenshots.py

Runs the browser tests that write them (the upload page's 50 MB upload on a phone-sized viewport,
the transcript viewer with and without a search, the upload widget in the minimal MCP Apps host, the
OAuth consent page on a phone and a desktop; they need Debian's chromium, see the README) and copies
the PNGs they keep under test-artifacts/ into docs/screenshots/, under the names the README shows.
Fails, copying nothing, when a test fails.
"""

from __future__ import annotations

import base64
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = (
    "tests/test_upload_links_served.py::test_a_browser_uploads_50_MB_through_the_page",
    "tests/test_viewer_browser.py::test_the_transcript_viewer_plays_searches_and_downloads_in_chromium",
    "tests/test_widget_browser.py::test_the_upload_widget_uploads_a_file_inside_the_chat",
    "tests/test_oauth_browser.py::test_the_sdk_client_gets_a_token_narrowed_in_chromium",
    "tests/test_client_metadata_browser.py",
)
CHROMIUM = "/usr/bin/chromium"
# test artifact -> the screenshot the README embeds, and the height it is cut to (None: whole)
SHOTS = {
    "upload-page/1-waiting.png": ("upload-page-waiting.png", None),
    "upload-page/2-uploading.png": ("upload-page-uploading.png", None),
    "upload-page/3-done.png": ("upload-page-done.png", None),
    "views/transcript-viewer.png": ("transcript-viewer.png", 720),
    "views/transcript-viewer-search.png": ("transcript-viewer-search.png", 720),
    "views/upload-widget-done.png": ("upload-widget-done.png", None),
    "consent/consent-phone.png": ("oauth-consent-phone.png", None),
    "consent/consent-desktop.png": ("oauth-consent-desktop.png", None),
    "consent/consent-metadata-document.png": ("oauth-consent-metadata-document.png", 720),
}


def main() -> int:
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=ROOT)
    if ran.returncode != 0:
        print("refresh_screenshots: a browser test failed; docs/screenshots/ left as it was", file=sys.stderr)
        return ran.returncode
    target = ROOT / "docs" / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    for artifact, (name, height) in SHOTS.items():
        source, copy = ROOT / "test-artifacts" / artifact, target / name
        if height is None:
            shutil.copyfile(source, copy)
        else:
            cut(source, copy, height)
        print(f"{name}: {copy.stat().st_size / 1000:.0f} kB")
    return 0


def cut(source: Path, copy: Path, height: int) -> None:
    """The top `height` pixels of a tall screenshot (the browser crops: no image library needed)."""
    from playwright.sync_api import sync_playwright

    width = struct.unpack(">I", source.read_bytes()[16:20])[0]  # the PNG header's width
    image = base64.b64encode(source.read_bytes()).decode()
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_content(f'<body style="margin:0"><img src="data:image/png;base64,{image}"></body>')
        page.screenshot(path=str(copy), clip={"x": 0, "y": 0, "width": width, "height": height})
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
