"""More font faces for the renderer: Google Fonts families from the npm registry's ``@fontsource/*`` packages.

``requirements/fonts.txt`` pins each package by name, version and the registry's sha512 integrity, and names the
faces taken from it, one package a line::

    @fontsource/abeezee@5.3.0 sha512-... 400-normal,400-italic

:func:`fetch_fonts` downloads each tarball once (a package already unpacked is skipped), checks its integrity, keeps
the Latin ``.woff2`` of each listed face and the licence, and writes ``OUT/fonts.txt``: every face that draws all of
the renderer's characters (:data:`rare.synth.text.CHARSET`), so the label always matches the ink. Pass that file as
``Train.dataset.sources.N.synth.fonts``. Only training needs these faces; the gateway never installs them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import tarfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rare.synth.errors import SynthError
from rare.synth.fonts import load_font, missing_glyphs
from rare.synth.render import FONT_SIZES
from rare.synth.text import CHARSET

log = logging.getLogger("rare")

DEFAULT_REGISTRY = "https://registry.npmjs.org"
SCOPE = "@fontsource/"


@dataclass(frozen=True)
class FontPackage:
    name: str  # e.g. abeezee (the package is @fontsource/abeezee)
    version: str
    integrity: str  # sha512-<base64>, as the registry publishes it
    faces: tuple[str, ...]  # e.g. ("400-normal", "700-normal")

    def tarball_url(self, registry: str) -> str:
        return f"{registry.rstrip('/')}/{SCOPE}{self.name}/-/{self.name}-{self.version}.tgz"

    def face_member(self, face: str) -> str:
        return f"package/files/{self.name}-latin-{face}.woff2"


def parse_font_list(path: Path) -> list[FontPackage]:
    """The pinned packages of a list file; a malformed line is an error naming the file and the line."""
    packages = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        spec = parts[0]
        if len(parts) != 3 or not spec.startswith(SCOPE) or spec.count("@") != 2 or not parts[1].startswith("sha512-"):
            raise SynthError(f"{path}:{number}: expected '@fontsource/NAME@VERSION sha512-... FACE[,FACE...]'")
        name, version = spec[len(SCOPE) :].split("@")
        packages.append(FontPackage(name, version, parts[1], tuple(parts[2].split(","))))
    return packages


def check_integrity(data: bytes, integrity: str, what: str) -> None:
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if f"sha512-{digest}" != integrity:
        raise SynthError(f"{what}: sha512 integrity mismatch (the registry served other bytes than were pinned)")


def unpack(package: FontPackage, data: bytes, out_dir: Path) -> list[Path]:
    """Write the package's listed Latin faces and its licence under ``out_dir/NAME``; returns the face paths."""
    target = out_dir / package.name
    target.mkdir(parents=True, exist_ok=True)
    wanted = {package.face_member(face): face for face in package.faces}
    faces = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.name == "package/LICENSE" or member.name in wanted:
                file = archive.extractfile(member)
                if file is None:
                    continue
                path = target / Path(member.name).name
                path.write_bytes(file.read())
                if member.name in wanted:
                    faces.append(path)
    missing = sorted(set(wanted) - {f"package/files/{p.name}" for p in faces})
    if missing:
        raise SynthError(f"{SCOPE}{package.name}@{package.version}: no such face(s) in the package: {missing}")
    return faces


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - the registry's https URL
        return response.read()


def fetch_package(package: FontPackage, out_dir: Path, registry: str) -> list[Path]:
    """The package's face files, downloaded and unpacked unless already there."""
    paths = [out_dir / package.name / Path(package.face_member(face)).name for face in package.faces]
    if all(p.is_file() for p in paths):
        return paths
    what = f"{SCOPE}{package.name}@{package.version}"
    try:
        data = _download(package.tarball_url(registry))
    except OSError as exc:
        raise SynthError(f"{what}: download failed: {exc}") from None
    check_integrity(data, package.integrity, what)
    return unpack(package, data, out_dir)


def usable(face: Path) -> bool:
    """True when the face draws every character the renderer may put in a label, at every size it draws at.

    Some faces carry hinting programs that FreeType gives up on at some sizes ("execution context too long"); those
    are skipped here rather than failing a training run later.
    """
    try:
        gaps = missing_glyphs(face, CHARSET)
        for size in FONT_SIZES:
            load_font(str(face), int(size)).getmask(CHARSET)
    except (SynthError, OSError) as exc:
        log.info("font %s skipped: %s", face.name, exc)
        return False
    if gaps:
        log.info("font %s skipped: no glyph for %r", face.name, gaps)
    return not gaps


def fetch_fonts(list_path: Path, out_dir: Path, registry: str | None = None, workers: int = 16) -> Path:
    """Fetch every pinned package (in parallel), keep the usable faces, write and return ``out_dir/fonts.txt``."""
    registry = registry or os.environ.get("RARE_NPM_REGISTRY", DEFAULT_REGISTRY)
    packages = parse_font_list(list_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(workers) as pool:
        per_package = list(pool.map(lambda p: fetch_package(p, out_dir, registry), packages))
    faces = [face for paths in per_package for face in paths]
    good = [face for face in faces if usable(face)]
    listing = out_dir / "fonts.txt"
    header = f"# {len(good)} of {len(faces)} faces from {len(packages)} packages pinned in {list_path.name}\n"
    listing.write_text(header + "".join(f"{face.resolve()}\n" for face in good), encoding="utf-8")
    log.info("%d of %d faces draw every character; list in %s", len(good), len(faces), listing)
    return listing
