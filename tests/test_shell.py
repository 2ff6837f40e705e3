"""Shell analysis (``dockerslim/shell.py``, tree-sitter-bash): quote removal, comments as the
shell strips them, operators, cwd tracking, refusal of what cannot be followed, one parse per
script, and parity with the bashlex-based analysis it replaced."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dockerslim import Options, rewrite, shell
from dockerslim.shell import SimpleCommand, and_segments, commands, has_comment, remove_words, top_level_operators

from .conftest import FIXTURES

DATA = Path(__file__).parent / "data" / "bashlex_parity.json"


def _cmds(script: str, cwd: str | None = "/") -> list[SimpleCommand]:
    found = commands(script, cwd)
    assert found is not None, script
    return found


def argvs(script: str) -> list[list[str]] | None:
    cmds = commands(script)
    return None if cmds is None else [list(c.argv) for c in cmds]


# --- quote removal: argv is what the program receives; expansions stay as written ------------

@pytest.mark.parametrize("script,expected", [
    ("echo \"a b\" 'c d' e\\ f", [["echo", "a b", "c d", "e f"]]),
    ("echo x\"y\"'z'", [["echo", "xyz"]]),
    ("echo \"it's\" 'say \"hi\"'", [["echo", "it's", 'say "hi"']]),
    ('echo "a\\"b\\$c\\\\d\\e"', [["echo", 'a"b$c\\d\\e']]),  # in "…" a backslash quotes only $ ` " \
    ("echo 'a\\b'", [["echo", "a\\b"]]),
    ("echo $'a\\tb\\x41\\101\\n'", [["echo", "a\tbAA\n"]]),
    ("pip install \"x>=1\" 'y<2' --opt=\"a b\"", [["pip", "install", "x>=1", "y<2", "--opt=a b"]]),
    ("echo $HOME ${A:-b} \"$C\" \"x$C\"", [["echo", "$HOME", "${A:-b}", "$C", "x$C"]]),
    ("echo $(date) `uname` \"$(foo \"a b\")\"", [["echo", "$(date)", "`uname`", '$(foo "a b")']]),
    ("echo $((1 + 2)) ${#x} $#", [["echo", "$((1 + 2))", "${#x}", "$#"]]),
    ("echo *.c {a,b} ~/x", [["echo", "*.c", "{a,b}", "~/x"]]),
    ("export A=1 B=\"x y\" C", [["export", "A=1", "B=x y", "C"]]),
    ("unset A", [["unset", "A"]]),
    ("[ \"$a\" = b ] && [ -f x ]", [["[", "$a", "=", "b", "]"], ["[", "-f", "x", "]"]]),
    ("python -c 'import x; print(1)'", [["python", "-c", "import x; print(1)"]]),
    ("éé \"ü\" && b", [["éé", "ü"], ["b"]]),
])
def test_quote_removal(script: str, expected: list[list[str]]) -> None:
    assert argvs(script) == expected


def test_assignments_are_unquoted_and_kept_apart_from_argv() -> None:
    cmd, = _cmds('A="x y" B=$(pwd) make install')
    assert cmd.argv == ("make", "install") and cmd.assignments == ("A=x y", "B=$(pwd)")
    only, = _cmds("X=1")
    assert only.argv == () and only.assignments == ("X=1",)
    assert _cmds("A=1 B=2")[0].assignments == ("A=1", "B=2")


def test_word_spans_index_the_script_even_after_non_ascii_text() -> None:
    script = "echo é && pip install --system 'x y'"
    pip = _cmds(script)[1]
    assert [script[a:b] for a, b in pip.words] == ["pip", "install", "--system", "'x y'"]
    assert remove_words(script, [pip.words[2]]) == "echo é && pip install 'x y'"


# --- comments, exactly where the shell starts them --------------------------------------------

@pytest.mark.parametrize("script,expected,comment", [
    ("echo one # note", [["echo", "one"]], True),
    ("echo a#b # c && rm -rf /", [["echo", "a#b"]], True),  # a#b is a word; the rest is comment
    ("echo a\\#b \\#c", [["echo", "a#b", "#c"]], False),
    ("echo \"#\" '#' x=#", [["echo", "#", "#", "x=#"]], False),
    ("echo ${#x}", [["echo", "${#x}"]], False),
    ("echo a; # c\necho d", [["echo", "a"], ["echo", "d"]], True),
    ("cat <<EOF > /f\n# not a comment: heredoc text\nEOF\n", [["cat"]], False),
    ("pip install x  # comment\n", [["pip", "install", "x"]], True),
    ("(echo a # deep\n) && b", [["echo", "a"], ["b"]], True),
])
def test_comments(script: str, expected: list[list[str]], comment: bool) -> None:
    assert argvs(script) == expected
    assert has_comment(script) is comment


def test_unparseable_script_with_hash_counts_as_commented() -> None:
    assert has_comment("echo 'a # b") is True
    assert has_comment("echo 'a b") is False


def test_segments_refuse_a_commented_script() -> None:
    """Joining anything after ``a # note`` would turn it into comment text."""
    assert and_segments("a && b # note") is None
    assert and_segments("a && b") == ["a", "b"]


