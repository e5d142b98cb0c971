"""Options of a wrapper or builtin read as getopt reads them, to find where its operands start.

Split from the one shell_commands module: ``sudo -u root rm``, ``read -a NAME`` and
``su root -c x`` all need the same reading of short, long, bundled and abbreviated
options, each with its value.
"""

from __future__ import annotations

from .values import Word

__all__ = ["given_values", "permuted_options", "read_options", "skip_options"]


def skip_options(args: list[Word], with_value: set[str]) -> int:
    """Index of the first operand after options (``--`` ends them)."""
    return read_options(args, with_value)[1]


def read_options(
    args: list[Word], with_value: set[str]
) -> tuple[list[tuple[str, Word | None]], int]:
    """The options before the first operand, each with its value, and that operand's index
    (``--`` ends them). ``with_value`` holds the options that take a value: short ones
    (``n``: ``-n 5``, ``-n5``, ``-rn 5``) and long ones (``--signal``: ``--signal KILL``,
    or ``--sig KILL`` as getopt takes an abbreviation; ``--signal=KILL`` needs no entry)."""
    options: list[tuple[str, Word | None]] = []
    index = 0
    while index < len(args) and args[index].text.startswith("-") and args[index].text != "-":
        word = args[index]
        index += 1
        if word.text == "--":
            break
        taken, index = _option_word(word, args, index, with_value)
        options += taken
    return options, index


def _option_word(
    word: Word, args: list[Word], index: int, with_value: set[str]
) -> tuple[list[tuple[str, Word | None]], int]:
    """The options in one word (``-rn``, ``--lines=5``), taking the next word as a value
    where one is due; and the index after what was taken."""
    text = word.text
    if text.startswith("--"):
        name, equals, value = text.partition("=")
        if equals:
            return [(name, Word(value, word.literal))], index
        takes = name in with_value or (
            len(name) > 3 and any(o.startswith(name) for o in with_value if o[:2] == "--")
        )
        if takes and index < len(args):
            return [(name, args[index])], index + 1
        return [(name, None)], index
    taken: list[tuple[str, Word | None]] = []
    for at, char in enumerate(text[1:], 1):
        if char not in with_value:
            taken.append((char, None))
        elif text[at + 1 :]:
            return [*taken, (char, Word(text[at + 1 :], word.literal))], index
        elif index < len(args):
            return [*taken, (char, args[index])], index + 1
        else:
            return [*taken, (char, None)], index
    return taken, index


def permuted_options(
    args: list[Word], with_value: set[str]
) -> tuple[list[tuple[str, Word | None]], list[Word]]:
    """Options and operands where GNU getopt takes options anywhere (``su root -c x``)."""
    options: list[tuple[str, Word | None]] = []
    operands: list[Word] = []
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        if word.text == "--":
            operands += args[index:]
            break
        if word.text.startswith("-") and word.text != "-":
            taken, index = _option_word(word, args, index, with_value)
            options += taken
        else:
            operands.append(word)
    return options, operands


def given_values(options: list[tuple[str, Word | None]], *names: str) -> list[Word | None]:
    """The values given to any of ``names`` (None for an option without one)."""
    return [value for name, value in options if name in names]
