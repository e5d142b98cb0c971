"""The sandbox images, built offline for real: what runs inside each, how their recipe is
tracked, and what ``%backend docker`` checks about the image and the engine up front.

Containers run as the backend will run them: uid 1000, no network, a read-only root
filesystem with a tmpfs /tmp. Nothing here mocks the engine.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker_support import engine, sandbox_image

from conjure_kernel.backends.base import SessionOptions
from conjure_kernel.backends.docker import engine as docker_engine
from conjure_kernel.backends.docker.backend import DockerBackend, DockerSession
from conjure_kernel.backends.docker.images import (
    IMAGE_DIR,
    RECIPE_FILES,
    RECIPE_LABEL,
    VARIANT_LABEL,
    image_tag,
    recipe_contents,
    recipe_hash,
    variant_of,
)
from conjure_kernel.errors import BackendSettingError, BackendUnavailable

IMPORTS = "pandas, openpyxl, docx, pptx, pypdf, pdfplumber, pdf2image, reportlab, defusedxml"
LISTS = ("debian-slim.txt", "debian-full.txt", "requirements.txt", "package-lock.json")


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    client = engine()
    yield client
    client.close()


@pytest.fixture(scope="module")
def slim(client: docker.DockerClient) -> str:
    return sandbox_image(client, image_tag("slim"))


@pytest.fixture(scope="module")
def full(client: docker.DockerClient) -> str:
    return sandbox_image(client, image_tag("full"))


def sandboxed(client: docker.DockerClient, image: str, script: str) -> str:
    """Run ``script`` under bash in a locked-down container and return its output."""
    output = client.containers.run(
        image,
        ["bash", "--noprofile", "--norc", "-c", script],
        user="1000:1000",
        network_mode="none",
        read_only=True,
        tmpfs={"/tmp": "rw,exec,size=64m", "/home/agent": "rw,uid=1000,gid=1000,size=32m"},
        environment={"HOME": "/home/agent"},
        labels={"conjure.test": "image"},
        remove=True,
        stderr=True,
    )
    return output.decode()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conjure_kernel", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_the_document_libraries_import_offline_with_python_and_pypdf_5(client, slim):
    script = f"python -c 'import {IMPORTS}; print(pypdf.__version__.split(\".\")[0])'"
    assert sandboxed(client, slim, script) == "5\n"


def test_the_libraries_write_their_formats(client, slim):
    """Beyond importing: the compiled parts (lxml, Pillow, numpy, Agg) work."""
    script = """
import docx, matplotlib.pyplot as plt, openpyxl, pandas, pptx, pypdf
plt.plot([1, 2, 3]); plt.savefig("/tmp/plot.png")
pandas.DataFrame({"a": [1, 2]}).to_excel("/tmp/t.xlsx")
assert openpyxl.load_workbook("/tmp/t.xlsx").active["B3"].value == 2
docx.Document().save("/tmp/d.docx")
deck = pptx.Presentation(); deck.slides.add_slide(deck.slide_layouts[6])
deck.slides[0].shapes.add_picture("/tmp/plot.png", 0, 0); deck.save("/tmp/p.pptx")
writer = pypdf.PdfWriter(); writer.add_blank_page(72, 72); writer.write("/tmp/x.pdf")
print(len(pypdf.PdfReader("/tmp/x.pdf").pages), plt.get_backend())
"""
    assert sandboxed(client, slim, f"python3 -c '{script}'") == "1 agg\n"


def test_node_finds_docx_and_pptxgenjs_from_any_folder(client, slim):
    """CommonJS through NODE_PATH; ECMAScript modules (which ignore it) through /node_modules."""
    script = """cd /tmp
node -e 'require("pptxgenjs"); console.log(typeof require("docx").Document)'
printf 'import { Packer } from "docx";\\nconsole.log(typeof Packer);\\n' > /tmp/m.mjs
node /tmp/m.mjs"""
    assert sandboxed(client, slim, script) == "function\nfunction\n"


def test_pdf_tools_and_metric_compatible_fonts_are_there(client, slim):
    script = """command -v pdftoppm pdftotext pdfimages qpdf | xargs -n1 basename
