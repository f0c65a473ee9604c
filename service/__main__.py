"""``python -m service``: serve the gateway with uvicorn, configured by RARE_* environment variables."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from service.protocol import GuardedHttpProtocol
from service.settings import Settings


@contextmanager
def shared_metrics(workers: int) -> Iterator[None]:
    """With several workers, /metrics must add up every worker's counters: prometheus-client's multiprocess mode,
    in a fresh folder (stale files of an earlier run would count again), removed at exit. An operator's own
    PROMETHEUS_MULTIPROC_DIR is used as it is, and kept."""
    if workers < 2 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    folder = tempfile.mkdtemp(prefix="rare_metrics_")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder  # before the workers start: they inherit it
    logging.getLogger("rare.gateway").info("metrics of %d workers added up in %s", workers, folder)
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # OpenCV's own decoder limit, read once when cv2 loads (in the workers too): a second fence behind the header check
    os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(settings.max_image_pixels))
    with shared_metrics(settings.workers):
        serve(settings)


def serve(settings: Settings) -> None:
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,
        http=GuardedHttpProtocol,
        timeout_keep_alive=settings.keepalive_timeout_s,
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
