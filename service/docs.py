"""Swagger UI at /docs and ReDoc at /redoc, from the gateway's own files: both work on a network without a CDN.

The assets (swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js) come with the fastapi-offline package;
FastAPI's own page builders point at them instead of at jsdelivr.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/static"


def install_docs(app: FastAPI) -> None:
    """Routes /docs and /redoc, and the assets they load under ``ASSETS``; the app is made with no docs of its own."""
    app.mount(ASSETS, StaticFiles(directory=Path(str(resources.files("fastapi_offline") / "static"))), name="docs")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="openapi.json",
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="openapi.json",
            title=f"{app.title}: API",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
