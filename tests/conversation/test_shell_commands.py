"""What a bash command really runs, and what the permission rules decide about it.

Each row is one command and the decision expected under three sessions: ``ask`` with
allow rules on ``git status*``, ``ls*`` and ``cat*``; ``read-only`` with its built-in
commands; ``auto`` with the deny rule ``rm:*``. ``run`` runs, ``ask`` asks the person
(denied headless), ``deny`` is refused. The commands cover the tricks of issue 16:
comments and ``$'…'`` strings that hide a second command, every quoting form, line
continuations, heredocs, subshells, substitutions, wrappers, ``find -delete``,
configuration that runs programs, ``eval``, ``bash -c``, variables in command position
and functions. ``test_bash_runs_only_what_the_parser_reports`` checks the parser
against bash itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess

import pytest

from conjure_kernel.conversation.permissions import Permissions, decide
from conjure_kernel.conversation.places import Places
from conjure_kernel.conversation.shell_commands.parse import parse_command
from conjure_kernel.tools.values import ToolCall

ALLOW = ["bash_tool(git status*)", "bash_tool(ls*)", "bash_tool(cat*)"]
DENY = ["bash_tool(rm:*)"]

TABLE = [
    # command, ask with allow rules, read-only, auto with deny rm:*
    ("ls -la", "run", "run", "run"),
    ("ls", "run", "run", "run"),
    ("cat README.md", "run", "run", "run"),
    ("grep -rn foo .", "ask", "run", "run"),
    ("git status", "run", "deny", "run"),
    ("git status --short", "run", "deny", "run"),
    ("pwd", "ask", "run", "run"),
    ("ls | grep py", "ask", "run", "run"),
    ("cat a.txt | wc -l", "ask", "run", "run"),
    ("ls && cat x", "run", "run", "run"),
    ("git status #'\ntouch PWNED #'", "ask", "deny", "run"),
    ("ls #'\ntouch X #'", "ask", "deny", "run"),
    ("git status $'\\'' ; touch PWNED #'", "ask", "deny", "run"),
    ("ls $'\\'' ; touch X #'", "ask", "deny", "run"),
    ('ls $"x" ; touch X', "ask", "deny", "run"),
    ("cat \"a;b\" 'c|d'", "run", "run", "run"),
    ('cat "$(touch X)"', "ask", "deny", "run"),
    ("cat `touch X`", "ask", "deny", "run"),
    ("cat $(ls)", "run", "ask", "run"),  # read-only: files known only when it runs
    ("ls; touch X", "ask", "deny", "run"),
    ("ls || touch X", "ask", "deny", "run"),
    ("ls & touch X", "ask", "deny", "run"),
    ("ls\\\ntouch X", "run", "deny", "run"),
    ("l\\\ns -la", "run", "run", "run"),
    ("r\\\nm -f victim", "ask", "deny", "deny"),
    ("rm -f victim", "ask", "deny", "deny"),
    ("/bin/rm -f victim", "ask", "deny", "deny"),
    ("/usr/bin/rm victim", "ask", "deny", "deny"),
    ("command rm victim", "ask", "deny", "deny"),
    ("builtin command rm victim", "ask", "deny", "deny"),
    ("\\rm victim", "ask", "deny", "deny"),
    ("'rm' victim", "ask", "deny", "deny"),
    ('"r"m victim', "ask", "deny", "deny"),
    ("$'rm' victim", "ask", "deny", "deny"),
    ("$'\\x72m' victim", "ask", "deny", "deny"),
    ("exec rm victim", "ask", "deny", "deny"),
    ("env rm victim", "ask", "deny", "deny"),
    ("env -i X=1 rm victim", "ask", "deny", "deny"),
    ("nice -n 5 rm victim", "ask", "deny", "deny"),
    ("nohup rm victim", "ask", "deny", "deny"),
    ("timeout 10 rm victim", "ask", "deny", "deny"),
    ("timeout -s KILL 5 rm victim", "ask", "deny", "deny"),
    ("stdbuf -o0 rm victim", "ask", "deny", "deny"),
    ("sudo rm victim", "ask", "deny", "deny"),
    ("sudo -u root rm victim", "ask", "deny", "deny"),
    ("ls | xargs rm", "ask", "deny", "deny"),
    ("find . -name '*.tmp' -delete", "ask", "deny", "deny"),
    ("find . 2>/dev/null -delete", "ask", "deny", "deny"),
    ("find . -exec rm {} \\;", "ask", "deny", "deny"),
    ("find . -execdir rm {} +", "ask", "deny", "deny"),
    ("find . -ok rm {} \\;", "ask", "deny", "deny"),
    ("find . -name '*.py'", "ask", "run", "run"),
    ("find . -name '*.py' -exec cat {} \\;", "ask", "run", "run"),
    ("find . -fprint out.txt", "ask", "deny", "run"),
    ("find . -exec sh -c 'rm {}' \\;", "ask", "deny", "deny"),
    ("(rm victim)", "ask", "deny", "deny"),
    ("{ rm victim; }", "ask", "deny", "deny"),
    ("ls <(rm victim)", "ask", "deny", "deny"),
    ("cat >(rm victim)", "ask", "deny", "deny"),
    ("cat <<EOF\n$(rm victim)\nEOF", "ask", "deny", "deny"),
    ("cat <<EOF\n`rm victim`\nEOF", "ask", "deny", "ask"),
    ("cat <<'EOF'\n$(rm victim)\nEOF", "run", "run", "run"),
    ("if true; then rm victim; fi", "ask", "deny", "deny"),
    ('for f in *; do rm "$f"; done', "ask", "deny", "deny"),
    ("while false; do rm victim; done", "ask", "deny", "deny"),
    ("case x in x) rm victim;; esac", "ask", "deny", "deny"),
    ("f() { rm victim; }; f", "ask", "deny", "deny"),
    ("ls() { rm victim; }; ls", "ask", "deny", "deny"),
    ('eval "rm victim"', "ask", "deny", "deny"),
    ('eval "$X"', "ask", "deny", "ask"),
    ('bash -c "rm victim"', "ask", "deny", "deny"),
    ("bash -c 'ls -la'", "run", "run", "run"),
    ('sh -c "$X"', "ask", "deny", "ask"),
    ("bash -lc 'ls'", "ask", "deny", "ask"),
    ("$X victim", "ask", "deny", "ask"),
    ("${X} victim", "ask", "deny", "ask"),
    ("$(echo rm) victim", "ask", "deny", "ask"),
    ("`echo rm` victim", "ask", "deny", "ask"),
    ("r* victim", "ask", "deny", "ask"),
    ("X=1 rm victim", "ask", "deny", "deny"),
    ("X=1 ls", "ask", "deny", "run"),
    ("PATH=/tmp ls", "ask", "deny", "run"),
    ("LD_PRELOAD=/tmp/x.so ls", "ask", "deny", "run"),
    ("export PATH=/tmp; ls", "ask", "deny", "ask"),
    ("echo $((1+2))", "ask", "run", "run"),
    ("x='a[$(rm victim)]'; echo $((x))", "ask", "deny", "ask"),
    ("git -c core.fsmonitor='touch X' status", "ask", "deny", "ask"),
    ("git --config-env=core.pager=X status", "ask", "deny", "ask"),
    ("GIT_CONFIG_PARAMETERS=\"'core.fsmonitor'='touch X'\" git status", "ask", "deny", "run"),
    ("ls > out.txt", "ask", "deny", "run"),
    ("ls >> out.txt", "ask", "deny", "run"),
    ("ls &> out.txt", "ask", "deny", "run"),
    ("ls 2>/dev/null", "run", "run", "run"),
    ("ls > /dev/null 2>&1", "run", "run", "run"),
    ("cat < in.txt", "run", "run", "run"),
    ("sort -o out.txt in.txt", "ask", "deny", "run"),
    ("sort in.txt | uniq -c", "ask", "run", "run"),
    ("sort --output=out.txt in.txt", "ask", "deny", "run"),
    ("uniq in.txt out.txt", "ask", "deny", "run"),
    ("sed -i s/a/b/ x", "ask", "deny", "run"),
    ("sed -n 1p x", "ask", "deny", "run"),
    ("awk 'BEGIN{system(\"touch X\")}'", "ask", "deny", "run"),
    ("tee out.txt", "ask", "deny", "run"),
    ("ls | tee out.txt", "ask", "deny", "run"),
    ("less README.md", "ask", "deny", "run"),
    ("source ./x.sh", "ask", "deny", "ask"),
    (". ./x.sh", "ask", "deny", "ask"),
    ("alias ls='rm victim'", "ask", "deny", "deny"),
    ("trap 'rm victim' EXIT", "ask", "deny", "deny"),
    ("find . -name x | xargs grep foo", "ask", "ask", "run"),  # xargs: files from input
    ("echo hi", "ask", "run", "run"),
    ("cd src && ls", "ask", "run", "run"),
    ("ls -R | head", "ask", "run", "run"),
    ("diff a b", "ask", "run", "run"),
    ("true | cat", "ask", "run", "run"),
    ("echo 'rm victim'", "ask", "run", "run"),
    ("grep rm notes.txt", "ask", "run", "run"),
    # heredocs that bash ends elsewhere than the grammar, or whose body it does not show
    ("cat <<-EOF\n\t$(rm victim)\n\tEOF", "ask", "deny", "ask"),
    ("cat <<- EOF\n\t\t$(touch X)\n\t\tEOF", "ask", "deny", "ask"),
    ("cat <<E'O'F\nx\nEOF\ntouch X\nE'O'F", "ask", "deny", "ask"),
    ("cat <<$'EOF'\nx\nEOF\ntouch X\n$'EOF'", "ask", "deny", "ask"),
    ('cat <<$"EOF"\nx\nEOF\ntouch X\n$"EOF"', "ask", "deny", "ask"),
    ("cat <<E$'O'F\nx\nEOF\nrm victim\nE$'O'F", "ask", "deny", "ask"),
    ("cat <<'EOF'\nA\\\nEOF\nrm victim\nEOF", "ask", "deny", "deny"),
    ("cat <<-EOF\n\thello\n\tEOF", "run", "run", "run"),
    # commands substituted inside ${…}, indirection and transforms
    ("echo ${x:-`touch X`}", "ask", "deny", "ask"),
    ('echo "${x:-`rm victim`}"', "ask", "deny", "ask"),
    ("echo ${x=`touch X`}", "ask", "deny", "ask"),
    ("echo ${x:?`touch X`}", "ask", "deny", "ask"),
    ("x='a[$(rm victim)]'; echo ${!x}", "ask", "deny", "ask"),
    ("x='a[$(touch X)]'; echo ${!x-}", "ask", "deny", "ask"),
    ("x='a[$(touch X)]'; echo ${!x:-y}", "ask", "deny", "ask"),
    ("x='a[$(touch X)]'; echo ${!x@Q}", "ask", "deny", "ask"),
    ("x='a[$(touch X)]'; echo ${y:-${!x}}", "ask", "deny", "ask"),
    ("x='a[$(touch X)]'; cat <<EOF\n${!x}\nEOF", "ask", "deny", "ask"),
    ("x='$(touch X)'; echo ${x@P}", "ask", "deny", "ask"),
    ("x='$(touch X)'; echo ${x@E}", "ask", "deny", "ask"),
    ("echo ${x:-default} ${#x} ${x%.txt} ${arr[@]} ${!arr[@]}", "ask", "run", "run"),
    # arithmetic on quoted values: bash removes the quotes and evaluates a[$(…)]
    ("echo $(( 'a[$(touch X)]' ))", "ask", "deny", "ask"),
    ("echo $[ 'a[$(touch X)]' ]", "ask", "deny", "ask"),
    ("(( 'a[$(touch X)]' )); echo", "ask", "deny", "ask"),
    ("[[ 'a[$(touch X)]' -lt 1 ]]; echo", "ask", "deny", "ask"),
    ("[[ 1 -eq 'a[$(rm victim)]' ]]", "ask", "deny", "ask"),
    ("[[ -v 'a[$(touch X)]' ]]", "ask", "deny", "ask"),
    ("x='a[$(rm victim)]'; [[ -v $x ]]", "ask", "deny", "ask"),
    ("echo ${a['$(touch X)']}", "ask", "deny", "ask"),
    ("echo \"${a['$(rm victim)']}\"", "ask", "deny", "ask"),
    ("echo ${x[ $'\\x24(touch X)' ]}", "ask", "deny", "ask"),
    ("case 1 in $(( 'a[$(touch X)]' ))) ;; esac; echo", "ask", "deny", "ask"),
    ("echo $((2 * 3)) $((16#ff))", "ask", "run", "run"),
    ('[ "$n" -gt 0 ] && ls', "run", "run", "run"),  # `[` compares numbers, evaluates nothing
    # declarations read after quote removal; name references
    ("declare 'a[$(touch X)]=1'; echo", "ask", "deny", "ask"),
    ('typeset "a[\\$(rm victim)]=1"', "ask", "deny", "ask"),
    ("readonly 'a[$(touch X)]=1'", "ask", "deny", "ask"),
    ("declare -n p='a[$(rm victim)]'; p=1", "ask", "deny", "ask"),
    ("declare -n p=PATH; p=.; ls", "ask", "deny", "ask"),
    ("declare x=1 -n y=PATH; y=.; ls", "ask", "deny", "ask"),
    ("declare 'PATH=.'; ls", "ask", "deny", "ask"),
    ("builtin declare -n p=PATH; p=.; ls", "ask", "deny", "ask"),
    ("declare -a files=(a b); ls", "run", "run", "run"),
    # builtins that set or look up a variable by name
    ("printf -v 'a[$(rm victim)]' x", "ask", "deny", "ask"),
    ('printf -v "a[\\$(touch X)]" x', "ask", "deny", "ask"),
    ("read 'a[$(rm victim)]' <<< x", "ask", "deny", "ask"),
    ("test -v 'a[$(rm victim)]'", "ask", "deny", "ask"),
    ("[ -v 'a[$(touch X)]' ]", "ask", "deny", "ask"),
    ("getopts a 'a[$(touch X)]'", "ask", "deny", "ask"),
    ("unset 'a[$(touch X)]'", "ask", "deny", "ask"),
    ("printf -v PATH %s .; ls", "ask", "deny", "ask"),
    ("read PATH <<< .; ls", "ask", "deny", "ask"),
    # a shell started with a variable that changes what it runs
    ("BASH_ENV=/dev/stdin bash -c ls <<< 'touch X'", "ask", "deny", "ask"),
    ("env BASH_ENV=/dev/stdin bash -c ls <<< 'rm victim'", "ask", "deny", "ask"),
    ("PATH=.:$PATH bash -c ls", "ask", "deny", "ask"),
    ("SHELLOPTS=xtrace PS4='$(touch X)' bash -c ls", "ask", "deny", "ask"),
    ("BASH_ENV=/dev/stdin timeout 5 bash -c ls <<< 'touch X'", "ask", "deny", "ask"),
    ("LC_ALL=C bash -c 'ls'", "run", "run", "run"),
    # a shell reading its program from input or a file
    ("echo 'rm victim' | sh", "ask", "deny", "ask"),
    ("sh <<EOF\nrm victim\nEOF", "ask", "deny", "ask"),
    ("bash -s <<< 'rm victim'", "ask", "deny", "ask"),
    ("bash < x", "ask", "deny", "ask"),
    ("sh /dev/stdin <<< 'rm victim'", "ask", "deny", "ask"),
    ("bash <(echo rm victim)", "ask", "deny", "ask"),
    ("timeout 5 bash <<< 'rm victim'", "ask", "deny", "ask"),
    ("sh -c -- 'rm victim'", "ask", "deny", "deny"),
    # $'…' strings end at a NUL; a code point past Unicode is unreadable, not a crash
    ("rm$'\\0' victim", "ask", "deny", "deny"),
    ("rm$'\\x00garbage' victim", "ask", "deny", "deny"),
    ("rm$'\\c@' victim", "ask", "deny", "deny"),
    ("env rm$'\\0' victim", "ask", "deny", "deny"),
    ("rm$'\\UFFFFFFFF' victim", "ask", "deny", "ask"),
    # more wrappers
    ("chrt -o 0 rm victim", "ask", "deny", "deny"),
    ("taskset 1 rm victim", "ask", "deny", "deny"),
    ("taskset -c 0 rm victim", "ask", "deny", "deny"),
    ("prlimit --nofile=1024 rm victim", "ask", "deny", "deny"),
    ("unshare -r rm victim", "ask", "deny", "deny"),
    ("runuser -u root -- rm victim", "ask", "deny", "deny"),
    ("su -c 'rm victim'", "ask", "deny", "deny"),
    ("su root -c 'rm victim'", "ask", "deny", "deny"),
    ("script -qc 'rm victim' /dev/null", "ask", "deny", "deny"),
    ("watch -n1 -g rm victim", "ask", "deny", "deny"),
    ("setsid rm victim", "ask", "deny", "deny"),
    ("stdbuf --output L rm victim", "ask", "deny", "deny"),
    ("ionice --class 3 rm victim", "ask", "deny", "deny"),
    ("xargs --max-args 1 rm <<< victim", "ask", "deny", "deny"),
    ("xargs --max-procs 2 --delimiter x rm <<< victim", "ask", "deny", "deny"),
    ("flock lockf rm victim", "ask", "deny", "deny"),
    ("flock -n lockf -c 'rm victim'", "ask", "deny", "deny"),
    ("eval -- 'rm victim'", "ask", "deny", "deny"),
    ("timeout --sig KILL 5 rm victim", "ask", "deny", "deny"),
    ("pkexec rm victim", "ask", "deny", "deny"),
    ("busybox rm victim", "ask", "deny", "deny"),
    ("command -p rm victim", "ask", "deny", "deny"),
    ("exec -a name rm victim", "ask", "deny", "deny"),
    ("sudo -s", "ask", "deny", "ask"),
    ("timeout --signal=KILL 5 ls", "run", "run", "run"),
]
PLAIN = ["ls -la", "cat README.md", "grep -rn foo .", "git status", "git status --short"]
"""Plain commands: no false question under a rule that names them, nor in read-only."""


def decision(command: str, mode: str, places: Places, allow=(), deny=()) -> str:
    permissions = Permissions.parse(mode, allow, deny)
    the_call = ToolCall("t", "bash_tool", {"command": command})
    verdict = decide(the_call, mode, permissions, places, "local")  # type: ignore[arg-type]
    return {True: "run", False: "deny", None: "ask"}[verdict.allowed]


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> Places:
    return Places.of({"workdir": str(tmp_path_factory.mktemp("work"))})


def test_the_table_covers_at_least_80_commands():
    assert len(TABLE) >= 80 and len({row[0] for row in TABLE}) == len(TABLE)


@pytest.mark.parametrize(("command", "ask", "read_only", "deny"), TABLE)
def test_each_command_gets_the_expected_decision_in_each_session(
    command, ask, read_only, deny, places
):
    assert decision(command, "ask", places, allow=ALLOW) == ask
    assert decision(command, "read-only", places) == read_only
    assert decision(command, "auto", places, deny=DENY) == deny


def test_plain_commands_raise_no_false_question(places):
    rules = [*ALLOW, "bash_tool(grep:*)"]
    assert [c for c in PLAIN if decision(c, "ask", places, allow=rules) != "run"] == []
    assert [c for c in PLAIN[:3] if decision(c, "read-only", places) != "run"] == []


@pytest.mark.parametrize(
    ("command", "programs"),
    [
        ("\\rm a; 'rm' b; \"r\"m c; $'\\x72m' d", ["rm a", "rm b", "rm c", "rm d"]),
        ("/bin/rm -f x", ["rm -f x"]),
        ("env -i A=1 nice -n 5 timeout -k 1 10 nohup stdbuf -o0 rm x", ["rm x"]),
        ("sudo -u root rm x", ["sudo -u root rm x", "rm x"]),
        ("find . 2>/dev/null -name '*.o' -delete", ["find . -name *.o -delete", "rm"]),
        ("find . -exec grep -l x {} +", ["find . -exec grep -l x {} +", "grep -l x {}"]),
        ("ls | xargs -n 1 rm -f", ["ls", "rm -f"]),
        ("bash -c 'ls; cat x'", ["ls", "cat x"]),
        ("a\\\nb c", ["ab c"]),  # a line continuation joins words
        ('echo "$(date)" `id` <(rm p)', ["echo $(date) `id` <(rm p)", "date", "id", "rm p"]),
        ("cat <<EOF | sh\n$(rm h)\nEOF", ["cat", "rm h", "sh"]),
        ("rm$'\\0' a; rm$'\\c@x' b; rm$'\\x00' c", ["rm a", "rm b", "rm c"]),
        ("echo $'a\\c' $'\\U}' $'\\x'", ["echo a\\c \\U} \\x"]),  # kept as bash keeps them
        ("chrt -o 0 taskset -c 0 prlimit --nofile=9 ionice --class 3 rm x", ["rm x"]),
        ("stdbuf --output L timeout --sig KILL 5 setsid unshare -r rm x", ["rm x"]),
        ("xargs --max-args 1 --delimiter , rm", ["rm"]),
        ("flock lockf rm x", ["flock lockf rm x", "rm x"]),
        ("flock -w 5 lockf -c 'rm x; ls'", ["flock -w 5 lockf -c rm x; ls", "rm x", "ls"]),
        ("su root -c 'rm x'", ["su root -c rm x", "rm x"]),
        ("runuser -u root -- rm x", ["runuser -u root -- rm x", "rm x"]),
        ("script -qc 'rm x' /dev/null", ["script -qc rm x /dev/null", "rm x"]),
        ("watch -n 1 rm x", ["rm x"]),
        ("sh -c -- 'rm x'; eval -- rm y", ["rm x", "rm y"]),
    ],
)
def test_the_parser_reports_each_program_as_it_runs(command, programs):
    assert sorted(" ".join(c.words) for c in parse_command(command).commands) == sorted(programs)


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("cat <<-EOF\n\t$(rm x)\n\tEOF", "a heredoc substitutes commands"),
        ("cat <<E'O'F\nx\nEOF\nrm x\nE'O'F", "a heredoc the grammar may end elsewhere"),
        ("echo ${x:-`rm x`}", "a parameter expansion substitutes commands"),
        ("echo ${!x}", "an indirect expansion"),
        ("echo ${x@P}", "a prompt or escape transform"),
        ("echo $(( 'a[$(rm x)]' ))", "arithmetic on a quoted or substituted value"),
        ("echo ${a['k']}", "arithmetic on a quoted or substituted value"),
        ("[[ -v 'a[1]' ]]", "names an array element"),
        ("declare -n p=PATH", "`declare -n` makes a name stand for another"),
        ("declare 'a[1]=1'", "an array subscript is arithmetic"),
        ("typeset 'PATH=.'", "`typeset` sets PATH"),
        ("printf -v 'a[1]' x", "`printf` names an array element"),
        ("read PATH", "`read` sets PATH"),
        ("BASH_ENV=/dev/stdin bash -c ls", "`bash` starts with BASH_ENV set"),
        ("echo ls | sh", "`sh` runs a script the rules cannot read"),
        ("sh x.sh", "`sh` runs a script the rules cannot read"),
        ("su", "`su` starts a shell that reads commands from input"),
        ("unshare -r", "`unshare` starts a shell"),
        ("rm$'\\UFFFFFFFF' x", "a character beyond Unicode"),
    ],
)
def test_what_the_rules_cannot_follow_is_opaque_with_its_reason(command, why):
    assert any(why in reason for reason in parse_command(command).opaque)


@pytest.mark.parametrize(
    "command",
    [
        "cat <<-EOF\n\thello $HOME\n\tEOF",
        "cat <<'EOF'\n$(x) `y`\nEOF",
        "echo ${x:-$(ls)} ${#x} ${arr[@]} ${!arr[*]} ${!pre*} $((1 + 0x1f * 2#10))",
        '[ "$n" -gt 0 ]',
        "declare -a files=(a b); local n=1; export LANG=C",
        "read -r line; printf -v out %s x; getopts ab opt; test -v name",
        "LC_ALL=C bash -c ls; bash --version; timeout --signal=KILL 5 ls",
    ],
)
def test_plain_shell_stays_visible(command):
    assert parse_command(command).opaque == ()


def test_script_writes_its_typescript():
    assert parse_command("script -qc ls out.log").writes == ("out.log",)
    assert parse_command("script -c ls").writes == ("typescript",)
    assert parse_command("script -qc ls /dev/null").writes == ()


def test_assignments_that_change_what_runs_stay_in_what_rules_match():
    (piece,) = parse_command("LC_ALL=C LD_PRELOAD=/x.so ls").commands
    assert piece.text == "LD_PRELOAD=/x.so ls"
    assert parse_command("ls > out 2>/dev/null").writes == ("out",)


# -- against bash itself ----------------------------------------------------------------------

SHIMMED = ["rm", "touch", "ls", "cat", "grep", "find", "xargs", "env", "nice", "nohup", "timeout"]
SHIMMED += ["stdbuf", "sort", "head", "wc", "echo", "sh", "bash", "id", "date", "true"]


def run_bounded(argv: list[str], cwd, env: dict[str, str]) -> None:
    """Run for at most 3 s; a command that waits on a pipe is killed with all it started."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def shims(tmp_path):
    """A PATH of shims that log their name and run the real program: what bash ran."""
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "ran.log"
    for name in SHIMMED:
        real = shutil.which(name)
        if real is None:
            continue
        shim = folder / name
        shim.write_text(f'#!/bin/sh\necho {name} >> "{log}"\nexec {real} "$@"\n')
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return folder, log


@pytest.mark.parametrize("command", [row[0] for row in TABLE if row[0] != "tee out.txt"])
def test_bash_runs_only_what_the_parser_reports(command, shims, tmp_path):
    folder, log = shims
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    for name in ("victim", "README.md", "a.txt", "in.txt", "x", "a", "b", "x.tmp"):
        (work / name).write_text("a\n")
    env = {"PATH": str(folder), "HOME": str(tmp_path), "X": "rm"}
    run_bounded([shutil.which("bash") or "bash", "-c", command], work, env)
    ran = set(log.read_text().split()) if log.exists() else set()
    line = parse_command(command)
    programs = [[word for word in w.split() if "=" not in word][:1] for w in line.written]
    seen = {c.words[0] for c in line.commands} | {name for first in programs for name in first}
    seen = {os.path.basename(name) for name in seen}
    assert line.opaque or ran <= seen, f"bash ran {ran - seen} unseen in {command!r}"
