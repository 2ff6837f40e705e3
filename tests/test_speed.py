"""Speed regressions: work that must not be repeated, and no step that grows quadratically
with the size of a Dockerfile (CPU time, generous bounds: the machine is shared)."""

from __future__ import annotations

import importlib
import importlib.util
import time
from pathlib import Path

import pytest

from dockerslim import jit


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = jit.cst.parse_module

    def counting(code: str) -> object:
        seen.append(code)
        return real(code)

    monkeypatch.setattr(jit.cst, "parse_module", counting)
    jit._hits.cache_clear()
    return seen


def test_jit_scan_skips_sources_without_a_trigger_module_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A source whose text names no trigger module cannot hold a trigger: libcst is not run."""
    parsed = _count_parses(monkeypatch)
    assert jit.scan_source("import os\nimport re\nre.compile('x')\nprint(os.getcwd())\n") == []
    assert parsed == []
    found = jit.scan_source("import torch as t\nmodel = t.compile(object())\n", "app.py")
    assert [(f.path, f.line, f.name) for f in found] == [("app.py", 2, "torch.compile")]
    assert len(parsed) == 1


def test_jit_scan_reads_each_content_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same file content (several passes, many projects sharing a file) is parsed once;
    findings still carry each caller's path."""
    parsed = _count_parses(monkeypatch)
    code = "from numba import njit\n\n@njit\ndef f(x):\n    return x\n"
    first = jit.scan_source(code, "a/f.py")
    second = jit.scan_source(code, "b/f.py")
    assert len(parsed) == 1
    assert [(f.path, f.line, f.name) for f in first] == [("a/f.py", 3, "numba.njit")]
    assert [(f.path, f.line, f.name) for f in second] == [("b/f.py", 3, "numba.njit")]


def test_lexer_reads_words_only_where_a_heredoc_can_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """Splitting a RUN into words to look for ``<<NAME`` is skipped when the line holds no ``<<``."""
    from dockerslim import lexer

    calls: list[str] = []
    real = lexer.shell_words
    monkeypatch.setattr(lexer, "shell_words", lambda line, escape="\\": calls.append(line) or real(line, escape))
    items = lexer.lex("FROM alpine\nRUN echo a && \\\n    echo b\nCOPY a b\n")
    assert calls == []
    assert [i.keyword for i in items if isinstance(i, lexer.RawInstruction)] == ["FROM", "RUN", "COPY"]
    heredoc = lexer.lex("FROM alpine\nRUN cat <<EOF > /x\nhi\nEOF\n")
    assert len(calls) == 1
    assert heredoc[1].heredocs[0].name == "EOF"  # type: ignore[union-attr]


def test_parse_builds_each_distinct_instruction_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rewrite parses its input, each pass's changes and its output: an instruction block seen
    before is not built again, and the nodes still carry their own lines and comments."""
    parse = importlib.import_module("dockerslim.parse")  # the package exports a function of that name
    built: list[str] = []
    real = parse._instruction
    monkeypatch.setattr(parse, "_instruction", lambda k, rest, h: built.append(rest) or real(k, rest, h))
    parse._typed.cache_clear()
    first = parse.parse("FROM alpine:3.20\nRUN echo speed-test-one\n")
    second = parse.parse("FROM alpine:3.20\n# a note\nRUN echo speed-test-one\nRUN echo speed-test-two\n")
    assert built == ["alpine:3.20", "echo speed-test-one", "echo speed-test-two"]
    run = second.stages[0].body[0]
    assert run.line == 3 and run.leading == ("# a note\n",) and run.untouched
    assert first.stages[0].body[0].line == 2 and first.stages[0].body[0].leading == ()


def _generator() -> object:
    """benchmarks/scaling.py's Dockerfile generator (the benchmark is a script, not a package)."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "scaling.py"
    spec = importlib.util.spec_from_file_location("_scaling_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind", ["apt", "plain"])
def test_rewrite_time_grows_about_linearly(kind: str) -> None:
    """Four times the lines may take about four times the CPU time, never sixteen (a step that
    re-reads everything before it, as merge-runs' install consolidation once did). Each file's
    blocks are numbered apart so no cache carries one size's work over to the other."""
    from dockerslim import rewrite

    generate = _generator().generate  # type: ignore[attr-defined]
    rewrite(generate(kind, 200, first=9 * 10**6))  # warm-up: catalogues, templates, imports
    seconds = {}
    for lines, first in ((2_000, 10**6), (8_000, 3 * 10**6)):
        text = generate(kind, lines, first=first)
        start = time.process_time()
        rewrite(text)
        seconds[lines] = time.process_time() - start
    ratio = seconds[8_000] / seconds[2_000]
    assert ratio < 7.0, f"{kind}: 2,000 lines {seconds[2_000]:.2f} s, 8,000 lines {seconds[8_000]:.2f} s CPU"


