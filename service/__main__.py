"""``python -m service``: serve the gateway with uvicorn, configured by RARE_* environment variables."""

from __future__ import annotations

import logging

import uvicorn

from service.settings import Settings


def main() -> None:
    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=30,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
