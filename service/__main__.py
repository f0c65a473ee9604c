"""``python -m service``: serve the gateway with uvicorn, configured by RARE_* environment variables."""

from __future__ import annotations

import logging
import os

import uvicorn

from service.protocol import GuardedHttpProtocol
from service.settings import Settings


def main() -> None:
    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # OpenCV's own decoder limit, read once when cv2 loads (in the workers too): a second fence behind the header check
    os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(settings.max_image_pixels))
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
