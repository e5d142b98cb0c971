"""What a skill needs, read from its files: small skills written here, one per way a need
shows (imports, requires, commands, front matter), the limits on reading, and the public
corpus read through without an error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conjure_kernel.doctor import skill_requirements
from conjure_kernel.doctor.code_needs import Need
from conjure_kernel.doctor.skill_requirements import (
    SkillRequirements,
    need_label,
    read_requirements,
)
from conjure_kernel.skills.discovery import find_skills, load_skill

CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus" / "anthropic-skills"


def write_skill(
    folder: Path, body: str = "# Body\n", frontmatter: str = "", files: dict[str, str] | None = None
) -> Path:
    """A skill folder with SKILL.md and ``files`` (relative path: text)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(
        f"---\nname: {folder.name}\ndescription: Does {folder.name}.\n{frontmatter}---\n"
        + textwrap.dedent(body)
    )
    for name, text in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


def needs(found: SkillRequirements, *, optional: bool = False) -> set[tuple[str, str]]:
    return {
        (item.need.kind, item.need.name) for item in found.requirements if item.optional == optional
    }


def read(folder: Path) -> SkillRequirements:
    return read_requirements(load_skill(folder))


def test_python_imports_are_needs_by_distribution_less_stdlib_and_own_modules(tmp_path):
    folder = write_skill(
        tmp_path / "office",
        files={
            "scripts/pack.py": """
            import os, sys, json
            from pathlib import Path
            import docx
            from pptx.util import Inches
            from PIL import Image
            import yaml
            from defusedxml import minidom
            from . import sibling
            from helpers import tidy
            from ooxml.schema import check
        """,
            "scripts/helpers.py": "def tidy(): pass\n",
            "ooxml/schema.py": "def check(): pass\n",
        },
    )
    found = read(folder)
    assert needs(found) == {
        ("python", "docx"),
        ("python", "pptx"),
        ("python", "PIL"),
        ("python", "yaml"),
        ("python", "defusedxml"),
    }
    labels = {need_label(item.need) for item in found.requirements}
    assert {"python-docx (import docx)", "Pillow (import PIL)", "PyYAML (import yaml)"} <= labels
    (docx,) = [item for item in found.requirements if item.need.name == "docx"]
    assert docx.files == ("scripts/pack.py",)


def test_an_import_guarded_by_import_error_is_optional(tmp_path):
    folder = write_skill(
        tmp_path / "guarded",
        files={
            "scripts/read.py": """
            try:
                import markitdown
            except ImportError:
                markitdown = None
            try:
                import lxml
            except ValueError:
                pass
        """
        },
    )
    found = read(folder)
    assert needs(found, optional=True) == {("python", "markitdown")}
    assert needs(found) == {("python", "lxml")}


def test_programs_started_from_python_are_needs(tmp_path):
    folder = write_skill(
        tmp_path / "convert",
        files={
            "scripts/convert.py": """
            import os, shutil, subprocess as sp, sys
            from subprocess import run
            command = ["soffice", "--headless", "--convert-to", "pdf", "in.docx"]
            sp.run(command, check=True)
            run(["pdftoppm", "-png", "in.pdf", "page"])
            os.system(f"qpdf --check {sys.argv[1]}")
            shutil.which("pandoc")
            sp.check_output([sys.executable, "-m", "markitdown", "in.docx"])
            app.run("0.0.0.0")
        """
        },
    )
    assert needs(read(folder)) == {
        ("program", "soffice"),
        ("program", "pdftoppm"),
        ("program", "qpdf"),
        ("program", "pandoc"),
        ("program", "python"),
        ("python", "markitdown"),
    }


def test_node_requires_and_imports_are_packages_by_name(tmp_path):
    folder = write_skill(
        tmp_path / "slides",
        files={
            "scripts/make.js": """
            const { Document, Packer } = require("docx");
            const fs = require("fs");
            const path = require("node:path");
            const local = require("./local");
        """,
            "scripts/deck.mjs": 'import pptxgen from "pptxgenjs";\nimport "@scope/kit/styles.css";\n',
            "scripts/old.cjs": "const sharp = require('sharp/lib/index');\n",
        },
    )
    assert needs(read(folder)) == {
        ("node", "docx"),
        ("node", "pptxgenjs"),
        ("node", "@scope/kit"),
        ("node", "sharp"),
    }


def test_skill_md_commands_are_read_with_the_shell_grammar(tmp_path):
    folder = write_skill(
        tmp_path / "recalc",
        body="""
            # Recalculate

            ```bash
            python scripts/recalc.py <workbook.xlsx>
            cd <output_dir> && timeout -k 5 120 soffice --headless --convert-to xlsx book.xlsx
            ls | sort > listing.txt
            ./scripts/local.sh
            ```

            ```console
            $ pdftotext -layout report.pdf -
            Page 1 of the output, not a command
            ```

            ```python
            import openpyxl
            wb = openpyxl.load_workbook(<path>)
            ```

            ```
            unlabelled blocks are left alone: rm -rf everything
            ```
        """,
    )
    found = read(folder)
    assert needs(found) == {
        ("program", "python"),
        ("program", "soffice"),
        ("program", "pdftotext"),
        ("python", "openpyxl"),
    }
    assert {item.files for item in found.requirements} == {("SKILL.md",)}