def test_a_changed_instruction_is_rendered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pass check and the output render the same changed node: the second time is a lookup,
    and nodes that differ only in comments or source still render alike (rendering ignores both)."""
    from dockerslim import ir

    emit = importlib.import_module("dockerslim.emit")
    calls: list[object] = []
    real = emit._render
    monkeypatch.setattr(emit, "_render", lambda node, escape: calls.append(node) or real(node, escape))
    emit._rendered.cache_clear()
    node = ir.Run(command="echo render-once && echo twice")
    first = emit.render_instruction(node)
    again = emit.render_instruction(ir.Run(command="echo render-once && echo twice", leading=("# c\n",)))
    assert first == again == "RUN echo render-once && echo twice\n"
    assert len(calls) == 1
    assert emit.render_instruction(node, "`") == first and len(calls) == 2  # another escape: rendered


def test_start_scan_maps_copies_only_when_a_script_is_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Mapping image paths back to context files walks the whole stage: done only for a start
    command that runs a script, and once per stage however many do."""
    from dockerslim import start_scripts
    from dockerslim.parse import parse

    made: list[object] = []
    real = start_scripts.ContextFiles.__init__

    def counting(self: object, *args: object) -> None:
        made.append(self)
        real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(start_scripts.ContextFiles, "__init__", counting)
    plain = parse('FROM python:3.12\nCOPY . /app\nCMD ["python", "-m", "app"]\n')
    assert start_scripts.scan_start(plain.stages[0], tmp_path, plain) == []
    assert made == []
    (tmp_path / "start.sh").write_text("#!/bin/sh\ngcc -o /tmp/x /app/x.c\nexec python -m app\n")
    scripted = parse("FROM python:3.12\nCOPY . /app\nENTRYPOINT [\"/app/start.sh\"]\nCMD /app/start.sh\n")
    found = start_scripts.scan_start(scripted.stages[0], tmp_path, scripted)
    assert len(made) == 1
    assert [(f.path, f.line) for f in found] == [("start.sh", 2)]


