"""rare fonts: pinned @fontsource packages fetched over HTTP from a registry, checked, unpacked, listed."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rare.synth.errors import SynthError
from rare.synth.fonts import default_font_list, read_font_list, resolve_fonts
from rare.synth.fontsource import fetch_fonts, parse_font_list

FACE = read_font_list(default_font_list())[0]  # a real face; FreeType reads it whatever the file is called


def tarball(name: str, faces: list[str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, data in [
            ("package/LICENSE", b"OFL"),
            *((f"package/files/{name}-latin-{f}.woff2", FACE.read_bytes()) for f in faces),
        ]:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture()
def registry() -> Iterator[tuple[str, dict[str, bytes], list[str]]]:
    """A registry on loopback serving whatever the test puts in ``files``; ``hits`` records each request."""
    files: dict[str, bytes] = {}
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            hits.append(self.path)
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files, hits
    server.shutdown()


def test_fetches_checks_and_lists_faces_once(registry, tmp_path: Path) -> None:
    url, files, hits = registry
    data = tarball("alpha", ["400-normal", "700-normal"])
    files["/@fontsource/alpha/-/alpha-5.1.0.tgz"] = data
    pinned = tmp_path / "fonts.txt"
    pinned.write_text(f"# comment\n@fontsource/alpha@5.1.0 {integrity(data)} 400-normal,700-normal\n")
    listing = fetch_fonts(pinned, tmp_path / "out", url)
    faces = read_font_list(listing)
    assert [p.name for p in faces] == ["alpha-latin-400-normal.woff2", "alpha-latin-700-normal.woff2"]
    assert (tmp_path / "out" / "alpha" / "LICENSE").read_text() == "OFL"
    assert len(resolve_fonts(["default", str(listing)])) == len(resolve_fonts(None)) + 2
    fetch_fonts(pinned, tmp_path / "out", url)
    assert len(hits) == 1  # unpacked packages are not downloaded again


def test_refuses_other_bytes_a_missing_face_and_a_bad_line(registry, tmp_path: Path) -> None:
    url, files, _ = registry
    data = tarball("beta", ["400-normal"])
    files["/@fontsource/beta/-/beta-5.0.0.tgz"] = data
    pinned = tmp_path / "fonts.txt"
    pinned.write_text(f"@fontsource/beta@5.0.0 {integrity(data + b'x')} 400-normal\n")
    with pytest.raises(SynthError, match="beta@5.0.0: sha512 integrity mismatch"):
        fetch_fonts(pinned, tmp_path / "out", url)
    pinned.write_text(f"@fontsource/beta@5.0.0 {integrity(data)} 400-normal,400-italic\n")
    with pytest.raises(SynthError, match="no such face"):
        fetch_fonts(pinned, tmp_path / "out", url)
    pinned.write_text("@fontsource/beta 400-normal\n")
    with pytest.raises(SynthError, match=r"fonts.txt:1: expected"):
        parse_font_list(pinned)


def test_the_pinned_list_is_large_and_well_formed() -> None:
    packages = parse_font_list(Path(__file__).resolve().parents[3] / "requirements" / "fonts.txt")
    assert len(packages) >= 1500 and sum(len(p.faces) for p in packages) >= 2000
    assert len({p.name for p in packages}) == len(packages)
