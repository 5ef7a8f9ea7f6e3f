"""``scratchnn serve``: a local web page to draw digits, train a network live, see the runs.

Out of the reading path: this is the path's playground. Three views, each on the code the
learner reads: **Draw** (a digit through :func:`scratchnn.images.load_digit` and a model
from the runs folder, layer by layer), **Playground** (the :class:`~scratchnn.training.Trainer`
on a toy set, epoch by epoch, with the Python that does the same) and **Runs** (the run
folders' learning curves, settings and figures, live while a run trains).

It needs the ``web`` extra (Starlette and uvicorn): ``python -m pip install "scratchnn[web]"``.
Nothing here imports them until the server starts, so ``import scratchnn`` never needs them.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
from pathlib import Path

from .._args import non_negative_int
from ..files.runs import RUNS

__all__ = ["add_arguments", "run"]

DEFAULT_PORT = 8000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``scratchnn serve``."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=non_negative_int, default=DEFAULT_PORT,
                        help=f"port to listen on; 0: any free port (default: {DEFAULT_PORT})")
    parser.add_argument("--runs", type=Path, default=RUNS, metavar="DIR",
                        help=f"the runs folder whose models and runs the page shows "
                             f"(default: {RUNS})")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="folder holding dlfs/sample_weight.pkl, the book's weights "
                             "(default: $SCRATCHNN_DATA, then the download cache)")


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), so that the address printed is the one served."""
    if port > 65535:
        raise ValueError(f"--port must be at most 65535, got {port}")
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} ({err.strerror})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run(args: argparse.Namespace) -> int:
    """Serve the page until interrupted; returns the exit status."""
    try:
        import uvicorn
        from threadpoolctl import threadpool_limits

        from .app import create_app
    except ImportError as err:
        raise ImportError(f"scratchnn serve needs the web extra ({err.name or err}): "
                          'python -m pip install "scratchnn[web]"') from None
    sock = _listening_socket(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    # The toy networks and one-digit predictions are far too small for a second BLAS
    # thread; one per process also keeps the playgrounds' threads from fighting over cores.
    threadpool_limits(limits=1, user_api="blas")
    # A training playground holds the interpreter between its NumPy calls; a request that
    # waits for it waits up to one switch interval (5 ms by default) each time.
    sys.setswitchinterval(0.001)
    closing = threading.Event()

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            closing.set()  # open pages' event streams end: nothing holds the server up
            super().handle_exit(sig, frame)

    app = create_app(args.runs, args.data_dir, closing)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3)
    print(f"scratchnn serve: http://{shown}:{port}/  (runs folder: {args.runs}; "
          "Ctrl-C stops)", flush=True)
    Server(config).run(sockets=[sock])
    print("scratchnn serve: stopped", file=sys.stderr)
    return 0