for font in Arial 'Times New Roman' Calibri Cambria; do fc-match -f '%{family[0]}\\n' "$font"; done"""
    assert sandboxed(client, slim, script).split("\n") == [
        "pdftoppm",
        "pdftotext",
        "pdfimages",
        "qpdf",
        "Liberation Sans",
        "Liberation Serif",
        "Carlito",
        "Caladea",
        "",
    ]


def test_libreoffice_and_pandoc_are_in_full_only(client, slim, full):
    check = "for p in soffice pandoc; do command -v $p >/dev/null && echo $p; done; true"
    assert sandboxed(client, slim, check) == ""
    versions = sandboxed(client, full, "soffice --version; pandoc --version | head -1")
    assert re.search(r"^LibreOffice \d+\.\d+", versions, re.MULTILINE), versions
    assert re.search(r"^pandoc \d", versions, re.MULTILINE), versions


def test_the_user_is_agent_in_the_workspace(client, slim):
    lines = sandboxed(client, slim, "id -un; id -u; pwd; stat -c %U /workspace; echo $HOME")
    assert lines.split() == ["agent", "1000", "/workspace", "agent", "/home/agent"]


def test_each_image_carries_the_recipe_hash_and_its_variant(client, slim, full):
    for variant, tag in (("slim", slim), ("full", full)):
        labels = client.images.get(tag).labels
        assert (labels[RECIPE_LABEL], labels[VARIANT_LABEL]) == (recipe_hash(), variant)


def test_image_names_a_variant_or_stands_for_itself():
    assert [image_tag(name) for name in ("slim", "full", "mine:1")] == [
        "conjure-sandbox:slim",
        "conjure-sandbox:full",
        "mine:1",
    ]
    assert [variant_of(tag) for tag in ("conjure-sandbox:latest", "conjure-sandbox:slim")] == [
        "full",
        "slim",
    ]
    assert variant_of("conjure-sandbox:other") is None


def test_the_recipe_hash_is_stable_and_follows_every_recipe_file(tmp_path: Path):
    copy = tmp_path / "image"
    shutil.copytree(IMAGE_DIR, copy)
    assert re.fullmatch(r"[0-9a-f]{12}", recipe_hash())
    assert recipe_hash(copy) == recipe_hash() == recipe_hash()
    seen = {recipe_hash()}
    for name in ("build-offline.sh", "Dockerfile", "debian-full.txt", "package-lock.json"):
        (copy / name).write_text((copy / name).read_text() + "\n")
        seen.add(recipe_hash(copy))
    assert len(seen) == 5


def test_the_shell_script_hashes_the_recipe_as_python_does():
    """The offline script labels the image itself when it is run without a hash."""
    script = (IMAGE_DIR / "build-offline.sh").read_text()
    listed = re.search(r"recipe_files=\(([^)]*)\)", script)
    assert listed and tuple(listed.group(1).split()) == RECIPE_FILES
    done = subprocess.run(
        ["bash", "-c", 'cat "$@" | sha256sum | cut -c1-12', "hash", *RECIPE_FILES],
        cwd=IMAGE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == recipe_hash()


@pytest.mark.parametrize("recipe", ["Dockerfile", "build-offline.sh"])
def test_both_recipes_install_from_the_same_lists(recipe):
    """The Dockerfile cannot be built here (no registry): it stays in step with the offline
    build by reading the same package lists, with hashes and a lock file."""
    text = (IMAGE_DIR / recipe).read_text()
    for name in LISTS:
        assert name in text, f"{recipe} does not use {name}"
    assert "--require-hashes" in text and "npm" in text and " ci " in text


def test_every_wheel_and_npm_package_is_pinned():
    lines = (IMAGE_DIR / "requirements.txt").read_text().splitlines()
    wheels = [number for number, line in enumerate(lines) if line[:1].isalpha()]
    assert wheels
    for number in wheels:
        assert re.fullmatch(r"[A-Za-z][\w.-]*==\S+ \\", lines[number]), lines[number]
        assert lines[number + 1].strip().startswith("--hash=sha256:"), lines[number]
    wanted = json.loads((IMAGE_DIR / "package.json").read_text())["dependencies"]
    locked = json.loads((IMAGE_DIR / "package-lock.json").read_text())["packages"]
    for name, version in wanted.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version} is not exact"
        assert locked[f"node_modules/{name}"]["version"] == version


def test_what_a_build_adds_is_read_from_the_recipe():
    slim, full = recipe_contents("slim"), recipe_contents("full")
    assert {"python-is-python3", "poppler-utils", "qpdf", "nodejs"} <= set(slim["Debian"])
    assert any(wheel.startswith("pypdf==5.") for wheel in slim["wheels"])
    assert sorted(name.rsplit("@", 1)[0] for name in slim["npm"]) == ["docx", "pptxgenjs"]
    assert "libreoffice-calc-nogui" in full["Debian"] and "pandoc" in full["Debian"]
    assert not set(full["Debian"]) & set(slim["Debian"])


def test_an_unknown_docker_action_prints_the_usage_and_exits_2():
    done = cli("docker", "frobnicate")
    assert done.returncode == 2
    assert done.stderr.startswith("usage: python -m conjure_kernel docker")
    assert "Traceback" not in done.stderr


def test_an_unknown_image_to_build_prints_the_usage_and_exits_2():
    done = cli("docker", "build", "--image", "huge")
    assert done.returncode == 2
    assert "argument --image: invalid choice: 'huge'" in done.stderr


def test_a_tag_naming_the_other_image_is_one_line():
    done = cli("docker", "build", "--image", "full", "--tag", "conjure-sandbox:slim")
    assert done.returncode == 1
    error, hint = done.stderr.splitlines()
    assert error == "error: conjure-sandbox:slim names the slim image, not full"
    assert hint.startswith("hint: leave out --tag")


@pytest.mark.parametrize("offline", [False, True])
def test_an_unreachable_engine_is_one_line_naming_it(offline):
    host = "tcp://127.0.0.1:9"
    done = cli("docker", "build", "--host", host, *(["--offline"] if offline else []))
    assert done.returncode == 1
    error, hint = done.stderr.splitlines()
    assert error.startswith(f"error: the Docker engine at {host} is not reachable")
    assert hint.startswith("hint: ")


def open_session(tmp_path: Path, **given: str) -> DockerSession:
    """A docker session opened (and closed again) with these settings, as ``%backend``
    opens one: the engine and the image are checked, no container is made."""
    settings = DockerBackend.settings_class.parse({"workdir": str(tmp_path), **given})

    async def run() -> DockerSession:
        backend = DockerBackend()
        session = await backend.open_session((), SessionOptions(settings=settings))
        await backend.close(session)
        return session

    return asyncio.run(run())


def test_image_chooses_slim_full_or_any_local_image(client, slim, full, tmp_path):
    named = f"conjure-test-named:{secrets.token_hex(4)}"
    client.images.get(slim).tag(named)
    try:
        sessions = {name: open_session(tmp_path, image=name) for name in ("slim", "full", named)}
    finally:
        client.images.remove(named)
    assert {name: s.workspace.spec.image for name, s in sessions.items()} == {
        "slim": slim,
        "full": full,
        named: named,
    }
    assert open_session(tmp_path).workspace.spec.image == full  # the default
    assert "LibreOffice (`soffice --headless`)" in sessions["full"].system_prompt
    assert "It has no LibreOffice (soffice) and no pandoc." in sessions["slim"].system_prompt
    assert "no LibreOffice" not in sessions["full"].system_prompt
    assert "pptxgenjs" in sessions[named].system_prompt  # told by the image's own label
    assert "image:" not in sessions["full"].describe()  # built from this recipe


def test_an_image_from_another_recipe_is_said_with_how_to_rebuild_it(client, slim, tmp_path):
    stale = f"conjure-test-stale:{secrets.token_hex(4)}"
    dockerfile = f"FROM {slim}\nLABEL {RECIPE_LABEL}=000000000000\n"
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=stale, rm=True)
    try:
        described = open_session(tmp_path, image=stale).describe()
    finally:
        client.images.remove(stale)
    assert (
        f"  image: built from another recipe (000000000000) than this version's "
        f"({recipe_hash()}); rebuild it with "
        f"`python -m conjure_kernel docker build --image slim --tag {stale}`\n"
    ) in described


def test_a_missing_sandbox_image_names_the_command_that_builds_it(client):
    missing = f"conjure-missing-{secrets.token_hex(4)}:slim"
    with pytest.raises(BackendUnavailable) as caught:
        docker_engine.require_image(client, missing, variant="slim")
    assert str(caught.value) == f"the sandbox image {missing} is not on the local Docker engine"
    assert caught.value.hint.startswith(
        "build it with `python -m conjure_kernel docker build --image slim` "
    )
    assert "\n" not in caught.value.hint


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"cpus": "1e9"}, r"cpus=1e\+09: more than the \d+ CPUs of the local Docker engine"),
        (
            {"memory": "100000g"},
            r"memory=100000g: more than the [\d.]+g of memory of the local Docker engine",
        ),
    ],
)
def test_limits_beyond_the_engine_are_refused_when_the_backend_is_chosen(
    client, slim, tmp_path, given, said
):
    cpus, memory = docker_engine.engine_room(client)
    with pytest.raises(BackendSettingError) as caught:
        open_session(tmp_path, image="slim", **given)
    assert re.fullmatch(said, str(caught.value)), str(caught.value)
    assert caught.value.hint in (
        f"choose at most cpus={cpus}",
        f"choose at most memory={memory >> 20}m",
    )
    within = open_session(tmp_path, image="slim", cpus=str(cpus), memory=f"{memory >> 20}m")
    assert f"cpus={cpus:g}" in within.describe()
