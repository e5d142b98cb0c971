"""``python -m conjure_kernel doctor`` run for real: this machine probed through a PATH the
test controls, a Docker engine that is not there, and the real engine's sandbox image
compared with what a plain ``docker run`` finds in it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import docker.errors
import pytest
from docker_support import IMAGE, engine, sandbox_image

LATEST = "conjure-sandbox:latest"


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "conjure_kernel", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env if env is not None else dict(os.environ),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def write_skill(folder: Path, body: str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(
        f"---\nname: {folder.name}\ndescription: Does {folder.name}.\n---\n" + textwrap.dedent(body)
    )
    for name, text in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def row(output: str, need: str) -> list[str]:
    """The table row of ``need``: its cells after the need and where it is used."""
    for line in output.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] == need:
            return cells[2:]
    raise AssertionError(f"no row for {need!r} in:\n{output}")


def fixes(output: str, backend: str) -> list[str]:
    return [
        line.strip()[len(backend) + 2 :]
        for line in output.splitlines()
        if line.startswith(f"  {backend}: ")
    ]


@pytest.fixture
def machine(tmp_path) -> dict[str, str]:
    """An environment whose PATH holds only sh, python (this one), and one made-up tool,
    and whose Python finds one made-up module."""
    bin_dir, modules = tmp_path / "bin", tmp_path / "modules"
    bin_dir.mkdir()
    modules.mkdir()
    (bin_dir / "sh").symlink_to("/bin/sh")
    (bin_dir / "python").symlink_to(sys.executable)
    tool = bin_dir / "conjure-made-up-tool"
    tool.write_text("#!/bin/sh\necho made up\n")
    tool.chmod(0o755)
    (modules / "conjure_made_up_module.py").write_text("")
    return {**os.environ, "PATH": str(bin_dir), "PYTHONPATH": str(modules)}


def test_local_says_what_this_machine_has_and_what_adds_the_rest(tmp_path, machine):
    skill = write_skill(
        tmp_path / "skills" / "maker",
        """
        ```bash
        python scripts/make.py
        conjure-made-up-tool --go && conjure-absent-tool
        timeout -k 5 60 pdftoppm -png in.pdf page
        ```
        """,
        {
            "scripts/make.py": """
                import conjure_made_up_module
                import conjure_absent_module
                import yaml
            """
        },
    )
    done = run(str(skill), "--backend", "local", env=machine)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"python {tmp_path / 'bin' / 'python'}, node none" in out
    assert row(out, "python") == ["yes"]
    assert row(out, "conjure-made-up-tool") == ["yes"]
    assert row(out, "conjure-absent-tool") == ["missing"]
    assert row(out, "pdftoppm") == ["missing"]
    assert row(out, "conjure_made_up_module") == ["yes"]
    assert row(out, "conjure_absent_module") == ["missing"]
    local = fixes(out, "local")
    assert "sudo apt-get install poppler-utils" in local
    assert "install by hand (no Debian package known): conjure-absent-tool" in local
    python = tmp_path / "bin" / "python"
    wanted = [line for line in local if line.startswith(f"{python} -m pip install ")]
    assert wanted and "conjure_absent_module" in wanted[0]
    assert "conjure_made_up_module" not in wanted[0]


def test_the_hosted_and_native_columns(tmp_path, machine):
    skill = write_skill(
        tmp_path / "sheets",
        "```python\nimport openpyxl\nimport conjure_made_up_module\nimport polars\n```\n"
        "```bash\nsoffice --headless --convert-to pdf a.xlsx\n```\n",
    )
    out = run(str(skill), "--backend", "anthropic", "--backend", "native", env=machine).stdout
    assert row(out, "openpyxl")[0] == "yes"  # in Anthropic's documented list
    assert row(out, "polars")[0] == "?"
    assert row(out, "soffice") == ["?", "missing"]
    assert row(out, "conjure_made_up_module")[1] == "yes"  # the kernel's own Python finds it
    assert fixes(out, "native") == [
        "runs Python methods, not a skill's commands: use local or docker for it"
    ]
    assert fixes(out, "anthropic") == [
        "not documented, so unknown until a turn tries: soffice, conjure_made_up_module, polars"
    ]


def test_names_from_a_skill_never_reach_a_shell(tmp_path, machine):
    skill = write_skill(
        tmp_path / "sly",
        "```bash\n$(touch pwned-by-skill-md) && `touch pwned-by-backticks`\n```\n",
        {
            "package.json": '{"dependencies": {"$(touch pwned-by-package)": "1", "ok-pkg": "1"}}',
            "scripts/x.js": "require('`touch pwned-by-require`');\n",
            "requirements.txt": "good_dist\n$(touch pwned-by-requirements)\n",
        },
    )
    done = run(str(skill), "--backend", "local", env=machine, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert row(done.stdout, "npm ok-pkg") == ["missing"]
    assert not list(tmp_path.rglob("pwned*"))


def test_default_skills_come_from_conjure_skills_path(tmp_path, machine):
    write_skill(tmp_path / "found" / "one", "```bash\nconjure-made-up-tool\n```\n")
    done = run(
        "--backend", "local", env={**machine, "CONJURE_SKILLS_PATH": str(tmp_path / "found")}
    )
    assert done.returncode == 0, done.stderr
    assert "\none  " in done.stdout
    assert row(done.stdout, "conjure-made-up-tool") == ["yes"]


def test_without_skills_or_with_an_unknown_backend_it_says_so_in_one_line(tmp_path, machine):
    machine.pop("CONJURE_SKILLS_PATH", None)
    none = run(env=machine)
    assert none.returncode == 1
    assert none.stderr == (
        "error: no skills to check\nhint: name skill folders, or set CONJURE_SKILLS_PATH\n"
    )
    skill = write_skill(tmp_path / "x", "text\n")
    bogus = run(str(skill), "--backend", "bogus", env=machine)
    assert bogus.returncode == 1
    assert bogus.stderr.splitlines() == [
        "error: the doctor cannot check bogus",
        "hint: choose among local, docker, anthropic, native",
    ]


def test_an_engine_that_is_not_there_is_one_line_and_the_rest_is_checked(tmp_path, machine):
    skill = write_skill(tmp_path / "boxed", "```bash\nconjure-made-up-tool\n```\n")
    socket = f"unix://{tmp_path / 'no-engine.sock'}"
    done = run(
        str(skill), "--backend", "docker", "--backend", "local", "--host", socket, env=machine
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    (docker_line,) = [line for line in done.stdout.splitlines() if line.startswith("  docker ")]
    assert ": not checked: " in docker_line
    assert row(done.stdout, "conjure-made-up-tool") == ["-", "yes"]
    assert fixes(done.stdout, "docker") == []


def probed_image(client) -> str:
    """The image to probe: the tests' sandbox image as it is (the doctor needs no current
    recipe), else the older default, else the tests' image built now."""
    for tag in (IMAGE, LATEST):
        try:
            client.images.get(tag)
        except docker.errors.ImageNotFound:
            continue
        return tag
    return sandbox_image(client)


