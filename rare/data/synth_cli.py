"""``rare synth``: render synthetic word crops into an LMDB or a folder (in parallel), or time the renderer.

Output is identical for any ``--workers``: image ``i`` is always ``WordRenderer.sample(seed, i)``, and chunks of
indices come back from the pool in order.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from rare.data.lmdb_io import write_lmdb
from rare.render_options import RenderOptions
from rare.synth.errors import SynthError
from rare.synth.render import WordRenderer

log = logging.getLogger("rare")

JPEG_QUALITY = 95
CHUNK = 64  # images per pool task: large enough to amortize IPC, small enough to keep workers busy

_worker_renderer: WordRenderer | None = None  # one per worker process, built by _init_worker


def encode_jpeg(image: np.ndarray) -> bytes:
    """BGR uint8 -> JPEG bytes at the quality the datasets are written with."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise SynthError(f"JPEG encoding failed for an image of shape {image.shape}")
    return data.tobytes()


def render_chunk(renderer: WordRenderer, seed: int, start: int, stop: int) -> list[tuple[bytes, str]]:
    """Encoded images and labels for indices ``start..stop-1`` of the stream ``seed``."""
    out = []
    for index in range(start, stop):
        image, label = renderer.sample(seed, index)
        out.append((encode_jpeg(image), label))
    return out


def _init_worker(options: RenderOptions) -> None:
    global _worker_renderer  # noqa: PLW0603 - per-process renderer, built once in each pool worker
    _worker_renderer = WordRenderer(options)


def _worker_chunk(task: tuple[int, int, int]) -> list[tuple[bytes, str]]:
    assert _worker_renderer is not None, "pool worker was not initialized"
    return render_chunk(_worker_renderer, *task)


def iter_samples(renderer: WordRenderer, seed: int, count: int, workers: int) -> Iterator[tuple[bytes, str]]:
    """(JPEG bytes, label) for indices 0..count-1 in order, rendered in ``workers`` processes."""
    tasks = [(seed, start, min(start + CHUNK, count)) for start in range(0, count, CHUNK)]
    if workers <= 1:
        for task in tasks:
            yield from render_chunk(renderer, *task)
        return
    cv2.setNumThreads(1)  # here, before forking: in a forked worker of a threaded parent, the call never returns
    with multiprocessing.Pool(workers, _init_worker, (renderer.options,)) as pool:
        for chunk in pool.imap(_worker_chunk, tasks):
            yield from chunk


def prepare_out(out: Path) -> None:
    """Create the output folder; refuse a file or a non-empty folder (nothing is ever overwritten)."""
    if out.exists() and not out.is_dir():
        raise SynthError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        raise SynthError(f"--out {out}: folder exists and is not empty; choose a new path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SynthError(f"--out {out}: cannot create folder: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK):
        raise SynthError(f"--out {out}: folder is not writable")


def write_folder(out: Path, samples: Iterable[tuple[bytes, str]]) -> int:
    """Images as ``out/images/000000000.jpg``... and a PaddleOCR label file ``out/gt.txt`` (``path<TAB>label``)."""
    (out / "images").mkdir(exist_ok=True)
    count = 0
    with (out / "gt.txt").open("w", encoding="utf-8", newline="\n") as gt:
        for count, (data, label) in enumerate(samples, start=1):
            name = f"images/{count - 1:09d}.jpg"
            (out / name).write_bytes(data)
            gt.write(f"{name}\t{label}\n")
    return count


def _progress(samples: Iterator[tuple[bytes, str]], total: int) -> Iterator[tuple[bytes, str]]:
    try:
        from tqdm import tqdm
    except ImportError:
        return samples
    return iter(tqdm(samples, total=total, unit="img", desc="rare synth", mininterval=1.0))


def benchmark(renderer: WordRenderer, seed: int, count: int) -> float:
    """Render ``count`` images in this process (faces preloaded, cv2 single-threaded); returns images per CPU second."""
    cv2.setNumThreads(1)
    renderer.preload_fonts()
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(count):
        renderer.sample(seed, index)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rate = count / max(cpu, 1e-9)
    sys.stdout.write(
        f"rendered {count} images in {wall:.2f} s wall, {cpu:.2f} s CPU: "
        f"{rate:.0f} images/s per core ({count / max(wall, 1e-9):.0f} images/s wall, 1 process)\n"
    )
    return rate


def run_synth(args: argparse.Namespace) -> int:
    """The ``rare synth`` command; errors are :class:`SynthError` (printed on one line by the CLI, exit code 2)."""
    if args.count < 1:
        raise SynthError(f"--count must be at least 1, got {args.count}")
    if args.workers < 1:
        raise SynthError(f"--workers must be at least 1, got {args.workers}")
    if not args.benchmark and not args.out:
        raise SynthError("--out is required (or pass --benchmark to only time the renderer)")
    renderer = WordRenderer(RenderOptions(fonts=args.fonts, wordlist=args.wordlist))
    if args.benchmark:
        benchmark(renderer, args.seed, args.count)
        return 0
    out = Path(args.out)
    prepare_out(out)
    cv2.setNumThreads(1)
    samples = _progress(iter_samples(renderer, args.seed, args.count, args.workers), args.count)
    written = write_lmdb(out, samples) if args.format == "lmdb" else write_folder(out, samples)
    log.info("wrote %d images (seed %d) to %s (%s)", written, args.seed, out, args.format)
    return 0