# --- operators, pipelines, subshells, line continuations, heredocs ----------------------------

@pytest.mark.parametrize("script,ops,segments", [
    ("a && b; c || d", ["&&", ";", "||"], None),
    ("a && b && c", ["&&", "&&"], ["a", "b", "c"]),
    ("a | b && c", ["&&", "|"], ["a | b", "c"]),
    ("apt-get update | tee log", ["|"], ["apt-get update | tee log"]),
    ("! grep x f", ["|"], ["! grep x f"]),
    ("make || true", ["||"], None),
    ("a & b", ["&"], None),
    ("a\nb", ["\n"], None),
    ("(cd /x && make) && make install", ["&&"], ["(cd /x && make)", "make install"]),
    ("{ a; b; } && c", ["&&"], ["{ a; b; }", "c"]),
    ("echo 'unterminated", None, None),
    ("a;;", None, None),
    ("", [], []),
])
def test_operators_and_segments(script: str, ops: list[str] | None, segments: list[str] | None) -> None:
    assert top_level_operators(script) == ops
    assert and_segments(script) == segments


def test_a_redirection_after_a_list_belongs_to_the_command_before_it() -> None:
    """tree-sitter-bash hangs ``> g`` on the list ``a && b`` and reads ``a && b 2>&1 | c`` as
    ``(a && b) | c``; the shell gives each redirection to its command and binds | tighter."""
    script = "echo a > f && echo b > g && echo c > h"
    assert [c.text for c in _cmds(script)] == ["echo a > f", "echo b > g", "echo c > h"]
    assert top_level_operators(script) == ["&&", "&&"]
    assert and_segments(script) == ["echo a > f", "echo b > g", "echo c > h"]
    script = "a && b 2>&1 | c > g"
    assert [c.text for c in _cmds(script)] == ["a", "b 2>&1", "c > g"]
    assert and_segments(script) == ["a", "b 2>&1 | c > g"]
    assert and_segments("{ cd /x; make; } > log && pwd") == ["{ cd /x; make; } > log", "pwd"]


def test_long_chains_are_read_without_recursion() -> None:
    script = " && ".join(f"echo {i} > /tmp/{i}" for i in range(3000))
    cmds = _cmds(script)
    assert cmds is not None and len(cmds) == 3000 and cmds[-1].text == "echo 2999 > /tmp/2999"
    assert len(and_segments(script) or []) == 3000


def test_pipelines_and_subshells_list_every_command() -> None:
    assert argvs("curl -fsSL x | sh && (cd /x; make)") == [["curl", "-fsSL", "x"], ["sh"], ["cd", "/x"], ["make"]]


def test_line_continuations() -> None:
    script = "apt-get update && \\\n    apt-get install -y \\\n    curl"
    cmds = _cmds(script)
    assert [list(c.argv) for c in cmds] == [["apt-get", "update"], ["apt-get", "install", "-y", "curl"]]
    assert cmds[1].text == "apt-get install -y" + " " * 7 + "curl"  # continuation blanked, same length
    assert argvs("echo 'a\\\nb' \"c\\\nd\"") == [["echo", "a\\\nb", "cd"]]  # literal in '…', gone in "…"
    assert commands("echo ab\\\ncd") is None  # the shell joins "abcd"; tree-sitter-bash splits it


def test_heredoc_inside_a_script() -> None:
    script = "cat <<EOF > /etc/x.conf\na = 1\nEOF\napt-get install -y curl\n"
    cmds = _cmds(script)
    assert [list(c.argv) for c in cmds] == [["cat"], ["apt-get", "install", "-y", "curl"]]
    assert cmds[0].text == "cat <<EOF > /etc/x.conf\na = 1\nEOF"  # the redirection belongs to it
    assert top_level_operators(script) == ["\n"]
    assert commands("cat <<EOF | sh\necho hi\nEOF\n") is None  # a pipeline hidden in the redirection


