"""rare synth: LMDB and folder output, worker-count independence, benchmark, errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rare.cli import main
from rare.data.lmdb_io import LmdbReader
from rare.synth.render import WordRenderer


def _read_all(path: Path) -> list[tuple[bytes, str]]:
    reader = LmdbReader(path)
    return [reader[index] for index in range(len(reader))]  # type: ignore[misc]


def test_lmdb_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "synth_lmdb"
    assert main(["synth", "--out", str(out), "--count", "12", "--seed", "3"]) == 0
    samples = _read_all(out)
    assert len(samples) == 12
    renderer = WordRenderer()
    for index, (data, label) in enumerate(samples):
        assert label == renderer.sample(3, index)[1]
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape == renderer.sample(3, index)[0].shape


def test_folder_writes_gt_txt(tmp_path: Path) -> None:
    out = tmp_path / "synth_folder"
    assert main(["synth", "--out", str(out), "--count", "5", "--format", "folder"]) == 0
    lines = (out / "gt.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5
    renderer = WordRenderer()
    for index, line in enumerate(lines):
        name, label = line.split("\t")
        assert label == renderer.sample(0, index)[1]
        assert cv2.imread(str(out / name)) is not None


def test_two_workers_write_the_same_lmdb_as_one(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["synth", "--out", str(one), "--count", "150", "--seed", "9", "--workers", "1"]) == 0
    assert main(["synth", "--out", str(two), "--count", "150", "--seed", "9", "--workers", "2"]) == 0
    assert _read_all(one) == _read_all(two)


def test_benchmark_prints_rate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--benchmark", "--count", "20"]) == 0
    assert "images/s per core" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "{file}/sub"], "cannot create folder"),
        (["--out", "{file}"], "exists and is not a folder"),
        (["--out", "{full}"], "not empty"),
        ([], "--out is required"),
        (["--out", "{tmp}/x", "--count", "0"], "--count must be at least 1"),
        (["--out", "{tmp}/x", "--fonts", "{tmp}/no_fonts.txt"], "font list not found"),
        (["--out", "{tmp}/x", "--wordlist", "{tmp}/no_words.txt"], "word list not found"),
    ],
    ids=["under-a-file", "is-a-file", "non-empty", "missing-out", "zero-count", "no-fonts", "no-wordlist"],
)
def test_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    file = tmp_path / "a_file"
    file.write_text("x")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep").write_text("x")
    argv = [a.format(file=file, full=full, tmp=tmp_path) for a in args]
    assert main(["synth", "--count", "2", *argv] if "--count" not in argv else ["synth", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rare synth: error:") and message in err
    assert len(err.splitlines()) == 1
