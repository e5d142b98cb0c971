from pathlib import Path

from conjure_kernel.skills.discovery import find_skills
from conjure_kernel.skills.prompt import (
    PREAMBLE,
    SKILLS_INSTRUCTION,
    render_available_skills,
    render_system_prompt,
)
from conjure_kernel.skills.skill import Skill, SkillMetadata

PDF = Skill(
    SkillMetadata("pdf-processing", "Extract PDF text, fill forms, merge files."),
    source=Path("/abs/path/pdf-processing"),
)
DATA = Skill(
    SkillMetadata("data-analysis", "Analyze datasets."), source=Path("/abs/path/data-analysis")
)


def in_container(skill: Skill) -> str:
    return f"/mnt/skills/{skill.root.name}/SKILL.md"


def test_no_skills_render_as_an_empty_string():
    assert render_available_skills([]) == ""


def test_each_skill_is_one_line_between_the_catalog_tags():
    assert render_available_skills([PDF, DATA]) == (
        "<available_skills>\n"
        "<skill><name>pdf-processing</name>"
        "<description>Extract PDF text, fill forms, merge files.</description>"
        "<location>/abs/path/pdf-processing/SKILL.md</location></skill>\n"
        "<skill><name>data-analysis</name><description>Analyze datasets.</description>"
        "<location>/abs/path/data-analysis/SKILL.md</location></skill>\n"
        "</available_skills>"
    )


def test_values_are_xml_escaped_but_quotes_are_kept():
    skill = Skill(
        SkillMetadata("q-and-a", "Use for <Q&A> \"quotes\" and 'apostrophes'."),
        source=Path("/skills/a&b"),
    )
    line = render_available_skills([skill]).splitlines()[1]
    assert (
        "<description>Use for &lt;Q&amp;A&gt; \"quotes\" and 'apostrophes'.</description>" in line
    )
    assert "<location>/skills/a&amp;b/SKILL.md</location>" in line


def test_the_location_callable_maps_host_paths_to_where_the_tools_run():
    assert "<location>/mnt/skills/pdf-processing/SKILL.md</location>" in render_available_skills(
        [PDF], in_container
    )


def test_the_system_prompt_without_skills_has_no_skill_instruction_or_catalog():
    prompt = render_system_prompt([], in_container, "Tools run in a Docker container.")
    assert prompt == f"{PREAMBLE} Tools run in a Docker container."
    assert "skill" not in prompt.lower()


def test_the_system_prompt_with_skills_ends_with_the_instruction_and_the_catalog():
    prompt = render_system_prompt([PDF], in_container, "Tools run in a Docker container.")
    assert prompt == "\n\n".join(
        [
            f"{PREAMBLE} Tools run in a Docker container.",
            SKILLS_INSTRUCTION,
            render_available_skills([PDF], in_container),
        ]
    )
    assert (
        "When a task matches a skill's description, read its SKILL.md with the view tool at the "
        "given location before doing anything else; resolve relative paths in it against the "
        "skill's folder." in prompt
    )


def test_the_preamble_says_where_the_model_works_and_that_it_has_tools():
    assert "Jupyter notebook" in PREAMBLE
    assert "tools" in PREAMBLE


def test_an_empty_environment_sentence_leaves_no_stray_space():
    assert render_system_prompt([], in_container, "  ") == PREAMBLE


def test_the_system_prompt_is_byte_identical_for_each_fresh_load_for_prompt_caching(tmp_path):
    for name in ["zeta", "alpha", "mid"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "SKILL.md").write_text(f"---\nname: {name}\ndescription: d\n---\n")

    def render() -> str:
        return render_system_prompt(find_skills([tmp_path]).skills, in_container, "Local.")

    first = render()
    assert render() == first
    assert first.index("alpha") < first.index("mid") < first.index("zeta")


def test_a_loaded_skill_adds_a_bounded_row_however_large_its_frontmatter(tmp_path):
    """Every request carries the catalog, so what one SKILL.md can put there is capped."""
    folder = tmp_path / "pdf"
    folder.mkdir()
    fields = {
        "name": "pdf",
        "description": "d" * 2**20,
        "compatibility": "c" * 2**20,
        "license": "l" * 2**20,
        "allowed-tools": "Read " * 2**18,
    }
    frontmatter = "".join(f"{key}: {value}\n" for key, value in fields.items())
    (folder / "SKILL.md").write_text(f"---\n{frontmatter}extra: {'e' * 2**20}\n---\n")
    found = find_skills([tmp_path])
    catalog = render_available_skills(found.skills)
    assert len(catalog) < 1024 + 200 + len(str(folder))
    assert all(len(str(problem)) < 400 for problem in found.problems)
