"""The web application: Starlette routes over the Draw, Playground and Runs back ends.

Every answer is JSON (or a page, a figure, an event stream). Errors are JSON objects
``{"error": "..."}`` with a 4xx status: 400 malformed JSON, 404 unknown names, 413 too
large, 415 not a picture, 422 values out of range or a picture with no digit. The numerical
work runs in worker threads, never in the event loop: one slow request does not hold up
the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from dataclasses import asdict
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .catalog import Models, NoSuchName, plain_file, run_folder
from .digits import MAX_UPLOAD, NotAPicture, PictureTooLarge, describe, read_picture
from .playground import Playground, Playgrounds, Settings, python_code, settings_from
from .runlist import FIGURES, folder_stamps, list_runs

__all__ = ["STATIC", "create_app"]

STATIC = Path(__file__).parent / "static"
#: Seconds between two looks at a playground (for its event stream) and at the runs folder.
PLAYGROUND_TICK = 0.05
RUNS_TICK = 0.5


class BadRequest(ValueError):
    """Malformed JSON, or a body of the wrong kind: 400."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


#: The status of each error a request may end in (the most specific class counts).
STATUS = {NoSuchName: 404, PictureTooLarge: 413, NotAPicture: 415, BadRequest: 400,
          ValueError: 422, TypeError: 422}


async def _on_error(request: Request, err: Exception) -> JSONResponse:
    """The 4xx answer to an error raised while handling a request."""
    status = next(STATUS[kind] for kind in type(err).__mro__ if kind in STATUS)
    return _error(status, str(err))


async def _json_body(request: Request) -> dict:
    try:
        data = json.loads(await _capped_body(request, 64 * 1024))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequest(f"malformed JSON: {err}") from None
    if not isinstance(data, dict):
        raise BadRequest(f"expected a JSON object, got {type(data).__name__}")
    return data


async def _capped_body(request: Request, most: int) -> bytes:
    """The request's body, or :class:`PictureTooLarge` as soon as it passes ``most`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > most:
        raise PictureTooLarge(f"the upload is {int(declared) / 2**20:.1f} MB; the most taken "
                              f"is {most / 2**20:.0f} MB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > most:
            raise PictureTooLarge(f"the upload passes {most / 2**20:.0f} MB, the most taken")
        chunks.append(chunk)
    return b"".join(chunks)


def _sse(payload: dict) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def _stream(events) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _draw_routes(models: Models) -> list[Route]:
    async def model_list(request: Request) -> JSONResponse:
        return JSONResponse({"models": await run_in_threadpool(models.listing)})

    async def predict(request: Request) -> JSONResponse:
        name = request.query_params.get("model", "")
        data = await _capped_body(request, MAX_UPLOAD)

        def work() -> dict:
            digit = read_picture(data)
            with models.using(name) as (model, threshold):
                classes = getattr(model, "meta", {}).get("metadata", {}).get("classes")
                return describe(model, digit, classes, threshold)

        return JSONResponse(await run_in_threadpool(work))

    return [Route("/api/models", model_list), Route("/api/predict", predict, methods=["POST"])]


def _playground_routes(playgrounds: Playgrounds, closing: threading.Event) -> list[Route]:
    async def defaults(request: Request) -> JSONResponse:
        return JSONResponse({"settings": asdict(Settings()),
                             "code": python_code(Settings(), 1)})

    async def open_one(request: Request) -> JSONResponse:
        settings = settings_from(await _json_body(request))
        key = request.path_params.get("key")
        if key is not None:
            playgrounds.get(key)  # a reset: only of a playground that is open
        key = await run_in_threadpool(playgrounds.open, settings, key)
        return JSONResponse({"id": key, "settings": asdict(settings)})

    async def control(request: Request) -> JSONResponse:
        playground = playgrounds.get(request.path_params["key"])
        action = request.path_params["action"]
        if action not in ("play", "pause", "step"):
            raise NoSuchName(f"no action {action[:20]!r}: play, pause or step")
        getattr(playground, action)()
        return JSONResponse({"mode": playground.state["mode"]})

    async def events(request: Request) -> StreamingResponse:
        key = request.path_params["key"]
        playgrounds.get(key)
        return _stream(_playground_events(playgrounds, key, closing))

    return [
        Route("/api/playground", defaults),
        Route("/api/playground", open_one, methods=["POST"]),
        Route("/api/playground/{key}/reset", open_one, methods=["POST"]),
        Route("/api/playground/{key}/events", events),
        Route("/api/playground/{key}/{action}", control, methods=["POST"]),
    ]


async def _playground_events(playgrounds: Playgrounds, key: str, closing: threading.Event):
    """A playground's changes as server-sent events: each new epoch's record, the mode,
    the decision boundary, the code; everything again after a reset. A playground that
    no page watches any more (its tabs closed) pauses."""
    shown, sent, version = None, 0, -1
    try:
        while not closing.is_set():
            try:
                playground = playgrounds.get(key)
            except NoSuchName as err:
                yield _sse({"closed": str(err)})
                return
            if playground is not shown:
                _unwatch(shown)
                playground.listeners += 1
                shown, sent, version = playground, 0, -1
            if playground.version != version or len(playground.records) > sent:
                version, records = playground.version, playground.records[sent:]
                payload = {"reset": sent == 0, "records": records, "state": playground.state,
                           "code": playground.code()}
                if sent == 0:
                    payload["points"] = {"x": playground.x.tolist(), "t": playground.t.tolist()}
                sent += len(records)
                yield _sse(payload)
            await asyncio.sleep(PLAYGROUND_TICK)
    finally:
        _unwatch(shown)


def _unwatch(playground: Playground | None) -> None:
    if playground is not None:
        playground.listeners -= 1
        if playground.listeners <= 0:
            playground.pause()


def _run_routes(runs: Path, closing: threading.Event) -> list[Route]:
    async def run_list(request: Request) -> JSONResponse:
        return JSONResponse({"runs": await run_in_threadpool(list_runs, runs),
                             "folder": str(runs)})

    async def run_events(request: Request) -> StreamingResponse:
        async def events():
            seen = None
            while not closing.is_set():
                stamps = await run_in_threadpool(folder_stamps, runs)
                if stamps != seen:  # only then read the runs' files
                    seen = stamps
                    yield _sse({"runs": await run_in_threadpool(list_runs, runs)})
                await asyncio.sleep(RUNS_TICK)

        return _stream(events())

    async def figure(request: Request) -> FileResponse:
        folder = run_folder(runs, request.path_params["name"])
        return FileResponse(plain_file(folder, request.path_params["file"], FIGURES))

    return [Route("/api/runs", run_list), Route("/api/runs/events", run_events),
            Route("/api/runs/{name}/figures/{file}", figure)]


def create_app(runs: str | Path = "runs", data_dir: str | Path | None = None,
               closing: threading.Event | None = None) -> Starlette:
    """The application for the runs folder ``runs`` (``data_dir``: where the book's
    sample weights are looked for, as in :func:`scratchnn.files.pretrained.sample_network`).

    The event streams end once ``closing`` is set: a server that stops sets it first, so
    that open pages do not hold it up."""
    closing = closing or threading.Event()
    runs = Path(runs)
    models = Models(runs, None if data_dir is None else Path(data_dir))
    playgrounds = Playgrounds()

    async def index(request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        playgrounds.close_all()

    routes = [Route("/", index), *_draw_routes(models),
              *_playground_routes(playgrounds, closing), *_run_routes(runs, closing),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers=dict.fromkeys(STATUS, _on_error))
