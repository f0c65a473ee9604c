"""LMDB in the format of the MJSynth/SynthText releases used by PaddleOCR and clovaai.

Keys: ``num-samples`` (ASCII int), ``image-%09d`` (encoded image bytes) and ``label-%09d`` (UTF-8), 1-based.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import lmdb

from rare.errors import RareError

MAP_SIZE = 1 << 36  # 64 GiB of address space; the file only grows as data is written
COMMIT_EVERY = 1000


class LmdbError(RareError, ValueError):
    """An LMDB that is missing or not in the MJSynth/SynthText layout."""


def write_lmdb(path: str | Path, samples: Iterable[tuple[bytes, str]]) -> int:
    """Write (encoded image, label) pairs; returns the number written."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    env = lmdb.open(str(path), map_size=MAP_SIZE)
    count = 0
    txn = env.begin(write=True)
    try:
        for count, (image, label) in enumerate(samples, start=1):
            txn.put(f"image-{count:09d}".encode(), image)
            txn.put(f"label-{count:09d}".encode(), label.encode("utf-8"))
            if count % COMMIT_EVERY == 0:
                txn.put(b"num-samples", str(count).encode())
                txn.commit()
                txn = env.begin(write=True)
        txn.put(b"num-samples", str(count).encode())
        txn.commit()
    except BaseException:
        txn.abort()
        raise
    finally:
        env.close()
    return count


class LmdbReader:
    """Random access to one LMDB; opened lazily so it can be shared with DataLoader worker processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not (self.path / "data.mdb").is_file():
            raise LmdbError(f"{self.path}: not an LMDB (no data.mdb)")
        env = self._open()
        with env.begin() as txn:
            raw = txn.get(b"num-samples")
        env.close()
        if raw is None:
            raise LmdbError(f"{self.path}: no 'num-samples' key (not an MJSynth/SynthText-style LMDB)")
        self.size = int(raw)
        self._env: lmdb.Environment | None = None

    def _open(self) -> lmdb.Environment:
        return lmdb.open(str(self.path), readonly=True, lock=False, readahead=False, meminit=False, max_readers=64)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[bytes | None, str | None]:
        """0-based index -> (image bytes, label); a missing entry comes back as None."""
        if self._env is None:
            self._env = self._open()
        key = index + 1
        with self._env.begin() as txn:
            image = txn.get(f"image-{key:09d}".encode())
            label = txn.get(f"label-{key:09d}".encode())
        return image, label.decode("utf-8", errors="replace") if label is not None else None

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_env": None}


def find_lmdbs(root: str | Path) -> list[Path]:
    """PaddleOCR's LMDBDataSet rule: every folder under ``root`` (itself included) holding a data.mdb."""
    root = Path(root)
    if not root.exists():
        raise LmdbError(f"{root}: no such folder")
    return sorted(p.parent for p in root.rglob("data.mdb"))
