"""``rare recognize --url URL PATH... --out FILE.jsonl``: recognize files, folders or lists of paths through a gateway.

PATHs are image files, folders (searched recursively) or ``.txt`` files listing one path a line (relative paths are
relative to the list). Every image gets one JSON line in ``--out``: ``path``, ``text``, ``confidence``,
``char_confidences``, ``error`` (and ``message`` with an error; ``lexicon_match`` with ``--lexicon`` or
``--lexicon-name``). Lines are written as answers arrive, so a run that
stops keeps what it did, and ``--resume`` skips the paths already in the output (except those whose request
failed for good: they are tried again). Needs only httpx (``pip install 'rare-ocr[client]'``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from rare.client import Client, ClientError, Result
from rare.formats import IMAGE_SUFFIXES

RETRIED_ON_RESUME = "request_failed"


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """Image files, folders (recursively, sorted) and .txt lists of paths -> image paths, in order, once each."""
    found: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            found += sorted(p for p in entry.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif entry.suffix.lower() == ".txt" and entry.is_file():
            lines = (line.strip() for line in entry.read_text(encoding="utf-8").splitlines())
            found += [entry.parent / line for line in lines if line and not line.startswith("#")]
        else:
            found.append(entry)  # an image, or a path that will answer unreadable_file
    return list(dict.fromkeys(found))


def already_done(out: Path) -> set[str]:
    """Paths of the output's lines, except those whose request failed (a truncated last line is ignored)."""
    done = set()
    if out.is_file():
        for line in out.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            usable = isinstance(record, dict) and isinstance(record.get("path"), str)  # another tool's lines too
            if usable and record.get("error") != RETRIED_ON_RESUME:
                done.add(record["path"])
    return done


def _end_cut_line(out: Path) -> None:
    """After a run killed mid-line, end that line, so that the next record starts a line of its own."""
    if not out.is_file() or out.stat().st_size == 0:
        return
    with out.open("rb+") as handle:
        handle.seek(-1, 2)  # the last byte only: the output may hold millions of lines
        if handle.read(1) != b"\n":
            handle.write(b"\n")


def record(path: Path, result: Result) -> str:
    line = {
        "path": str(path),
        "text": result.text,
        "confidence": result.confidence,
        "char_confidences": result.char_confidences,
        "error": result.error,
    }
    if result.lexicon_word is not None:
        line["lexicon_match"] = {"word": result.lexicon_word, "score": result.lexicon_score}
    if result.error:
        line["message"] = result.message
    return json.dumps(line, ensure_ascii=False)


class Progress:
    """One line on stderr: crops done of the total, and crops per second."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total, self.done, self.start, self.stream = total, 0, time.monotonic(), stream

    def add(self, count: int) -> None:
        self.done += count
        rate = self.done / max(time.monotonic() - self.start, 1e-9)
        self.stream.write(f"\r{self.done}/{self.total} crops, {rate:.1f} crops/s")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")


def run_recognize(
    url: str,
    paths: list[str],
    out: Path,
    resume: bool,
    api_key: str | None,
    concurrency: int,
    lexicon: list[str] | None = None,
    lexicon_name: str | None = None,
) -> int:
    """Returns 0 when every image got a text, 1 when some got an error line."""
    todo = expand(paths)
    if resume:
        skip = already_done(out)
        todo = [p for p in todo if str(p) not in skip]
        _end_cut_line(out)
    errors = 0
    with Client(url, api_key, concurrency) as client, out.open("a" if resume else "w", encoding="utf-8") as sink:
        window = client.limits().max_images * max(1, concurrency) * 2  # enough requests to keep every slot busy
        progress = Progress(len(todo))
        for start in range(0, len(todo), window):
            chunk = todo[start : start + window]
            try:
                results = client.recognize(chunk, lexicon, lexicon_name)
            except ClientError as exc:
                if exc.status is not None:
                    raise  # refused for good (a wrong key, a bad request): the rest would be refused too
                results = [Result(str(p), error=RETRIED_ON_RESUME, message=str(exc)) for p in chunk]
            sink.write("".join(record(p, r) + "\n" for p, r in zip(chunk, results, strict=True)))
            sink.flush()
            errors += sum(r.error is not None for r in results)
            progress.add(len(chunk))
        progress.close()
    return 1 if errors else 0
