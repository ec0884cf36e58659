"""The API documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served without a CDN.

FastAPI's own pages load their scripts, stylesheet, favicon and (ReDoc) fonts from the internet, so they stay blank
in a data centre without it. These pages load the official Swagger UI and ReDoc bundles that the ``fastapi-offline``
package ships, from ``/static/docs/...`` on the gateway itself: no request leaves the gateway's origin.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

from gateway.core.problems import NotFound

#: Where the assets are served; each URL carries the bundle's version, so a browser may keep them for good.
STATIC_PREFIX = "/static/docs"
#: The assets, by file name: their media types.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
#: Versioned URLs (``?v=``): an upgrade of the bundles changes them, so the assets can be cached as immutable.
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
#: The pages name the OpenAPI document and the assets; short, so a new gateway version is seen soon.
PAGE_CACHE_CONTROL = "no-cache"
#: The pages may load and call only the gateway itself: what a bundle would fetch from elsewhere (ReDoc's footer
#: loads its logo from its maker's CDN) is refused by the browser before any request. FastAPI's pages start the
#: bundle with an inline script, and both bundles style with inline styles; ReDoc searches in a blob: worker.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'self'; object-src 'none'"
)

_ASSET_DIR = Path(fastapi_offline.__file__).parent / "static"
_ASSET_VERSION = version("fastapi-offline")


def _asset_url(root_path: str, name: str) -> str:
    return f"{root_path}{STATIC_PREFIX}/{name}?v={_ASSET_VERSION}"


def _page(response: HTMLResponse) -> HTMLResponse:
    response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def docs_router(app: FastAPI) -> APIRouter:
    """The routes ``/docs``, its OAuth 2.0 redirect page, ``/redoc`` and their assets, for ``app``'s document.

    ``app`` is built with ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages off); its ``openapi_url``,
    ``swagger_ui_oauth2_redirect_url``, ``swagger_ui_init_oauth`` and ``swagger_ui_parameters`` are honoured.
    """
    router = APIRouter(include_in_schema=False)
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url
    # No online validator badge: Swagger UI would send the document to validator.swagger.io.
    swagger_parameters = {"validatorUrl": None, **(app.swagger_ui_parameters or {})}

    @router.get("/docs", response_class=HTMLResponse)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        response = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=_asset_url(root, "swagger-ui-bundle.js"),
            swagger_css_url=_asset_url(root, "swagger-ui.css"),
            swagger_favicon_url=_asset_url(root, "favicon.png"),
            oauth2_redirect_url=root + redirect_url if redirect_url else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=swagger_parameters,
        )
        return _page(response)

    if redirect_url:

        @router.get(redirect_url, response_class=HTMLResponse)
        async def swagger_ui_redirect() -> HTMLResponse:
            return _page(get_swagger_ui_oauth2_redirect_html())

    @router.get("/redoc", response_class=HTMLResponse)
    async def redoc(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        response = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=_asset_url(root, "redoc.standalone.js"),
            redoc_favicon_url=_asset_url(root, "favicon.png"),
            with_google_fonts=False,
        )
        return _page(response)

    @router.get(STATIC_PREFIX + "/{asset}")
    async def asset(asset: str) -> FileResponse:
        media_type = ASSETS.get(asset)
        if media_type is None:
            raise NotFound("There is no such documentation asset.")
        return FileResponse(
            _ASSET_DIR / asset,
            media_type=media_type,
            headers={"Cache-Control": ASSET_CACHE_CONTROL, "X-Content-Type-Options": "nosniff"},
        )

    return router
