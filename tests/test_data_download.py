"""Downloading against a local HTTP server on 127.0.0.1: good, truncated, bad checksum, 404,
a server that stalls, one that hangs up early, and one that is not there at all.

After every failure the cache must hold no file at all (no half-written download).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import scratchnn.data.mnist as mnist_module
from scratchnn.data import _fetch, idx, load_fashion_mnist, load_mnist

NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
TIMEOUT = 0.5


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def synthetic_payloads(seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (20, 28, 28))),
        "train-labels-idx1-ubyte": idx_bytes(np.arange(20) % 10),
        "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (4, 28, 28))),
        "t10k-labels-idx1-ubyte": idx_bytes(np.arange(4)),
    }


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


class _Handler(BaseHTTPRequestHandler):
    """``/MODE/<folder>/<file>.gz``: MODE says how to misbehave when serving the file."""

    def do_GET(self):  # noqa: N802 (the name http.server looks for)
        _, mode, rest = self.path.split("/", 2)
        body = self.server.files.get(rest)
        if body is None or mode == "missing":
            self.send_error(404)
            return
        if mode == "stall":  # accept the connection, never answer
            self.server.release.wait(5)
            return
        if mode == "bad":
            body = self.server.bad_files[rest]
        if mode == "truncated":  # a consistent but cut-off file
            body = body[: len(body) // 2]
        self.send_response(200)
        if mode == "chunked-cut":  # chunked transfer that stops after one chunk
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"64\r\n" + body[:100] + b"\r\n")
            return
        if mode == "nolength":  # no Content-Length: the body ends when the connection does
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "hangup":  # promises the whole file, sends half, closes
            self.wfile.write(body[: len(body) // 2])
            return
        if mode == "stall-body":  # starts, then goes quiet
            self.wfile.write(body[:100])
            self.wfile.flush()
            self.server.release.wait(5)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files = {}
    httpd.bad_files = {}
    httpd.release = threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.release.set()  # let stalled handlers finish
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("SCRATCHNN_CACHE", str(cache))
    monkeypatch.setenv("SCRATCHNN_DOWNLOAD_TIMEOUT", str(TIMEOUT))
    monkeypatch.delenv("SCRATCHNN_DATA", raising=False)
    monkeypatch.setenv("SCRATCHNN_MIRRORS", "")  # tests name their local mirrors explicitly
    return cache


@pytest.fixture
def fake(server, monkeypatch):
    """Serve a small synthetic Fashion-MNIST and make the loader expect exactly it."""
    payloads = synthetic_payloads()
    for name, payload in payloads.items():
        server.files[f"fashion-mnist/{name}.gz"] = gzip.compress(payload)
        server.bad_files[f"fashion-mnist/{name}.gz"] = gzip.compress(payload[:-1] + b"\x01")
    spec = dataclasses.replace(
        mnist_module.FASHION_MNIST,
        sha256={name: hashlib.sha256(p).hexdigest() for name, p in payloads.items()},
        system_dirs=(),
    )
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", spec)
    return payloads


def use_mirrors(monkeypatch, server, *modes: str) -> None:
    monkeypatch.setenv("SCRATCHNN_MIRRORS", " ".join(f"{server.url}/{m}" for m in modes))


def test_good_download(server, cache, fake, monkeypatch):
    use_mirrors(monkeypatch, server, "ok")
    (x, t), (x_test, t_test) = load_fashion_mnist(normalize=False)
    assert x.shape == (20, 784) and t_test.tolist() == [0, 1, 2, 3]
    expected = np.frombuffer(fake["train-images-idx3-ubyte"][16:], np.uint8)
    assert np.array_equal(x.ravel(), expected)
    downloaded = files_under(cache / "fashion-mnist")
    assert [p.name for p in downloaded] == sorted(f"{n}.gz" for n in NAMES)
    assert not [p for p in files_under(cache) if ".part" in p.name]


def test_downloaded_files_are_reused(server, cache, fake, monkeypatch):
    use_mirrors(monkeypatch, server, "ok")
    load_fashion_mnist()
    for path in files_under(cache / "decoded"):
        path.unlink()
    monkeypatch.setenv("SCRATCHNN_MIRRORS", "")  # no network needed the second time
    (x, _), _ = load_fashion_mnist()
    assert x.shape == (20, 784)


def test_next_mirror_after_404(server, cache, fake, monkeypatch):
    use_mirrors(monkeypatch, server, "missing", "ok")
    (x, _), _ = load_fashion_mnist()
    assert x.shape == (20, 784)


def assert_failed_cleanly(cache: Path, info: pytest.ExceptionInfo, *expected: str) -> str:
    message = str(info.value)
    for text in expected:
        assert text in message
    assert files_under(cache) == [], "a failed download left files in the cache"
    assert not (cache / "fashion-mnist").exists(), "a failed download left an empty folder"
    return message


def test_404(server, cache, fake, monkeypatch):
    use_mirrors(monkeypatch, server, "missing")
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    message = assert_failed_cleanly(
        cache, info, "HTTP error 404", f"{server.url}/missing/fashion-mnist/", "data_dir="
    )
    for name in NAMES:
        assert f"{server.url}/missing/fashion-mnist/{name}.gz: HTTP error 404" in message


def test_truncated_file(server, cache, fake, monkeypatch):
    use_mirrors(monkeypatch, server, "truncated")
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    assert_failed_cleanly(cache, info, "truncated or corrupt download")


def test_server_hangs_up_early(server, cache, fake, monkeypatch):
    use_mirrors(monkeypatch, server, "hangup")
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    assert_failed_cleanly(cache, info, "connection closed after")


def test_chunked_response_cut_short(server, cache, fake, monkeypatch):
    use_mirrors(monkeypatch, server, "chunked-cut")
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    assert_failed_cleanly(cache, info, "broken HTTP response (IncompleteRead")


def test_bad_checksum(server, cache, fake, monkeypatch):
    use_mirrors(monkeypatch, server, "bad")
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    sha = hashlib.sha256(fake["train-images-idx3-ubyte"]).hexdigest()
    assert_failed_cleanly(cache, info, "checksum mismatch", f"expected {sha}")


@pytest.mark.parametrize("mode", ["stall", "stall-body"])
def test_stalling_server_times_out(server, cache, fake, monkeypatch, mode):
    use_mirrors(monkeypatch, server, mode)
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    message = assert_failed_cleanly(cache, info, f"no answer within {TIMEOUT:g} s")
    # A mirror that timed out is not tried again for the other three files.
    assert message.count("skipped, unreachable on an earlier try") == 3


def test_nothing_listening(cache, fake, monkeypatch):
    with socket.socket() as sock:  # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SCRATCHNN_MIRRORS", f"http://127.0.0.1:{port}")
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    assert_failed_cleanly(cache, info, f"http://127.0.0.1:{port}/fashion-mnist/")


def test_corrupt_cached_file_is_replaced(server, cache, fake, monkeypatch):
    use_mirrors(monkeypatch, server, "ok")
    cached = cache / "fashion-mnist" / "train-labels-idx1-ubyte.gz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07"))
    (_, t), _ = load_fashion_mnist()
    assert t.tolist() == [i % 10 for i in range(20)]
    assert gzip.decompress(cached.read_bytes()) == fake["train-labels-idx1-ubyte"]


def test_malformed_mirror_setting(cache, fake, monkeypatch):
    monkeypatch.setenv("SCRATCHNN_MIRRORS", "not-a-url")
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    assert_failed_cleanly(cache, info, "not-a-url/fashion-mnist/train-images-idx3-ubyte.gz")


def test_bad_timeout_setting(cache, fake, monkeypatch):
    monkeypatch.setenv("SCRATCHNN_DOWNLOAD_TIMEOUT", "soon")
    monkeypatch.setenv("SCRATCHNN_MIRRORS", "http://127.0.0.1:9")
    with pytest.raises(ValueError, match="SCRATCHNN_DOWNLOAD_TIMEOUT"):
        load_fashion_mnist()


def test_real_mnist_download(server, cache, shared_data, monkeypatch):
    """The real files, served over HTTP, pass the real checksums (no patched spec)."""
    for name in NAMES:
        server.files[f"mnist/{name}.gz"] = (shared_data / "mnist" / f"{name}.gz").read_bytes()
    use_mirrors(monkeypatch, server, "missing", "ok")
    _, (x_test, t_test) = load_mnist(flatten=False)
    assert x_test.shape == (10000, 1, 28, 28) and t_test[:3].tolist() == [7, 2, 1]
    assert len(files_under(cache / "mnist")) == 4


def test_oversized_download_is_refused_and_the_next_mirror_used(server, cache, fake,
                                                                monkeypatch):
    monkeypatch.setattr(_fetch, "MAX_PAYLOAD", 60_000)
    monkeypatch.setattr(idx, "MAX_PAYLOAD", 60_000)
    for name in NAMES:  # a few kB of gzip that decompress to 10 MB
        server.bad_files[f"fashion-mnist/{name}.gz"] = gzip.compress(bytes(10_000_000))
    server.files["fashion-mnist/endless.gz"] = bytes(100_000)  # more than any data file
    use_mirrors(monkeypatch, server, "bad", "ok")
    (x, _), _ = load_fashion_mnist()
    assert x.shape == (20, 784)
    for mode, refusal in (("ok", "100000 bytes announced: more than any data file"),
                          ("nolength", "more than 60000 bytes: not a data file")):
        with pytest.raises(_fetch._BadDownload, match=refusal):
            _fetch._download(f"{server.url}/{mode}/fashion-mnist/endless.gz",
                             mnist_module.FASHION_MNIST, "train-images-idx3-ubyte", TIMEOUT)
    assert not [p for p in files_under(cache) if ".part" in p.name]


def test_a_cache_that_cannot_be_written_is_named_not_blamed_on_the_mirror(server, cache, fake,
                                                                         monkeypatch):
    use_mirrors(monkeypatch, server, "ok")
    cache.write_text("a file where the cache folder should be")
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    message = str(info.value)
    assert f"cannot write into the cache {cache / 'fashion-mnist'}" in message
    assert "set SCRATCHNN_CACHE to a writable folder" in message
    assert "skipped, unreachable" not in message  # the mirror answered: it is not to blame
    # A disk that fills up during the download: reported the same way, nothing left behind.
    cache.unlink()
    real_fdopen = _fetch.os.fdopen

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(_fetch.os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    monkeypatch.setattr(_fetch.os, "fdopen", real_fdopen)
    assert_failed_cleanly(cache, info, "(No space left on device): set SCRATCHNN_CACHE")
    assert not cache.exists()


def test_interrupted_download_leaves_nothing_behind(server, cache, fake, monkeypatch):
    use_mirrors(monkeypatch, server, "ok")
    (cache / "outer").mkdir(parents=True)
    monkeypatch.setenv("SCRATCHNN_CACHE", str(cache / "outer" / "a" / "b"))

    class Interrupting:
        def __init__(self, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            raise KeyboardInterrupt

    monkeypatch.setattr(_fetch, "tqdm", Interrupting)
    with pytest.raises(KeyboardInterrupt):
        load_fashion_mnist()
    # Neither the .part file nor any of the three folders made for it.
    assert [p.name for p in cache.rglob("*")] == ["outer"]
