"""A real tritonserver (CPU, from the nvidia-pytriton wheel) serving the calibration model, shared by the session."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from build_engine.repository import write_repository
from build_engine.triton_config import ServingOptions
from local_triton.server import TritonProcess, local_triton

MODEL_NAME = "rare"
MAX_BATCH_SIZE = 32


@pytest.fixture(scope="session")
def python_repository(calib_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build_engine --target python`` of the calibration model: two single-threaded CPU instances,
    the layout docs/build_engine.md recommends."""
    repository = tmp_path_factory.mktemp("model_repository")
    options = ServingOptions(name=MODEL_NAME, max_batch_size=MAX_BATCH_SIZE, max_queue_delay_us=20_000, instances=2)
    write_repository(calib_model_dir, repository, "python", options)
    return repository


@pytest.fixture(scope="session")
def triton_server(python_repository: Path) -> Iterator[TritonProcess]:
    """A ready tritonserver on 127.0.0.1 (free ports); model ``rare`` is loaded and warmed up."""
    with local_triton(python_repository, timeout=180) as server:
        yield server
