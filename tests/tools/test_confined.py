"""Host file access beneath a mount table: links followed as the sandbox would follow
them, never out of the mounts, and no check-then-open window for a racing process."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conjure_kernel.tools.confined import Confined, Mount, OutsideMounts, PathChanged
from conjure_kernel.tools.decisions import Decided, decided

SECRET = b"host secret"
RACE_SECONDS = 20
"""How long a flipper runs at most: it stops by itself even if the test is killed."""


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path, Confined]:
    """A workspace mounted at /workspace, a read-only skill, a masked folder, and a host
    folder outside every mount that holds a secret."""
    workspace = tmp_path / "ws"
    skill = tmp_path / "skill"
    outside = tmp_path / "outside"
    for folder in (workspace, skill, outside):
        folder.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (skill / "SKILL.md").write_text("skill body")
    confined = Confined(
        [
            Mount("/workspace", workspace, True),
            Mount("/mnt/skills/demo", skill),
            Mount("/workspace/masked", None),
        ]
    )
    return workspace, outside, confined


def test_files_in_a_mount_are_read_written_and_listed(tree) -> None:
    workspace, _, files = tree
    assert files.write("/workspace/sub/deeper/a.txt", b"one\ntwo\n") is False
    assert files.write("/workspace/sub/deeper/a.txt", b"three\n") is True
    assert (workspace / "sub/deeper/a.txt").read_bytes() == b"three\n"
    assert files.read("/workspace/sub/deeper/a.txt", 1, 3) == b"hr"
    assert files.stat("/workspace/sub").kind == "directory"
    assert files.stat("/workspace/sub/deeper/a.txt").size == 6
    assert files.stat("/workspace/nothing").kind == "missing"
    assert files.stat("/workspace/sub/deeper/a.txt/below").kind == "missing"
    (workspace / ".hidden").write_text("x")
    assert files.list_dir("/workspace") == ["sub/", "sub/deeper/"]
    assert files.read("/mnt/skills/demo/SKILL.md") == b"skill body"


def test_links_are_followed_within_the_mounts_as_the_sandbox_sees_them(tree) -> None:
    workspace, _, files = tree
    (workspace / "real.txt").write_text("real")
    (workspace / "relative").symlink_to("real.txt")
    (workspace / "absolute").symlink_to("/workspace/real.txt")
    (workspace / "to-skill").symlink_to("/mnt/skills/demo")
    (workspace / "dir").mkdir()
    (workspace / "dir/up").symlink_to("../real.txt")
    assert files.read("/workspace/relative") == b"real"
    assert files.read("/workspace/absolute") == b"real"
    assert files.read("/workspace/dir/up") == b"real"
    assert files.read("/workspace/to-skill/SKILL.md") == b"skill body"
    assert files.stat("/workspace/to-skill").kind == "directory"
    # a write through a link writes its target, within the mounts
    files.write("/workspace/absolute", b"changed")
    assert (workspace / "real.txt").read_text() == "changed"
    (workspace / "dangling").symlink_to("made-later.txt")
    files.write("/workspace/dangling", b"made")
    assert (workspace / "made-later.txt").read_text() == "made"


def test_links_out_of_the_mounts_never_reach_the_host(tree) -> None:
    workspace, outside, files = tree
    host_secret = outside / "secret.txt"
    (workspace / "abs").symlink_to(host_secret)  # the host path means nothing in the sandbox
    (workspace / "rel").symlink_to("../outside/secret.txt")
    (workspace / "dir").symlink_to(outside)
    for path in ("/workspace/abs", "/workspace/rel", "/workspace/dir/secret.txt"):
        with pytest.raises(OutsideMounts):
            files.read(path)
        with pytest.raises(OutsideMounts):
            files.write(path, b"overwritten")
        with pytest.raises(OutsideMounts):
            files.stat(path)
    with pytest.raises(OutsideMounts):
        files.write("/workspace/dir/new.txt", b"x")
    with pytest.raises(OutsideMounts):
        files.list_dir("/workspace/dir")
    assert host_secret.read_bytes() == SECRET
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    # listing shows the links without entering them
    assert files.list_dir("/workspace") == ["abs", "dir", "rel"]


def test_masked_read_only_and_unmounted_paths_are_refused(tree) -> None:
    workspace, _, files = tree
    (workspace / "masked").mkdir()
    (workspace / "masked/key").write_text("k")
    with pytest.raises(PermissionError):
        files.read("/workspace/masked/key")
    (workspace / "to-masked").symlink_to("masked/key")
    with pytest.raises(PermissionError):
        files.read("/workspace/to-masked")
    with pytest.raises(OSError) as refused:
        files.write("/mnt/skills/demo/SKILL.md", b"x")
    assert refused.value.errno == errno.EROFS
    (workspace / "to-skill").symlink_to("/mnt/skills/demo/SKILL.md")
    with pytest.raises(OSError) as refused:
        files.write("/workspace/to-skill", b"x")
    assert refused.value.errno == errno.EROFS
    with pytest.raises(OutsideMounts):
        files.read("/etc/hostname")


def test_a_link_loop_ends_with_eloop(tree) -> None:
    workspace, _, files = tree
    (workspace / "a").symlink_to("b")
    (workspace / "b").symlink_to("a")
    with pytest.raises(OSError) as loop:
        files.read("/workspace/a")
    assert loop.value.errno == errno.ELOOP
    assert loop.value.filename == "/workspace/a"


def test_a_fifo_or_a_folder_is_refused_without_blocking(tree) -> None:
    workspace, _, files = tree
    os.mkfifo(workspace / "pipe")
    assert files.stat("/workspace/pipe").kind == "other"
    with pytest.raises(OSError, match="not a regular file"):
        files.read("/workspace/pipe")
    with pytest.raises(OSError):  # no reader: a non-blocking open for writing fails
        files.write("/workspace/pipe", b"x")
    with pytest.raises(IsADirectoryError):
        files.read("/workspace")


_FLIPPER = """
import os, sys, time
link, real, spare_link, spare_real, seconds = sys.argv[1:6]
end = time.monotonic() + float(seconds)
while time.monotonic() < end:
    os.replace(spare_link, link)          # the entry is now a link out of the mount
    os.symlink(sys.argv[6], spare_link)
    os.replace(spare_real, real)          # and now the real thing again
    with open(spare_real, "w") as f:
        f.write("inside")
