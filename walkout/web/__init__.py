"""``walkout serve``: a run's output folder in a browser (the ``web`` extra).

Three pages and the JSON API they use (docs/web.md):

- ``/`` the **store**: receipts issued so far (amended ones with their history), the
  shoppers inside with their live carts, and each shopper's timeline. It follows a run
  still writing the folder: ``/api/stream`` sends a server-sent event each time the cart
  ledger grows, and the page fetches ``/api/state`` again.
- ``/editor`` the **store editor**: a camera's frame (the run's video, an uploaded image or
  video, or a camera of this machine) to draw the shelves, plates, reach zones, doors and
  regions to ignore on, and four or more floor points for the floor calibration; saved as
  ``OUT_DIR/editor/<name>.yaml`` once ``walkout validate``'s checks pass
  (:mod:`walkout.web.editor`).
- ``/review`` the **review queue**: each flagged receipt and each item decided with low
  confidence (:mod:`walkout.review`), with the candidates and their scores, the shelf's
  weight trace around the event (an SVG drawn here) and the camera's frames around it with
  the candidates boxed. Confirm, give to another shopper, or mark not taken: each is one
  POST and one ledger line.

**Security.** The server binds 127.0.0.1 unless told otherwise. On any other host it needs a
token (given, or generated and printed): every ``/api`` and ``/files`` request then carries
``Authorization: Bearer <token>`` (or ``?token=`` on a GET, for images and the event
stream). Every request that changes anything is a POST with a JSON body of at most
``MAX_BODY`` bytes (a drawn store ``MAX_STORE_BODY``; an upload, an image or a video, at
most :data:`walkout.web.editor.MAX_UPLOAD`), the page's CSRF token in ``X-CSRF-Token``,
and, if the browser sends an ``Origin``, one naming this server. ``/files`` serves only
files inside the output folder.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import secrets
from pathlib import Path

from ..errors import InputError, MissingExtraError, WalkoutError
from ..review import ReviewError, decide, review_items, sync_receipts
from . import editor
from .state import Evidence, store_state

__all__ = ["MAX_BODY", "make_app", "serve"]

STATIC = Path(__file__).parent / "static"
PAGES = {"/": "store.html", "/review": "review.html", "/editor": "editor.html"}
ASSETS = {"app.css": "text/css", "app.js": "text/javascript"}
# a decision is a few hundred bytes of JSON; anything much larger is not one
MAX_BODY = 16 * 1024
# a drawn store: a few hundred shapes of a few points each
MAX_STORE_BODY = 1024 * 1024


def _starlette():
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise MissingExtraError("walkout serve needs the web extra: pip install -e "
                                "\".[web]\" (starlette and uvicorn)") from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_app(out_dir: str | Path, token: str | None = None, csrf: str | None = None):
    """The Starlette app serving ``out_dir`` (see the module doc). ``token``: required on
    API requests when given; ``csrf``: the value POSTs must carry (random by default)."""
    _starlette()
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import (
        FileResponse,
        HTMLResponse,
        JSONResponse,
        Response,
        StreamingResponse,
    )
    from starlette.routing import Route

    out = Path(out_dir).resolve()
    if not out.is_dir():
        raise InputError(f"{out_dir}: not a folder (expected a walkout run's output folder)")
    csrf = csrf or secrets.token_urlsafe(24)
    evidence = Evidence(out)

    def fail(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)

    def authorised(request: Request) -> bool:
        if token is None:
            return True
        given = request.headers.get("authorization", "")
        given = given[7:] if given.lower().startswith("bearer ") else ""
        if not given and request.method == "GET":
            given = request.query_params.get("token", "")
        return hmac.compare_digest(given.encode(), token.encode())

    def guarded(handler):
        async def wrapped(request: Request):
            if not authorised(request):
                return fail(401, "missing or wrong token (expected Authorization: Bearer "
                                 "<token>, the token walkout serve printed)")
            try:
                return await handler(request)
            except (ReviewError, editor.EditorError) as exc:
                return fail(exc.status, exc)
            except WalkoutError as exc:
                return fail(400, exc)
        return wrapped

    async def page(request: Request):
        html = (STATIC / PAGES[request.url.path]).read_text(encoding="utf-8")
        return HTMLResponse(html.replace("{{csrf}}", csrf),
                            headers={"Cache-Control": "no-store"})

    async def asset(request: Request):
        name = request.path_params["name"]
        if name not in ASSETS:
            return fail(404, f"no asset {name!r}")
        return FileResponse(STATIC / name, media_type=ASSETS[name])

    async def receipts(request: Request):
        return JSONResponse({"receipts": sync_receipts(out)})

    async def state(request: Request):
        return JSONResponse(store_state(out))

    async def queue(request: Request):
        return JSONResponse({"items": review_items(out)})

    async def one(request: Request):
        item = _item(request.path_params["item"])
        return JSONResponse({**item, "evidence": evidence.describe(item)})

    def _item(item_id: str) -> dict:
        for it in review_items(out):
            if it["id"] == item_id:
                return it
        raise ReviewError(f"no review item {item_id!r} (expected an id from GET /api/review)",
                          404)

    async def checked_body(request: Request, limit: int, json_body: bool = True):
        """The body of a POST that passed the checks (module doc), or the failure."""
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if json_body and kind != "application/json":
            return None, fail(415, "expected a JSON body (Content-Type: application/json)")
        if not hmac.compare_digest(request.headers.get("x-csrf-token", "").encode(),
                                   csrf.encode()):
            return None, fail(403, "missing or wrong X-CSRF-Token (expected the one the "
                                   "page carries)")
        origin = request.headers.get("origin")
        if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
            return None, fail(403, f"Origin {origin} is not this server")
        try:
            size = int(request.headers.get("content-length") or 0)
        except ValueError:
            size = 0
        if size > limit:
            return None, fail(413, f"body of {size} bytes (expected at most {limit})")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return None, fail(413, f"body over {limit} bytes (expected at most {limit})")
        if not json_body:
            return body, None
        try:
            return json.loads(body), None
        except ValueError:
            return None, fail(400, "malformed JSON (expected a JSON object)")

    async def post(request: Request):
        data, failed = await checked_body(request, MAX_BODY)
        if failed is not None:
            return failed
        if not isinstance(data, dict) or not isinstance(data.get("action"), str):
            return fail(400, "expected a JSON object with an \"action\": \"confirm\" | "
                             "\"assign\" | \"not_taken\"")
        shopper = data.get("shopper_id")
        decision, new = await asyncio.to_thread(
            decide, out, request.path_params["item"], data["action"],
            None if shopper is None else str(shopper), str(data.get("by", "")),
            str(data.get("why", "")))
        return JSONResponse({"decision": decision, "new": new},
                            status_code=201 if new else 200)

    async def editor_base(request: Request):
        return JSONResponse(editor.base_store(out))

    async def editor_frame(request: Request):
        jpg = await asyncio.to_thread(editor.frame, out,
                                      request.query_params.get("source", "run"))
        return Response(jpg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def editor_upload(request: Request):
        data, failed = await checked_body(request, editor.MAX_UPLOAD, json_body=False)
        if failed is not None:
            return failed
        path = await asyncio.to_thread(editor.upload, out,
                                       request.headers.get("content-type", ""), data)
        return JSONResponse({"saved": str(path.relative_to(out))}, status_code=201)

    async def editor_save(request: Request):
        data, failed = await checked_body(request, MAX_STORE_BODY)
        if failed is not None:
            return failed
        if not isinstance(data, dict):
            return fail(400, "expected a JSON object with the drawn store")
        path = await asyncio.to_thread(editor.save, out, data)
        return JSONResponse({"saved": str(path), "file": str(path.relative_to(out))},
                            status_code=201)

    async def weights_svg(request: Request):
        item = _item(request.path_params["item"])
        return Response(evidence.weights_svg(item), media_type="image/svg+xml")

    async def frame(request: Request):
        item = _item(request.path_params["item"])
        try:
            k = int(request.query_params.get("k", "0"))
            cam = int(request.query_params.get("cam", "0"))
        except ValueError:
            return fail(400, "k, cam: expected a frame number and a camera number")
        jpg = await asyncio.to_thread(evidence.frame_jpeg, item, k, cam)
        if jpg is None:
            return fail(404, f"{item['id']}: no video frame {k} of camera {cam} (the run's "
                             "video is not readable from here)")
        return Response(jpg, media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})

    async def files(request: Request):
        path = (out / request.path_params["path"]).resolve()
        if not path.is_relative_to(out) or not path.is_file():
            return fail(404, f"{request.path_params['path']}: no such file in the output "
                             "folder")
        return FileResponse(path)

    async def stream(request: Request):
        ledger = out / "cart_ledger.jsonl"

        async def events():
            # the ledger's new whole lines, as they come: the first event has them all
            seen = 0
            yield "retry: 1000\n\n"
            while not await request.is_disconnected():
                size = ledger.stat().st_size if ledger.is_file() else 0
                if size < seen:
                    seen = 0   # a new run started over in this folder
                lines = []
                if size > seen:
                    with ledger.open("rb") as fh:
                        fh.seek(seen)
                        chunk = fh.read(size - seen)
                    whole = chunk[: chunk.rfind(b"\n") + 1]
                    seen += len(whole)
                    lines = whole.decode("utf-8", "replace").splitlines()
                if lines:
                    data = json.dumps({"bytes": seen, "lines": lines})
                    yield f"event: ledger\ndata: {data}\n\n"
                else:
                    yield ": idle\n\n"
                await asyncio.sleep(0.25)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    routes = [Route(p, page) for p in PAGES]
    routes += [
        Route("/static/{name}", asset),
        Route("/api/receipts", guarded(receipts)),
        Route("/api/state", guarded(state)),
        Route("/api/review", guarded(queue)),
        Route("/api/review/{item}", guarded(one)),
        Route("/api/review/{item}", guarded(post), methods=["POST"]),
        Route("/api/review/{item}/weights.svg", guarded(weights_svg)),
        Route("/api/review/{item}/frame.jpg", guarded(frame)),
        Route("/api/stream", guarded(stream)),
        Route("/api/editor/base", guarded(editor_base)),
        Route("/api/editor/frame.jpg", guarded(editor_frame)),
        Route("/api/editor/upload", guarded(editor_upload), methods=["POST"]),
        Route("/api/editor/store", guarded(editor_save), methods=["POST"]),
        Route("/files/{path:path}", guarded(files)),
    ]
    return Starlette(routes=routes)


def serve(out_dir: str | Path, host: str = "127.0.0.1", port: int = 8000,
          token: str | None = None, announce=print, background: bool = False):
    """Serve ``out_dir`` until interrupted (``background``: in a daemon thread, returned).
    A host other than loopback needs a token: ``token`` or one generated and announced."""
    _starlette()
    import uvicorn

    if not is_loopback(host) and not token:
        token = secrets.token_urlsafe(24)
        announce(f"walkout serve: token {token} (every request must carry it: open "
                 f"http://{host}:{port}/#token={token})")
    app = make_app(out_dir, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    suffix = f"#token={token}" if token else ""
    announce(f"walkout serve: http://{host}:{port}/{suffix} (the store), /review (the review "
             "queue); Ctrl-C stops")
    if not background:
        server.run()
        return None
    import threading

    thread = threading.Thread(target=server.run, daemon=True, name="walkout-serve")
    thread.start()
    return server
