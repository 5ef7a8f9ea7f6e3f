"""Finding data files on disk, downloading missing ones, and checking them.

A data set is described by a :class:`DatasetSpec`: a folder name, and for each file the
SHA-256 of its *decompressed* bytes (mirrors gzip the same data with different headers,
so only the payload has a stable checksum).

A file is looked for, in this order, in

1. ``<data_dir>/<folder>/`` (the ``data_dir=`` argument),
2. ``$SCRATCHNN_DATA/<folder>/``,
3. ``<cache>/<folder>/`` (see :func:`cache_dir`),
4. the spec's system folders (Debian's ``/usr/share/datasets/fashion-mnist``),

as ``NAME.gz`` or plain ``NAME``. A file there that fails its checksum is an error,
except in the cache, which is ours: a bad file there is deleted and downloaded again.
Missing files are downloaded from the mirrors into the cache.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from tqdm import tqdm

from ..files.atomic import make_folders, new_temp_file, remove_empty_folders
from .idx import MAX_PAYLOAD, read_payload

__all__ = ["DOWNLOAD_TIMEOUT", "DatasetSpec", "Fetched", "Place", "cache_dir", "fetch"]

#: Seconds a download may wait on the network for any single step (connect, each read).
#: The environment variable ``SCRATCHNN_DOWNLOAD_TIMEOUT`` overrides it.
DOWNLOAD_TIMEOUT = 30.0

_CHUNK = 1 << 16
_USER_AGENT = "scratchnn/0.1 (Python urllib)"


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the loader needs to find, fetch and check one data set's files."""

    folder: str
    """Folder name under a data directory and under the cache, e.g. ``"mnist"``."""
    title: str
    """Human name for messages, e.g. ``"MNIST"``."""
    sha256: Mapping[str, str]
    """File name (IDX files: without ``.gz``) -> SHA-256 of its decompressed content."""
    mirrors: tuple[str, ...] = ()
    """Base URLs; a file's URL is the base followed by :func:`published_name`."""
    system_dirs: tuple[Path, ...] = ()
    """Folders that hold the files directly, such as a Linux package's install location."""


class Place(NamedTuple):
    """One folder that is searched for a data set's files."""

    label: str
    path: Path | None  # None: the setting was not given
    ours: bool  # True only for the cache, whose bad files may be deleted


class Fetched(NamedTuple):
    """A verified file: where it was found (or downloaded to) and its decompressed bytes."""

    path: Path
    payload: bytes


