"""The file helpers: folders made for a write are the ones removed after it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from scratchnn.files.atomic import make_folders, remove_empty_folders


def test_only_folders_really_made_are_reported_and_removed(tmp_path):
    (tmp_path / "keep").mkdir()
    made = make_folders(tmp_path / "new" / ".." / "keep" / "sub" / "deeper")
    assert made == [tmp_path / "keep" / "sub" / "deeper", tmp_path / "keep" / "sub"]
    assert not (tmp_path / "new").exists()
    remove_empty_folders(made)
    assert [p.name for p in tmp_path.iterdir()] == ["keep"]  # the folder that was there stays


def test_a_failure_half_way_removes_what_was_made(tmp_path, monkeypatch):
    real_mkdir = Path.mkdir

    def full_disk_at_c(path, *args, **kwargs):
        if path.name == "c":
            raise OSError(28, "No space left on device")
        real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", full_disk_at_c)
    with pytest.raises(OSError, match="No space left"):
        make_folders(tmp_path / "a" / "b" / "c" / "d")
    assert list(tmp_path.iterdir()) == []  # a and b, made before c failed, are gone again
    # A file in the way is an error too, and nothing is left behind.
    monkeypatch.undo()
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(NotADirectoryError):
        make_folders(tmp_path / "file" / "x")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_a_dangling_link_is_not_followed(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere" / "deep")
    with pytest.raises(OSError):
        make_folders(tmp_path / "link" / "sub")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link"]  # nothing made at its target