def test_redirections_are_not_argv() -> None:
    cmd, = _cmds("ls -la >/dev/null 2>&1")
    assert cmd.argv == ("ls", "-la") and cmd.text == "ls -la >/dev/null 2>&1"
    assert commands("echo a > f b") is None  # sh passes b to echo; tree-sitter-bash would hide it


# --- working directory ------------------------------------------------------------------------

def test_cd_is_tracked() -> None:
    cmds = _cmds("cd /src && make && cd sub && make install PREFIX=/opt/x")
    assert [c.cwd for c in cmds] == ["/src", "/src", "/src/sub", "/src/sub"]
    assert [c.cwd for c in _cmds("cd /a && cd ../b && pwd")] == ["/a", "/b", "/b"]
    assert [c.cwd for c in _cmds("make", cwd="/app")] == ["/app"]


@pytest.mark.parametrize("script", ["cd $DIR && make", "cd && make", "cd - && make", "cd ~ && make",
                                    "pushd /a && make", "cd `x` && make"])
def test_cd_that_cannot_be_followed(script: str) -> None:
    assert _cmds(script)[1].cwd is None


def test_cd_in_a_subshell_stays_there() -> None:
    assert [c.cwd for c in _cmds("(cd /x && make) && make install")] == ["/x", "/x", "/"]
    assert [c.cwd for c in _cmds("{ cd /x; } && make")] == ["/x", "/x"]  # a group is no subshell


# --- what cannot be analysed yields None ------------------------------------------------------

@pytest.mark.parametrize("script", [
    "if true; then a; fi",
    "for i in 1 2; do echo $i; done",
    "while true; do a; done",
    "until false; do a; done",
    "case x in a) b;; esac",
    "f() { a; }",
    "[[ -f x ]] && a",
    "echo 'unterminated",
    "echo $(",
    "a;;",
    "echo $'\\u00e9'",
    'echo $"translated"',
    "echo crlf\r\n",
    # tree-sitter-bash misreads these; each would otherwise give a wrong argv
    "echo a \\  b",  # the word " " dropped
    "x=\\  y",  # read as x=y
    "echo 'q r'\\#",  # one word "q r#", read as two
    "echo $'\\\\''\\'",  # $'\\' ends one quote late
])
def test_unanalysable(script: str) -> None:
    assert commands(script) is None


def test_misread_text_makes_the_whole_script_unreadable() -> None:
    """Operators and segments too: a segment missing the dropped word would change the command."""
    assert top_level_operators("a && \\  b") is None and and_segments("a && \\  b") is None


# --- one parse per script -----------------------------------------------------------------------

def test_results_are_immutable_between_callers() -> None:
    first = _cmds("a && b")
    first.clear()
    segments = and_segments("a && b")
    assert segments is not None
    segments.append("c")
    assert argvs("a && b") == [["a"], ["b"]] and and_segments("a && b") == ["a", "b"]


def test_rewriting_every_fixture_parses_each_script_at_most_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: Counter[str] = Counter()
    real = shell._tree

    def counting(script: str) -> Any:
        parsed[script] += 1
        return real(script)

    shell._analyse.cache_clear()
    shell._commands_from.cache_clear()
    monkeypatch.setattr(shell, "_tree", counting)
    for case in sorted(p for p in (FIXTURES / "rewrite").iterdir() if (p / "Dockerfile").exists()):
        rewrite((case / "Dockerfile").read_text(), path=str(case / "Dockerfile"), context_dir=case)
    for case in sorted(p for p in (FIXTURES / "passes").glob("*/*") if (p / "Dockerfile").exists()):
        models = "models" if case.parent.name == "models-out" else None
        rewrite((case / "Dockerfile").read_text(), context_dir=case,
                options=Options(only=frozenset({case.parent.name}), models_context=models))
    assert len(parsed) > 50
    assert parsed.most_common(1)[0][1] == 1


# --- parity with the bashlex analysis this module replaced ---------------------------------------

def _answers(script: str) -> dict[str, Any]:
    cmds = commands(script)
    return {
        "commands": None if cmds is None else [
            {"argv": list(c.argv), "assignments": list(c.assignments), "cwd": c.cwd, "text": c.text,
             "words": [list(w) for w in c.words]} for c in cmds],
        "top_level_operators": top_level_operators(script),
        "and_segments": and_segments(script),
    }


def _cmd(argv: list[str], text: str, words: list[list[int]], cwd: str | None = "/") -> dict[str, Any]:
    return {"argv": argv, "assignments": [], "cwd": cwd, "text": text, "words": words}


