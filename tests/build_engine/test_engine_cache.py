"""The engine cache: one build per (model, TensorRT, GPU, flags) key, reused across starts, rebuilt when any changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from build_engine.engine_cache import DONE, Platform, cache_key, cached_version
from build_engine.repository import write_repository
from build_engine.triton_config import ServingOptions

H100 = Platform("10.8.0", "NVIDIA H100 80GB HBM3, 9.0")


@pytest.fixture()
def model(calib_model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(calib_model_dir, tmp_path / "model"))


def test_the_key_changes_with_the_model_tensorrt_gpu_and_flags(model: Path) -> None:
    key = cache_key(model, H100, "tensorrt --max-batch-size=64")
    assert key == cache_key(model, H100, "tensorrt --max-batch-size=64")
    assert key != cache_key(model, Platform("10.9.0", H100.gpu), "tensorrt --max-batch-size=64")
    assert key != cache_key(model, Platform(H100.tensorrt, "NVIDIA L4, 8.9"), "tensorrt --max-batch-size=64")
    assert key != cache_key(model, H100, "tensorrt --max-batch-size=32")
    (model / "rare.json").write_text(
        (model / "rare.json").read_text().replace('"model_version": "1"', '"model_version": "2"')
    )
    assert key != cache_key(model, H100, "tensorrt --max-batch-size=64")


def test_a_key_is_built_once_and_an_unfinished_entry_is_rebuilt(tmp_path: Path) -> None:
    builds: list[Path] = []

    def build(directory: Path) -> None:
        builds.append(directory)
        (directory / "model.plan").write_bytes(b"engine")

    cache = tmp_path / "cache"
    assert not cached_version(cache, "k1", tmp_path / "pod1" / "1", build)  # cold: built and stored
    assert cached_version(cache, "k1", tmp_path / "pod2" / "1", build)  # a restart: copied, not built
    assert len(builds) == 1 and (tmp_path / "pod2" / "1" / "model.plan").read_bytes() == b"engine"
    assert not (tmp_path / "pod2" / "1" / DONE).exists()
    (cache / "k1" / DONE).unlink()  # a build that died before it finished
    assert not cached_version(cache, "k1", tmp_path / "pod3" / "1", build)
    assert len(builds) == 2 and (cache / "k1" / DONE).is_file()
    assert not cached_version(cache, "k2", tmp_path / "pod4" / "1", build)  # another key: another build
    assert sorted(p.name for p in cache.iterdir()) == ["k1", "k2"]


def test_a_builder_that_loses_the_race_leaves_the_finished_entry_alone(tmp_path: Path) -> None:
    """Two replicas miss at once; the other one stores its entry first (and pods may be copying from it): the
    late builder keeps it, drops its own work and copies the stored engine."""
    cache = tmp_path / "cache"

    def build_while_another_finishes(directory: Path) -> None:
        other = cache / "k1"
        other.mkdir(parents=True)
        (other / "model.plan").write_bytes(b"the other replica's engine")
        (other / DONE).write_text("k1\n")
        (directory / "model.plan").write_bytes(b"ours")

    assert not cached_version(cache, "k1", tmp_path / "pod" / "1", build_while_another_finishes)
    assert (cache / "k1" / "model.plan").read_bytes() == b"the other replica's engine"
    assert (tmp_path / "pod" / "1" / "model.plan").read_bytes() == b"the other replica's engine"
    assert [p.name for p in cache.iterdir()] == ["k1"]  # no scratch folder left behind


def test_the_repository_build_goes_through_the_cache(model: Path, tmp_path: Path) -> None:
    cache, options = tmp_path / "engines", ServingOptions(name="rare")
    write_repository(model, tmp_path / "a", "onnxruntime", options, engine_cache=cache)
    write_repository(model, tmp_path / "b", "onnxruntime", options, engine_cache=cache)
    entries = [p for p in cache.iterdir() if p.is_dir()]
    assert len(entries) == 1 and (entries[0] / DONE).is_file()
    assert (tmp_path / "b" / "rare" / "1" / "model.onnx").read_bytes() == (model / "model.onnx").read_bytes()