def cache_dir() -> Path:
    """The folder where scratchnn keeps downloads and decoded arrays.

    ``$SCRATCHNN_CACHE`` if set, else ``$XDG_CACHE_HOME/scratchnn``, else
    ``~/.cache/scratchnn``. It is created on first write, not here.
    """
    if os.environ.get("SCRATCHNN_CACHE"):
        return Path(os.environ["SCRATCHNN_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "scratchnn"
    return Path.home() / ".cache" / "scratchnn"


def check_data_dir(data_dir: str | os.PathLike[str] | None) -> None:
    """An explicit ``data_dir`` must be a folder: a typo must not fall back on the cache."""
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        what = "is not a folder" if Path(data_dir).expanduser().exists() else "does not exist"
        raise FileNotFoundError(f"data folder {data_dir} {what} (given as data_dir / "
                                "--data-dir; leave it out to use $SCRATCHNN_DATA or the cache)")


def search_places(
    folder: str, data_dir: str | os.PathLike[str] | None, system_dirs: tuple[Path, ...] = ()
) -> list[Place]:
    """The folders to search for a data set, in order (settings not given have path None).

    An explicit ``data_dir`` that is not a folder is an error (:func:`check_data_dir`).
    """
    check_data_dir(data_dir)
    env = os.environ.get("SCRATCHNN_DATA")
    places = [
        Place("data_dir argument", _sub(data_dir, folder), ours=False),
        Place("SCRATCHNN_DATA", _sub(env or None, folder), ours=False),
        Place("cache", cache_dir() / folder, ours=True),
    ]
    places += [Place("system folder", Path(d), ours=False) for d in system_dirs]
    return places


def describe_places(places: list[Place]) -> str:
    """One numbered line per place, saying why a place could not help."""
    lines = []
    for i, place in enumerate(places, 1):
        if place.path is None:
            where = "(not set)" if place.label.startswith("SCRATCHNN") else "(not given)"
        elif place.path.is_dir():
            where = str(place.path)
        elif place.path.exists():
            where = f"{place.path} (not a folder)"
        else:
            where = f"{place.path} (does not exist)"
        lines.append(f"  {i}. {place.label}: {where}")
    return "\n".join(lines)


def fetch(
    spec: DatasetSpec, names: list[str], data_dir: str | os.PathLike[str] | None = None
) -> dict[str, Fetched]:
    """Find or download each named file of ``spec``, verified against its checksum.

    Raises:
        ValueError: a file supplied by the user (data_dir, SCRATCHNN_DATA, system folder)
            is corrupt or fails its checksum.
        FileNotFoundError: some files are nowhere to be found and could not be downloaded;
            the message lists them, each place searched, each download tried, and the fix.
    """
    places = search_places(spec.folder, data_dir, spec.system_dirs)
    found: dict[str, Fetched] = {}
    notes: list[str] = []
    for name in names:
        hit = _find(spec, name, places, notes)
        if hit is not None:
            found[name] = hit

    missing = [name for name in names if name not in found]
    if not missing:
        return found

    mirrors = _mirrors(spec)
    unreachable: set[str] = set()  # mirrors that timed out or refused: not worth retrying
    for name in missing:
        hit = _download_from_mirrors(spec, name, mirrors, unreachable, notes)
        if hit is not None:
            found[name] = hit

    still_missing = [name for name in names if name not in found]
    if still_missing:
        raise FileNotFoundError(_not_found_message(spec, still_missing, places, mirrors, notes))
    return found


def _sub(root: str | os.PathLike[str] | None, folder: str) -> Path | None:
    return None if root is None else Path(root).expanduser() / folder


def published_name(name: str) -> str:
    """The name a file has on disk and on mirrors: IDX files (no suffix) are gzipped."""
    return name if "." in name else f"{name}.gz"


def _sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _find(spec: DatasetSpec, name: str, places: list[Place], notes: list[str]) -> Fetched | None:
    expected = spec.sha256[name]
    for place in places:
        if place.path is None:
            continue
        for candidate in (place.path / f"{name}.gz", place.path / name):
            if not candidate.is_file():
                continue
            try:
                payload = read_payload(candidate)
                problem = None if _sha256(payload) == expected else "checksum mismatch"
            except ValueError as err:  # (its message starts with the path: not repeated)
                payload, problem = b"", str(err).removeprefix(f"{candidate}: ")
            if problem is None:
                return Fetched(candidate, payload)
            if place.ours:
                # Our own cache: never trust it, never make the user clean it up.
                try:
                    candidate.unlink(missing_ok=True)
                    notes.append(f"removed corrupt cached file {candidate} ({problem})")
                except OSError as err:  # a read-only cache: the file is just not used
                    notes.append(f"ignored corrupt cached file {candidate} ({problem}; "
                                 f"cannot remove it: {err.strerror or err})")
                continue
            raise ValueError(_corrupt_message(spec, name, place, candidate, payload, problem))
    return None


def _corrupt_message(spec: DatasetSpec, name: str, place: Place, path: Path, payload: bytes,
                     problem: str) -> str:
    if problem == "checksum mismatch":
        detail = (
            f"the SHA-256 of its decompressed content is {_sha256(payload)}, "
            f"expected {spec.sha256[name]}: the file is truncated, damaged, or a different file"
        )
    else:
        detail = problem
    if place.label == "system folder":
        fix = "Reinstall the package that put it there, or set data_dir or SCRATCHNN_DATA to a "
        fix += f"folder with a good copy of {published_name(name)}."
    elif spec.mirrors:
        fix = (f"Replace it with a good copy of {published_name(name)}, or delete it so that "
               "scratchnn downloads a fresh copy into its cache.")
    else:
        fix = f"Replace it with a good copy of {published_name(name)}."
    return f"{path}: cannot use this file ({spec.title}, {name}): {detail}.\n{fix}"


def _mirrors(spec: DatasetSpec) -> list[str]:
    """URL prefixes to try; ``$SCRATCHNN_MIRRORS`` replaces the built-in list.

    The variable holds whitespace-separated base URLs of servers laid out like a data
    directory (``BASE/mnist/NAME.gz``); set but empty, it turns downloading off.
    """
    env = os.environ.get("SCRATCHNN_MIRRORS")
    if env is None:
        return [m if m.endswith("/") else m + "/" for m in spec.mirrors]
    return [f"{base.rstrip('/')}/{spec.folder}/" for base in env.split()]


def _timeout() -> float:
    value = os.environ.get("SCRATCHNN_DOWNLOAD_TIMEOUT")
    if not value:
        return DOWNLOAD_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(f"SCRATCHNN_DOWNLOAD_TIMEOUT must be a positive number, got {value!r}")
    return seconds


class _BadDownload(Exception):
    """The server answered, but with something that is not the file we want."""


class _CacheNotWritable(Exception):
    """The download cannot be stored: no mirror would help."""


def _download_from_mirrors(
    spec: DatasetSpec, name: str, mirrors: list[str], unreachable: set[str], notes: list[str]
) -> Fetched | None:
    timeout = _timeout()
    for mirror in mirrors:
        url = f"{mirror}{published_name(name)}"
        if mirror in unreachable:
            notes.append(f"{url}: {_SKIPPED}")
            continue
        try:
            return _download(url, spec, name, timeout)
        except _CacheNotWritable as err:
            notes.append(f"{url}: {err}")
            return None
        except urllib.error.HTTPError as err:
            err.close()  # it holds the open response; leaving it to the GC warns
            notes.append(f"{url}: HTTP error {err.code} {err.reason}")
        except _BadDownload as err:
            notes.append(f"{url}: {err}")
        except http.client.HTTPException as err:  # e.g. a chunked response cut short
            notes.append(f"{url}: broken HTTP response ({type(err).__name__}: {err})")
        except ValueError as err:  # a malformed entry in SCRATCHNN_MIRRORS
            notes.append(f"{url}: {err}")
        except OSError as err:  # URLError, timeouts, refused or reset connections
            unreachable.add(mirror)
            reason = getattr(err, "reason", err)  # URLError wraps the socket error
            if isinstance(reason, TimeoutError):
                notes.append(f"{url}: no answer within {timeout:g} s")
            else:
                notes.append(f"{url}: {reason}")
    return None


def _download(url: str, spec: DatasetSpec, name: str, timeout: float) -> Fetched:
    """Download ``url`` into the cache, check it, and only then give it its real name.

    The bytes go to a temporary file in the destination folder; ``os.replace`` then
    renames it in one step, so the cache never holds a half-written file under the
    real name, and the temporary file is deleted whatever goes wrong.
    """
    folder = cache_dir() / spec.folder
    made: list[Path] = []  # folders made for the download: removed again if it fails
    try:
        made = make_folders(folder)
        fd, tmp = new_temp_file(folder, name)
    except OSError as err:
        remove_empty_folders(made)
        raise _CacheNotWritable(_cache_problem(folder, err)) from err
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                total = response.length  # from Content-Length; None when the server omits it
                received = _copy_with_progress(response, out, total, f"{spec.title} {name}",
                                               folder)
        if total is not None and received < total:
            raise _BadDownload(f"connection closed after {received} of {total} bytes")
        try:
            payload = read_payload(tmp)
        except ValueError as err:
            raise _BadDownload(f"truncated or corrupt download ({err.__cause__})") from err
        if _sha256(payload) != spec.sha256[name]:
            raise _BadDownload(
                f"checksum mismatch: SHA-256 of the decompressed content is "
                f"{_sha256(payload)}, expected {spec.sha256[name]}"
            )
        with open(tmp, "rb") as f:
            compressed = f.read(2) == b"\x1f\x8b"
        final = folder / (f"{name}.gz" if compressed else name)
        os.replace(tmp, final)
        return Fetched(final, payload)
    except BaseException:
        # BaseException: Ctrl-C in the middle of a download must not leave a .part behind.
        tmp.unlink(missing_ok=True)
        remove_empty_folders(made)  # nor the folders made for it, left empty
        raise


def _cache_problem(folder: Path, err: OSError) -> str:
    return (f"cannot write into the cache {folder} ({err.strerror or err}): set "
            "SCRATCHNN_CACHE to a writable folder")


def _copy_with_progress(response, out, total: int | None, label: str, folder: Path) -> int:
    if total is not None and total > MAX_PAYLOAD:
        raise _BadDownload(f"{total} bytes announced: more than any data file ({MAX_PAYLOAD})")
    received = 0
    # The bar is for people watching a terminal; in logs and notebooks it is noise.
    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        desc=f"downloading {label}",
        disable=not (sys.stderr and sys.stderr.isatty()),  # no stderr under pythonw
        leave=False,
    ) as bar:
        while chunk := response.read(_CHUNK):
            received += len(chunk)
            if received > MAX_PAYLOAD:  # a server that never stops would fill the disk
                raise _BadDownload(f"more than {MAX_PAYLOAD} bytes: not a data file")
            try:
                out.write(chunk)
            except OSError as err:  # a full disk, say: the server is not to blame
                raise _CacheNotWritable(_cache_problem(folder, err)) from err
            bar.update(len(chunk))
    return received


def _misplaced_hint(spec: DatasetSpec, places: list[Place]) -> str:
    """A common slip: pointing data_dir at the ``mnist`` folder itself, not at its parent."""
    for place, setting in zip(places[:2], ("data_dir", "SCRATCHNN_DATA"), strict=True):
        if place.path is None:
            continue
        root = place.path.parent
        if any((root / published_name(n)).is_file() or (root / n).is_file() for n in spec.sha256):
            return (
                f" Note: {root} itself holds {spec.title} files, but {setting} must name the "
                f"folder that contains {spec.folder}/: set {setting} to {root.parent} instead."
            )
    return ""


_SKIPPED = "skipped, unreachable on an earlier try"


def _not_found_message(
    spec: DatasetSpec,
    missing: list[str],
    places: list[Place],
    mirrors: list[str],
    notes: list[str],
) -> str:
    all_files = ", ".join(published_name(n) for n in spec.sha256)
    if not mirrors and os.environ.get("SCRATCHNN_MIRRORS") is not None:
        why = "no download: SCRATCHNN_MIRRORS is set but empty, which turns it off"
    elif not mirrors:
        why = "no download: this data set has no public mirror"
    else:
        failures = [note for note in notes if not note.endswith(_SKIPPED)]
        why = f"download failed: {failures[-1]}" if failures else "no download tried"
    tried_text = "\n".join(f"  - {note}" for note in [*notes, why])
    # What to do comes first: the command line shows only that, the part before the blank
    # line (--debug shows all).
    return (
        f"{spec.title}: {len(missing)} file(s) not found and not downloaded: "
        f"{', '.join(published_name(n) for n in missing)} ({why})."
        f"{_misplaced_hint(spec, places)}\n"
        f"To fix: copy the files ({all_files}) into a folder DIR/{spec.folder}/ and pass "
        f"data_dir=DIR (on the command line: scratchnn train --data-dir DIR) or set "
        f"SCRATCHNN_DATA=DIR; or connect to the internet and try again.\n\n"
        f"Looked for each as NAME.gz and as plain NAME in:\n{describe_places(places)}\n"
        f"What was tried:\n{tried_text}"
    )