"""

_FOLDER_FLIPPER = """
import os, shutil, sys, time
entry, outside, seconds = sys.argv[1:4]
end = time.monotonic() + float(seconds)
parked = entry + ".parked"
os.makedirs(entry, exist_ok=True)
while time.monotonic() < end:
    os.rename(entry, parked)
    os.symlink(outside, entry)
    os.unlink(entry)
    os.rename(parked, entry)
"""


def _race(flipper: list[str], calls) -> list[object]:
    """Run ``calls`` (each a function of the call number) 4,000 times in two threads while
    the ``flipper`` script (with its arguments) runs; their results, errors included."""
    results: list[object] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        for number in range(offset, 4000, 2):
            try:
                value: object = calls(number)
            except OSError as error:
                value = error
            with lock:
                results.append(value)

    process = subprocess.Popen([sys.executable, "-c", *flipper])
    try:
        time.sleep(0.2)
        threads = [threading.Thread(target=worker, args=(offset,)) for offset in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=RACE_SECONDS + 60)
    finally:
        process.kill()
        process.wait()
    return results


def test_a_file_flipped_to_a_link_never_leaks_or_is_written_through(tree) -> None:
    workspace, outside, files = tree
    secret = outside / "secret.txt"
    entry = workspace / "flip.txt"
    entry.write_text("inside")
    (workspace / "spare-link").symlink_to(secret)
    (workspace / "spare-real").write_text("inside")
    flipper = [_FLIPPER, str(entry), str(entry), str(workspace / "spare-link")]
    flipper += [str(workspace / "spare-real"), str(RACE_SECONDS), str(secret)]

    def call(number: int) -> object:
        if number % 3 == 0:
            return files.write("/workspace/flip.txt", b"written by a tool")
        if number % 3 == 1:
            return files.stat("/workspace/flip.txt")
        return files.read("/workspace/flip.txt")

    results = _race(flipper, call)
    assert len(results) == 4000
    assert not any(isinstance(r, bytes) and SECRET in r for r in results)
    assert secret.read_bytes() == SECRET
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    reads = [r for r in results if isinstance(r, bytes)]
    assert reads, "no read won: the race did not run"


def test_a_folder_flipped_to_a_link_never_leaks_or_is_written_through(tree) -> None:
    workspace, outside, files = tree
    entry = workspace / "box"
    entry.mkdir()
    (entry / "secret.txt").write_text("inside")

    def call(number: int) -> object:
        if number % 4 == 0:
            return files.write(f"/workspace/box/new-{number}.txt", b"new")
        if number % 4 == 1:
            return files.write("/workspace/box/secret.txt", b"overwritten")
        if number % 4 == 2:
            return files.list_dir("/workspace/box")
        return files.read("/workspace/box/secret.txt")

    results = _race([_FOLDER_FLIPPER, str(entry), str(outside), str(RACE_SECONDS)], call)
    assert len(results) == 4000
    assert not any(isinstance(r, bytes) and SECRET in r for r in results)
    assert (outside / "secret.txt").read_bytes() == SECRET
    assert sorted(os.listdir(outside)) == ["secret.txt"]


def test_leads_to_follows_links_as_the_walk_does(tree) -> None:
    workspace, _, files = tree
    (workspace / "real").mkdir()
    (workspace / "docs").symlink_to("real")
    (workspace / "skill").symlink_to("/mnt/skills/demo")
    (workspace / "out").symlink_to("/etc")
    assert files.leads_to("/workspace/docs/new/a.txt") == "/workspace/real/new/a.txt"
    assert files.leads_to("/workspace/skill/SKILL.md") == "/mnt/skills/demo/SKILL.md"
    assert files.leads_to("/workspace/out/passwd") == "/etc/passwd"  # where the sandbox goes
    assert files.leads_to("/workspace/masked/x") == "/workspace/masked/x"


def test_a_pinned_call_touches_only_the_place_it_was_allowed_for(tree) -> None:
    """Decide on a path, swap a link in, then use it: the use is refused, nothing lands."""
    workspace, _, files = tree
    (workspace / "docs").mkdir()
    (workspace / "secret").mkdir()
    place = files.leads_to("/workspace/docs/a.txt")
    with decided(Decided(place)):
        assert files.write("/workspace/docs/a.txt", b"fine") is False
        (workspace / "docs").rename(workspace / "docs-old")
        (workspace / "docs").symlink_to("secret")
        with pytest.raises(
            PathChanged, match=re.escape("a link now leads it to /workspace/secret/a.txt")
        ):
            files.write("/workspace/docs/a.txt", b"redirected")
        with pytest.raises(PathChanged):
            files.read("/workspace/docs/a.txt")
    assert list((workspace / "secret").iterdir()) == []
    assert files.write("/workspace/docs/a.txt", b"unpinned") is False  # no pin: links followed
    assert (workspace / "secret" / "a.txt").read_bytes() == b"unpinned"


def test_a_write_to_a_hard_link_changes_that_name_only(tree) -> None:
    """A workspace file hard-linked to one outside: overwriting it leaves the outside one."""
    workspace, outside, files = tree
    os.link(outside / "secret.txt", workspace / "linked.txt")
    (workspace / "linked.txt").chmod(0o640)
    assert files.write("/workspace/linked.txt", b"mine now") is True
    assert (outside / "secret.txt").read_bytes() == SECRET
    assert (workspace / "linked.txt").read_bytes() == b"mine now"
    assert (workspace / "linked.txt").stat().st_nlink == 1
    assert (workspace / "linked.txt").stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in workspace.iterdir()) == ["linked.txt"]