# Each answer that differs from bashlex's on purpose, with the reason. The recorded data covers
# every RUN in fixtures/, every script the passes asked about while rewriting them, and the
# hand-written edge cases listed at its end.
INTENDED: dict[str, tuple[dict[str, Any], str]] = {
    # A newline between commands is an operator ("\n"); bashlex read the lines as one line.
    "\tset -e\n\techo \"tabs are stripped\"\n": (
        {"top_level_operators": ["\n"], "and_segments": None}, "newline joins commands"),
    "apt-get update\napt-get install -y --no-install-recommends curl\nrm -rf /var/lib/apt/lists/*\n": (
        {"top_level_operators": ["\n", "\n"], "and_segments": None}, "newline joins commands"),
    "set -e\npip install --upgrade pip\npip install -r requirements.txt\n": (
        {"top_level_operators": ["\n", "\n"], "and_segments": None}, "newline joins commands"),
    "a\nb\nc": ({"top_level_operators": ["\n", "\n"], "and_segments": None}, "newline joins commands"),
    # tree-sitter-bash reads "[notjson" as an unterminated test: unanalysable, which is safe.
    "[notjson is shell form": (
        {"commands": None, "top_level_operators": None, "and_segments": None}, "grammar limit, refused"),
    # sh keeps CR inside the word; tree-sitter-bash reads it as a blank: refused rather than wrong.
    "echo crlf heredoc\r\n": ({"commands": None, "top_level_operators": None, "and_segments": None},
                               "carriage return refused"),
    # A pipeline is one &&-segment: "x && curl … | sh" is a valid chain (bashlex: None).
    "curl -LsSf https://astral.sh/uv/install.sh | sh": (
        {"and_segments": ["curl -LsSf https://astral.sh/uv/install.sh | sh"]}, "pipeline is a segment"),
    "apt-get update | tee log": ({"and_segments": ["apt-get update | tee log"]}, "pipeline is a segment"),
    "! grep x f": ({"and_segments": ["! grep x f"]}, "negated pipeline is a segment"),
    # bashlex dropped the backslashes of $'…'.
    "echo $'a\\tb'": ({"commands": [_cmd(["echo", "a\tb"], "echo $'a\\tb'", [[0, 4], [5, 12]])]},
                      "ANSI-C quoting decoded"),
    # A cd inside ( … ) ends with the subshell; bashlex let it leak.
    "(cd /x && make) && make install": (
        {"commands": [_cmd(["cd", "/x"], "cd /x", [[1, 3], [4, 6]], "/x"), _cmd(["make"], "make", [[10, 14]], "/x"),
                      _cmd(["make", "install"], "make install", [[19, 23], [24, 31]], "/")]},
        "subshell cwd scoped"),
    # Segments never include a comment: anything joined after it would become comment text.
    "echo a#b # c && rm -rf /": ({"and_segments": None}, "comment"),
    "echo one # note": ({"and_segments": None}, "comment"),
    "pip install x  # comment\n": ({"and_segments": None}, "comment"),
    # Parsed where bashlex failed; commands stay None for case and [[ ]].
    "case x in a) b;; esac": ({"top_level_operators": [], "and_segments": ["case x in a) b;; esac"]}, "parsed"),
    "[[ -f x ]] && a": ({"top_level_operators": ["&&"], "and_segments": ["[[ -f x ]]", "a"]}, "parsed"),
    "echo $(( 1 + 2 ))": (
        {"commands": [_cmd(["echo", "$(( 1 + 2 ))"], "echo $(( 1 + 2 ))", [[0, 4], [5, 17]])],
         "top_level_operators": [], "and_segments": ["echo $(( 1 + 2 ))"]},
        "arithmetic expansion is a word kept as written, like $VAR"),
    # The heredoc body belongs to the command's text (reusing the text keeps the redirection whole).
    "cat <<EOF > /f\nhello\nEOF\n": (
        {"commands": [_cmd(["cat"], "cat <<EOF > /f\nhello\nEOF", [[0, 3]])],
         "top_level_operators": [], "and_segments": ["cat <<EOF > /f\nhello\nEOF"]},
        "heredoc parsed"),
}


def _parity_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(DATA.read_text())["cases"]
    return cases


def test_parity_data_covers_the_fixtures() -> None:
    cases = _parity_cases()
    assert len(cases) > 100
    assert set(INTENDED) <= {c["script"] for c in cases}


@pytest.mark.parametrize("case", _parity_cases(), ids=lambda c: repr(c["script"])[:40])
def test_parity_with_bashlex(case: dict[str, Any]) -> None:
    expected = {k: case[k] for k in ("commands", "top_level_operators", "and_segments")}
    expected.update(INTENDED.get(case["script"], ({}, ""))[0])
    assert _answers(case["script"]) == expected


