"""The sandbox image, built offline for real: what runs inside it, and how its recipe is tracked.

Containers run as the backend will run them: uid 1000, no network, a read-only root
filesystem with a tmpfs /tmp. Nothing here mocks the engine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker_support import engine, sandbox_image

from conjure_kernel.backends.docker.images import IMAGE_DIR, RECIPE_LABEL, recipe_hash

IMPORTS = "import pandas, openpyxl, docx, pptx, pypdf, matplotlib"


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    client = engine()
    yield client
    client.close()


@pytest.fixture(scope="module")
def image(client: docker.DockerClient) -> str:
    return sandbox_image(client)


def sandboxed(client: docker.DockerClient, image: str, script: str) -> str:
    """Run ``script`` under bash in a locked-down container and return its output."""
    output = client.containers.run(
        image,
        ["bash", "--noprofile", "--norc", "-c", script],
        user="1000:1000",
        network_mode="none",
        read_only=True,
        tmpfs={"/tmp": "rw,exec,size=64m"},
        environment={"MPLCONFIGDIR": "/tmp/mpl"},  # the home folder is read-only here
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


def test_the_document_libraries_import_offline_as_the_agent(client, image):
    assert sandboxed(client, image, f"python3 -c '{IMPORTS}; print(\"ok\")'") == "ok\n"


def test_the_libraries_write_their_formats(client, image):
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
    assert sandboxed(client, image, f"python3 -c '{script}'") == "1 agg\n"


def test_the_user_is_agent_in_the_workspace(client, image):
    lines = sandboxed(client, image, "id -un; id -u; pwd; stat -c %U /workspace; echo $HOME")
    assert lines.split() == ["agent", "1000", "/workspace", "agent", "/home/agent"]


def test_the_image_carries_the_recipe_hash(client, image):
    assert client.images.get(image).labels[RECIPE_LABEL] == recipe_hash()


def test_the_recipe_hash_is_stable_and_follows_the_recipe(tmp_path: Path):
    copy = tmp_path / "image"
    shutil.copytree(IMAGE_DIR, copy)
    assert re.fullmatch(r"[0-9a-f]{12}", recipe_hash())
    assert recipe_hash(copy) == recipe_hash() == recipe_hash()
    script = copy / "build-offline.sh"
    script.write_text(script.read_text() + "\n# changed\n")
    changed = recipe_hash(copy)
    assert changed != recipe_hash()
    (copy / "Dockerfile").write_text((copy / "Dockerfile").read_text() + "\n")
    assert recipe_hash(copy) not in (changed, recipe_hash())


def test_the_shell_script_hashes_the_recipe_as_python_does():
    """The offline script labels the image itself when it is run without a hash."""
    files = [IMAGE_DIR / "Dockerfile", IMAGE_DIR / "build-offline.sh"]
    done = subprocess.run(
        ["bash", "-c", 'cat "$@" | sha256sum | cut -c1-12', "hash", *map(str, files)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == recipe_hash()


def package_list(text: str, name: str) -> list[str]:
    """The words of ``NAME="..."`` (an ARG in the Dockerfile, a variable in the script)."""
    found = re.search(rf'{name}="([^"]*)"', text)
    assert found, f"{name} not found"
    return sorted(found.group(1).replace("\\\n", " ").split())


@pytest.mark.parametrize("name", ["DEBIAN_PACKAGES", "PIP_PACKAGES"])
def test_both_recipes_install_the_same_packages(name):
    dockerfile = (IMAGE_DIR / "Dockerfile").read_text()
    script = (IMAGE_DIR / "build-offline.sh").read_text()
    assert package_list(dockerfile, name) == package_list(script, name)


def test_an_unknown_docker_action_prints_the_usage_and_exits_2():
    done = cli("docker", "frobnicate")
    assert done.returncode == 2
    assert done.stderr.startswith("usage: python -m conjure_kernel docker")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("offline", [False, True])
def test_an_unreachable_engine_is_one_line_naming_it(offline):
    host = "tcp://127.0.0.1:9"
    done = cli("docker", "build", "--host", host, *(["--offline"] if offline else []))
    assert done.returncode == 1
    error, hint = done.stderr.splitlines()
    assert error.startswith(f"error: the Docker engine at {host} is not reachable")
    assert hint.startswith("hint: ")
