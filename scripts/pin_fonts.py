"""Regenerate requirements/fonts.txt: the @fontsource packages (Google Fonts) the synthetic renderer trains with.

Reads the family list of the npm package google-font-metadata (pinned below), picks each Latin family's faces
(regular, bold, italic where the family has them; handwriting faces regular only), skips families that are not
text (barcodes, redacted, block placeholders), and pins every package at its current version with the registry's
sha512 integrity. Run: python scripts/pin_fonts.py > requirements/fonts.txt
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

REGISTRY = "https://registry.npmjs.org"
METADATA = f"{REGISTRY}/google-font-metadata/-/google-font-metadata-6.0.8.tgz"
NOT_TEXT = ("barcode", "redacted", "flow-", "blank", "wavefont", "linefont", "bitcount-grid", "kablammo", "jaini")


def families() -> dict:
    with urllib.request.urlopen(METADATA, timeout=120) as response:  # noqa: S310
        data = response.read()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        member = archive.extractfile("package/data/google-fonts-v2.json")
        assert member is not None
        return json.load(member)


def faces(family: dict) -> list[str]:
    weights, styles = family["weights"], family["styles"]
    regular = min(weights, key=lambda w: abs(w - 400))
    picked = [f"{regular}-normal"] if "normal" in styles else [f"{regular}-italic"]
    if family["category"] == "handwriting":
        return picked
    if 700 in weights and regular != 700 and "normal" in styles:
        picked.append("700-normal")
    if "italic" in styles and "normal" in styles and family["category"] in ("sans-serif", "serif"):
        picked.append(f"{regular}-italic")
    return picked


def pin(item: tuple[str, dict]) -> str | None:
    name, family = item
    try:
        with urllib.request.urlopen(f"{REGISTRY}/@fontsource/{name}/latest", timeout=60) as response:  # noqa: S310
            manifest = json.load(response)
    except urllib.error.HTTPError:
        return None  # no @fontsource package for this family
    if int(manifest["version"].split(".")[0]) < 5:
        return None  # packages before 5.x keep their files in another layout (and are unmaintained)
    return f"@fontsource/{name}@{manifest['version']} {manifest['dist']['integrity']} {','.join(faces(family))}"


def main() -> None:
    chosen = sorted(
        (name, f)
        for name, f in families().items()
        if "latin" in f["subsets"] and not any(word in name for word in NOT_TEXT)
    )
    with ThreadPoolExecutor(16) as pool:
        lines = [line for line in pool.map(pin, chosen) if line]
    print("# Google Fonts faces for the synthetic renderer (rare.synth.fontsource), from the npm registry.")
    print("# Regenerate: python scripts/pin_fonts.py > requirements/fonts.txt; fetch: rare fonts")
    print("\n".join(lines))
    print(f"pinned {len(lines)} of {len(chosen)} families", file=sys.stderr)


if __name__ == "__main__":
    main()