# --- the shell itself as the oracle for quote removal and comments -------------------------------

PIECES = ["ab", "x=y", "-o", "#", "a#b", "\\#", "\\ ", "\\\\", "'q r'", "'\"'", '"s t"', '"\\""', '"\\\\"', '"\\$"',
          "\"a'b\"", '"\\e"', "$'\\t'", "$'x\\'y'", "$'\\101'", " ", "  ", "\t", "\\\n", " \\\n ", "é"]


def _bash_argv(script: str) -> list[str] | None:
    """What ``printf '%s\\0' …`` receives when bash (globbing off) runs ``script``; None when
    bash rejects its syntax."""
    if subprocess.run(["bash", "-n", "-c", script], capture_output=True).returncode != 0:
        return None  # a syntax error
    done = subprocess.run(["bash", "-c", "set -f\n" + script], capture_output=True)  # a later line may fail
    return done.stdout.decode("utf-8").split("\0")[:-1]


# What tree-sitter-bash misreads, so the analysis refuses it (None) rather than answer wrongly.
GRAMMAR_LIMITS = re.compile(r"\\\n|\\[ \t]|['\"]\\|\$'.*\\\\'")  # continuation, escaped blank, 'a'\\x, $'\\\\'…


@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=10).map("".join))
@example("ab\\ \\\nab")  # found by this test in a CI dry run: escaped blank, then a line continuation
@settings(max_examples=150, deadline=None)
def test_argv_and_comments_are_what_bash_sees(words: str) -> None:
    script = "printf '%s\\0' @ " + words  # @: printf always has an argument to print
    expected = _bash_argv(script)
    ours = commands(script)
    if expected is None:
        assert ours is None
        return
    if ours is None:
        assert GRAMMAR_LIMITS.search(words), "refused a script bash reads fine"
        return
    assert list(ours[0].argv[2:]) == expected
    if "\n" not in script:  # one line: a comment runs to its end and swallows what follows
        assert has_comment(script) == (_bash_argv(script + " zz") == expected)


@pytest.mark.parametrize(("script", "inserts", "answers"), [
    ("apt-get install -y x && rm -rf /var/lib/apt/lists/*", {18: " --no-install-recommends"}, True),
    ("apt-get install -y x", {0: "apt-get update && ", 18: " --no-install-recommends"}, True),
    ("pip install 'a b' && echo é && pip install c", {11: " --no-cache-dir", 42: " --no-cache-dir"}, True),
    ("(apt-get install x)", {1: "apt-get update && "}, False),  # inside a subshell: not a segment of its own
    ("sudo apt-get install x", {5: "apt-get update && "}, False),
    ("apt-get install x; echo", {15: " -y"}, False),  # not &&-joined
    ("(apt-get install x)", {18: " -y"}, False),  # not followed by a blank: parse the new text
])
def test_and_segments_after_insertions_match_a_parse_of_the_new_text(
        script: str, inserts: dict[int, str], answers: bool) -> None:
    """package-hygiene's insertions split into segments without parsing the new script, only
    where the answer is the parser's; anything else is left to the parser (None)."""
    new = script
    for offset in sorted(inserts, reverse=True):
        new = new[:offset] + inserts[offset] + new[offset:]
    found = shell.and_segments_after(script, inserts)
    assert (found is not None) == answers
    if answers:
        assert found == shell.and_segments(new)


def test_plain_segments_are_read_off_their_script_within_a_rewrite(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a rewrite, the &&-segments of plain words of an analysed script are not parsed
    again (install consolidation asks for each), and read the same as a parse of their own;
    a segment with quotes is parsed on its own."""
    from dockerslim.pass_context import rewrite_scope

    script = "apt-get update && apt-get install -y curl=7.1 libpq-dev && echo 'a b' && rm -rf /var/lib/apt/lists/*"
    parsed: list[str] = []
    real = shell._tree
    monkeypatch.setattr(shell, "_tree", lambda s: parsed.append(s) or real(s))
    shell._analyse.cache_clear()
    shell._commands_from.cache_clear()
    with rewrite_scope():
        segments = shell.and_segments(script)
        assert segments is not None and parsed == [script]
        seen = [shell.commands(s) for s in segments]
        assert parsed == [script, "echo 'a b'"]
    shell._analyse.cache_clear()
    shell._commands_from.cache_clear()
    assert seen == [shell.commands(s) for s in segments]