def in_image(client, image: str, script: str) -> str:
    """What a plain container of ``image`` prints for ``script``: the test's ground truth."""
    output = client.containers.run(image, ["sh", "-c", script], network_mode="none", remove=True)
    return output.decode().strip()


def test_docker_probes_the_image_as_a_plain_container_sees_it(tmp_path):
    client = engine()
    image = probed_image(client)
    skill = write_skill(
        tmp_path / "office",
        """
        ```bash
        python3 scripts/make.py && soffice --version && conjure-absent-tool
        ```
        """,
        {
            "scripts/make.py": "import openpyxl\nimport pypdf\nimport conjure_absent_module\n",
            "scripts/deck.js": "require('docx');\n",
        },
    )
    done = run(str(skill), "--backend", "docker", "--image", image)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    has_soffice = in_image(client, image, "command -v soffice || true") != ""
    has_docx = "yes" in in_image(
        client,
        image,
        "command -v node >/dev/null && node -e 'require.resolve(\"docx\")' && echo yes || true",
    )
    versions = in_image(
        client,
        image,
        'python3 -c \'import importlib.metadata as m; print(m.version("openpyxl"), m.version("pypdf"))\'',
    ).split()
    assert f"  docker  {image} (" in out
    assert row(out, "python3") == ["yes"]
    assert row(out, "conjure-absent-tool") == ["missing"]
    assert row(out, "conjure_absent_module") == ["missing"]
    assert row(out, "openpyxl") == [versions[0]]
    assert row(out, "pypdf")[0].startswith(versions[1])
    assert row(out, "npm docx") == ["yes" if has_docx else "missing"]
    assert row(out, "soffice") == ["yes" if has_soffice else "missing"]
    docker_fixes = " ".join(fixes(out, "docker"))
    assert "no conjure image has conjure-absent-tool, conjure_absent_module" in docker_fixes
    if not has_soffice:
        assert "--image full" in docker_fixes