def test_needs_only_in_reference_pages_are_optional(tmp_path):
    folder = write_skill(
        tmp_path / "docs",
        body="```bash\npython scripts/x.py\n```\n",
        files={
            "reference.md": "```bash\npandoc --track-changes=all in.docx -o out.md\npython -V\n```\n"
        },
    )
    found = read(folder)
    assert needs(found) == {("program", "python")}
    assert needs(found, optional=True) == {("program", "pandoc")}


def test_shell_scripts_installers_and_shebangs(tmp_path):
    folder = write_skill(
        tmp_path / "setup",
        files={
            "scripts/setup.sh": "#!/bin/bash\nset -e\npip install 'pypdf>=5' python-pptx\n"
            "npm install -g docx@9 @scope/tool@1\nqpdf --version\n",
            "scripts/fill": "#!/usr/bin/env python3\nimport pdfplumber\n",
            "scripts/run": "#!/bin/sh\nmagick in.png out.jpg\n",
            "requirements.txt": "# wheels\nreportlab==4.2\n-r other.txt\npdf2image\n",
            "package.json": '{"dependencies": {"docx": "9"}, "devDependencies": {"eslint": "9"}}',
        },
    )
    found = read(folder)
    assert needs(found) == {
        ("program", "pip"),
        ("program", "npm"),
        ("program", "qpdf"),
        ("program", "python3"),
        ("program", "magick"),
        ("python", "pypdf"),
        ("python", "pptx"),
        ("python", "pdfplumber"),
        ("python", "reportlab"),
        ("python", "pdf2image"),
        ("node", "docx"),
        ("node", "@scope/tool"),
    }
    assert needs(found, optional=True) == {("node", "eslint")}


def test_front_matter_compatibility_and_allowed_tools(tmp_path):
    folder = write_skill(
        tmp_path / "git-helper",
        frontmatter="compatibility: Needs git and network access\n"
        "allowed-tools: Bash(git:*) Bash(jq:*) Read WebFetch\n",
    )
    found = read(folder)
    assert found.compatibility == "Needs git and network access"
    assert needs(found) == {("program", "git"), ("program", "jq"), ("tool", "WebFetch")}
    (git,) = [item for item in found.requirements if item.need == Need("program", "git")]
    assert git.files == ("allowed-tools",)


def test_a_skill_without_code_needs_nothing(tmp_path):
    found = read(write_skill(tmp_path / "prose", body="Write kindly.\n"))
    assert found.requirements == ()
    assert found.unread == ()


def test_reading_stays_inside_the_skill(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("import leaked_module\n")
    (outside / "pkg").mkdir()
    (outside / "pkg" / "inner.py").write_text("import linked_folder_module\n")
    folder = write_skill(tmp_path / "linky", files={"scripts/main.py": "import pandas\n"})
    (folder / "scripts" / "escape.py").symlink_to(outside / "secret.py")
    (folder / "vendor").symlink_to(outside / "pkg", target_is_directory=True)
    (folder / "scripts" / "same.py").symlink_to(folder / "scripts" / "main.py")
    found = read(folder)
    assert needs(found) == {("python", "pandas")}
    assert found.unread == ("scripts/escape.py: links outside the skill",)


def test_reading_is_bounded_in_size_and_count(tmp_path, monkeypatch):
    folder = write_skill(tmp_path / "big")
    (folder / "huge.py").write_text("import toolarge\n" + "#" * skill_requirements.MAX_FILE_BYTES)
    for index in range(5):
        (folder / f"m{index}.py").write_text(f"import pkg{index}\n")
    (folder / "node_modules" / "dep").mkdir(parents=True)
    (folder / "node_modules" / "dep" / "index.js").write_text("require('hidden')\n")
    monkeypatch.setattr(skill_requirements, "MAX_FILES", 3)
    found = read(folder)
    assert needs(found) == {("python", "pkg0"), ("python", "pkg1")}  # and SKILL.md
    assert found.unread == (
        f"huge.py: larger than {skill_requirements.MAX_FILE_BYTES // 1024} KiB",
        "3 more files (at most 3 are read)",
    )


def test_python_that_does_not_parse_is_read_for_its_imports(tmp_path):
    folder = write_skill(
        tmp_path / "snippet",
        body="```python\nfrom reportlab.lib import colors\nimport numpy as np, scipy\ndoc = <your doc>\n```\n",
    )
    assert needs(read(folder)) == {
        ("python", "reportlab"),
        ("python", "numpy"),
        ("python", "scipy"),
    }


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the public skills corpus is not here")
def test_the_public_corpus_reads_through_with_the_expected_findings():
    found = {skill.name: read_requirements(skill) for skill in find_skills([CORPUS]).skills}
    assert len(found) >= 10
    assert {("program", "python"), ("python", "playwright")} <= needs(found["webapp-testing"])
    assert ("python", "PIL") in needs(found["slack-gif-creator"])
    assert needs(found["mcp-builder"]) == set()
    assert ("node", "@modelcontextprotocol/sdk") in needs(found["mcp-builder"], optional=True)
    assert ("python", "anthropic") in needs(found["claude-api"], optional=True)
    assert needs(found["brand-guidelines"]) == set()
    assert all(not result.unread for result in found.values())