def test_jit_context_cache_sees_a_file_rewritten_within_one_mtime_tick(tmp_path: Path) -> None:
    """The per-context cache is keyed by each file's size too: a file rewritten with the same
    modification time (coarse file-system clocks, restored archives) is scanned again. Skipped
    folders are not walked."""
    import os

    app = tmp_path / "app.py"
    app.write_text("import os\n")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "x.py").write_text("import torch\ntorch.compile(None)\n")
    stat = app.stat()
    assert jit.scan_context(tmp_path) == []
    app.write_text("import torch\nmodel = torch.compile(object())\n")
    os.utime(app, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert [(f.path, f.line, f.name) for f in jit.scan_context(tmp_path)] == [("app.py", 2, "torch.compile")]
    assert [Path(p).name for p, _, _ in jit._stamp(str(tmp_path))] == ["app.py"]


def test_command_family_tries_only_rules_for_its_program(monkeypatch: pytest.MonkeyPatch) -> None:
    """``family`` tries only the ``[[family]]`` rules whose program patterns match the command's
    program (per program once), and still returns the first rule in file order that matches."""
    import fnmatch

    from dockerslim import classify
    from dockerslim.shell import SimpleCommand

    tried: list[str] = []
    real = classify._matches
    monkeypatch.setattr(classify, "_matches",
                        lambda rule, cmd, prev: tried.append(rule["name"]) or real(rule, cmd, prev))
    rules = classify._cfg()["family"]
    for argv in (("echo", "hi"), ("pip", "install", "flask"), ("/usr/bin/make", "install")):
        tried.clear()
        cmd = SimpleCommand(argv=argv)
        candidates = [r for r in rules if any(fnmatch.fnmatchcase(cmd.program, p) for p in r["programs"])]
        found = classify.family(cmd)
        expected = next((r["name"] for r in candidates if real(r, cmd, None)), None)
        assert (found.name if found else None) == expected
        assert len(tried) <= len(candidates) < len(rules)


def test_fingerprint_reads_a_class_fields_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """``untouched`` is asked for every instruction many times per rewrite: the compared field
    names of a node class are looked up once, and the fingerprint is unchanged."""
    from dockerslim import ir

    run = ir.Run(command="echo fingerprint", leading=("# c\n",))
    expected = (("flags", ()), ("command", "echo fingerprint"), ("heredocs", ()))
    assert ir.fingerprint(run) == expected
    looked: list[object] = []
    real = ir.fields
    monkeypatch.setattr(ir, "fields", lambda x: looked.append(x) or real(x))
    assert [ir.fingerprint(ir.Run(command=f"echo {i}")) for i in range(3)][2] == (
        ("flags", ()), ("command", "echo 2"), ("heredocs", ()))
    assert looked == []


def test_rendering_cache_tells_flags_written_differently_apart() -> None:
    """``Flag.raw`` (the flag as written) is not a compared field, yet it is what gets printed:
    two nodes equal but for how a flag was written each render their own text."""
    from dockerslim import ir

    plain = ir.Run(command="echo flags", flags=(ir.Flag(name="network", value="none", raw="--network=none"),))
    quoted = ir.Run(command="echo flags", flags=(ir.Flag(name="network", value="none", raw='"--network=none"'),))
    assert plain == quoted
    emit = importlib.import_module("dockerslim.emit")
    assert emit.render_instruction(plain) == "RUN --network=none echo flags\n"
    assert emit.render_instruction(quoted) == 'RUN "--network=none" echo flags\n'
    inner = ir.Onbuild(inner=quoted)
    assert emit.render_instruction(ir.Onbuild(inner=plain)) == "ONBUILD RUN --network=none echo flags\n"
    assert emit.render_instruction(inner) == 'ONBUILD RUN "--network=none" echo flags\n'


def test_install_consolidation_splits_catalogue_commands_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cleanup commands of data/hygiene.toml are split into argv once per catalogue entry,
    not once per segment of every RUN (that was half of an apt-heavy rewrite's time)."""
    import shlex

    from dockerslim.parse import parse
    from dockerslim.passes import _consolidate

    calls: list[str] = []
    real = shlex.split
    monkeypatch.setattr(_consolidate.shlex, "split", lambda s, *a, **k: calls.append(s) or real(s, *a, **k))
    cached = getattr(_consolidate, "_split_commands", None)
    if cached is not None:
        cached.cache_clear()
    runs = "".join(f"RUN apt-get update && apt-get install -y a{i} && apt-get install -y b{i} "
                   "&& rm -rf /var/lib/apt/lists/*\n" for i in range(30))
    df = parse("FROM debian:12\n" + runs)
    stage = df.stages[0]
    made = [_consolidate.consolidate(node, stage) for node in stage.body]
    assert all(m is not None for m in made)
    assert made[0].run.command == "apt-get update && apt-get install -y a0 b0 && rm -rf /var/lib/apt/lists/*"
    managers = _consolidate.load("hygiene")["consolidate"]
    entries = sum(len(m.get(k, ())) * len(m["programs"]) for m in managers for k in ("cleanup", "index_cleanup"))
    assert len(calls) <= entries


def test_stage_values_copy_only_for_several_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Walking a stage copies its known values only at an ENV/ARG of several pairs (each pair
    sees the values from before the instruction), not at every instruction; values unchanged."""
    from dockerslim import variables
    from dockerslim.parse import parse

    df = parse("FROM alpine\nENV A=1\nRUN echo\nENV B=${A}2\nENV A=3 C=${A}\nARG D=${C}x\nWORKDIR /${D}\n")
    values = variables.StageValues(df)
    copies: list[int] = []
    real_dict = dict
    monkeypatch.setattr(variables, "dict", lambda *a: copies.append(1) or real_dict(*a), raising=False)
    for node in df.stages[0].body:
        values.visit(node)
    assert values.values == {"A": "3", "B": "12", "C": "1", "D": "1x"}
    assert values.resolve(df.stages[0].body[-1].path) == "/1x"
    assert len(copies) == 1


def _count_shell_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every script tree-sitter-bash parses from now on (the memo's misses)."""
    from dockerslim import shell

    seen: list[str] = []
    real = shell._tree
    monkeypatch.setattr(shell, "_tree", lambda script: seen.append(script) or real(script))
    return seen


def test_a_long_run_of_consecutive_runs_is_read_in_linear_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """N consecutive RUNs merged into one: four times the RUNs make about four times the text
    the shell analysis reads, not sixteen (merge-runs once parsed the merged text again for
    every RUN it added: 13.8 MB of script read for 1,000 RUNs, 29 s)."""
    from dockerslim import rewrite

    seen = _count_shell_parses(monkeypatch)
    read = {}
    for n, first in ((150, 7 * 10**6), (600, 8 * 10**6)):  # numbered apart: no cache hit across sizes
        seen.clear()
        runs = "".join(f"RUN echo step{first + i} > /tmp/f{first + i}\n" for i in range(n))
        result = rewrite("FROM debian:12\n" + runs + 'CMD ["sh"]\n')
        assert result.text.count("\nRUN ") == 1 and result.layers_after == 1
        read[n] = sum(len(s) for s in seen)
    assert read[600] < 5 * read[150], read


def test_a_rewrite_parses_each_script_once_however_large(monkeypatch: pytest.MonkeyPatch) -> None:
    """Within one rewrite no script is parsed twice, even when the file has more scripts than
    the process-wide cache holds (100,000 lines once re-parsed half their RUNs): the rewrite's
    own memo keeps them all until it ends."""
    from functools import lru_cache

    from dockerslim import rewrite, shell

    generate = _generator().generate  # type: ignore[attr-defined]
    monkeypatch.setattr(shell._analyse, "_cached", lru_cache(maxsize=16)(shell._analyse.__wrapped__))
    monkeypatch.setattr(shell._commands_from, "_cached", lru_cache(maxsize=16)(shell._commands_from.__wrapped__))
    seen = _count_shell_parses(monkeypatch)
    result = rewrite(generate("apt", 600, first=11 * 10**6))
    assert result.changes
    assert len(seen) > 16 and len(seen) == len(set(seen))
