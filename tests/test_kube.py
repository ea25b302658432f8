"""`hp export kube`'s conversion (compiler/kube.py): golden YAML per mapping row and warning, and the rules
that make the exported process hp's (Kubernetes' command/args and $(VAR) expansion modelled here)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from syrupy.extensions.single_file import WriteMode

from compiler import HpError, ImageFacts, compile_container, parse_hp_file, parse_image_config
from compiler.env import EnvFile
from compiler.errors import error_line
from compiler.host import HostFacts
from compiler.kube import FIELDS, KubeOptions, escaped, export_kube, k8s_process, parse_image_map, quantity
from compiler.kube_yaml import dump_documents, quoted
from compiler.spec import ContainerSpec

from .golden import GoldenFiles

CASES_DIR = Path(__file__).parent / "cases_kube"
GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden" / "kube"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())
FILES = {"spec": "hp.toml"}


def case_file(case: str, name: str) -> Path:
    own = CASES_DIR / case / name
    return own if own.exists() else CASES_DIR / name


def case_options(case: str) -> KubeOptions:
    path = CASES_DIR / case / "options"
    lines = path.read_text().splitlines() if path.exists() else []
    container = next((x.split("=", 1)[1] for x in lines if x.startswith("--container=")), None)
    maps = tuple(x.split("=", 1)[1] for x in lines if x.startswith("--image-map="))
    return KubeOptions(container, "--host-ports" in lines, parse_image_map(maps))


def run_kube_case(case: str) -> tuple[str | None, str | None]:
    """(warnings as comments + YAML, None) or (None, the error line), as `hp export kube` prints them."""
    d = CASES_DIR / case
    try:
        hp_file = parse_hp_file((d / "hp.toml").read_bytes())
        facts = ImageFacts(
            parse_image_config(case_file(case, "image.json").read_bytes()),
            case_file(case, "passwd").read_text(),
            case_file(case, "group").read_text(),
        )
        env_files = {p: EnvFile(p, (d / p).read_text()) for s in hp_file.containers.values() for p in s.env_file}
        out = export_kube(hp_file, {s.image: facts for s in hp_file.containers.values()}, case_options(case), env_files)
    except HpError as e:
        return None, error_line(
            e.from_source("spec") if e.where.startswith(("containers", "volumes")) else e, FILES
        ) + "\n"
    return "".join(f"# hp: warning: {w}\n" for w in out.warnings) + out.yaml(), None


class _GoldenKube(GoldenFiles):
    directory = GOLDEN_DIR


class GoldenKube(_GoldenKube):
    """golden/kube/<case>.yaml: the warnings as comments, then the exact YAML."""

    file_extension = "yaml"
    _write_mode = WriteMode.TEXT


class GoldenKubeError(_GoldenKube):
    """golden/kube/<case>.txt: the one error line."""

    file_extension = "txt"
    _write_mode = WriteMode.TEXT


@pytest.mark.parametrize("case", CASES)
def test_golden_kube(case: str, snapshot) -> None:
    text, error = run_kube_case(case)
    if text is None:
        assert error is not None and error.count("\n") == 1
        assert error == snapshot(extension_class=GoldenKubeError)
    else:
        assert text == snapshot(extension_class=GoldenKube)


def test_golden_kube_dir_holds_exactly_one_file_per_case() -> None:
    files = sorted(p.name for p in GOLDEN_DIR.iterdir())
    stems = [f.rsplit(".", 1)[0] for f in files]
    assert sorted({s for s in stems if stems.count(s) > 1}) == []
    assert [s for s in stems if s not in CASES] == [], "golden files without a case"
    assert all(f.endswith((".yaml", ".txt")) for f in files)


@pytest.mark.parametrize("case", CASES)
def test_yaml_reads_back_as_the_objects(case: str) -> None:
    """What a YAML 1.1 reader (PyYAML, as kubectl's) makes of the text is exactly the objects."""
    d = CASES_DIR / case
    hp_file = parse_hp_file((d / "hp.toml").read_bytes())
    facts = ImageFacts(
        parse_image_config(case_file(case, "image.json").read_bytes()),
        case_file(case, "passwd").read_text(),
        case_file(case, "group").read_text(),
    )
    env_files = {p: EnvFile(p, (d / p).read_text()) for s in hp_file.containers.values() for p in s.env_file}
    try:
        out = export_kube(hp_file, {s.image: facts for s in hp_file.containers.values()}, case_options(case), env_files)
    except HpError:
        return
    assert list(yaml.safe_load_all(out.yaml())) == list(out.documents)


def test_every_container_field_has_a_place() -> None:
    """A new hp.toml field must say where it goes in Kubernetes (or that it is a warning)."""
    assert set(FIELDS) == set(ContainerSpec.__struct_fields__)


# ---- the process is hp's: Kubernetes' rules, modelled ---------------------------------------------------------


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion): $$ is $, $(NAME) of a known NAME its
    value, anything else as it is."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2 : end]
                    out.append(env.get(name, f"$({name})"))
                    i = end + 1
                    continue
                out.append("$(")
                i += 2
                continue
            out.append("$" + nxt)
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "$",
        "$$",
        "$$$",
        "$(A)",
        "$$(A)",
        "$(B)",
        "$(A",
        "a$(A)b$(A)",
        "$x",
        "$($(A))",
        "$((A))",
        "cost$",
        "$$(",
        "$)",
        "$(A)$",
        "$$$(A)$(B)",
    ],
)
def test_escaped_text_expands_to_itself(text: str) -> None:
    names = frozenset({"A", "$(A"})
    env = {"A": "VALUE", "$(A": "OTHER"}
    assert expand(escaped(text, names), env) == text


def test_an_unknown_reference_is_left_as_written() -> None:
    assert escaped("echo $(hostname) $HOME", frozenset({"A"})) == "echo $(hostname) $HOME"


IMAGE = parse_image_config(b'{"config": {"Entrypoint": ["/bin/app"], "Cmd": ["--serve"], "Env": ["A=1"]}}')
BLANK = parse_image_config(b'{"config": {"Entrypoint": [""], "Cmd": ["--serve"]}}')


@pytest.mark.parametrize("image", [IMAGE, BLANK], ids=["image", "blank-entrypoint"])
@pytest.mark.parametrize("entrypoint", [None, (), ("",), ("/bin/sh", "-c"), ("/x",)])
@pytest.mark.parametrize("command", [None, (), ("run",), ("a", "b")])
def test_kubernetes_runs_hps_command_line(image, entrypoint, command) -> None:
    spec = ContainerSpec(image="registry.example/app:1", entrypoint=entrypoint, command=command)
    try:
        config = compile_container("app", spec, ImageFacts(image), host=HostFacts())
    except HpError:
        return
    out = export_kube(
        parse_hp_file('[containers.app]\nimage = "registry.example/app:1"\n').__class__(containers={"app": spec}),
        {"registry.example/app:1": ImageFacts(image)},
    )
    container = out.documents[-1]["spec"]["template"]["spec"]["containers"][0]
    ran = k8s_process(image, container.get("command"), container.get("args"))
    assert ran == config.process.args


def test_quantity_is_exact() -> None:
    assert [quantity(n) for n in (1024, 64 * 1024**2, 3 * 1024**3, 1000, 2 * 1024**4)] == [
        "1Ki",
        "64Mi",
        "3Gi",
        "1000",
        "2Ti",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "no",
        "yes",
        "1.0",
        "0755",
        "~",
        "null",
        "a: b",
        "- x",
        "#c",
        "'q'",
        '"dq"',
        "back\\slash",
        "tab\there",
        "line\nbreak",
        "\x00\x07\x1b\x7f\x85\u2028\ufeff",
        "ünï©ødé 😀",
        "\U0010fffd",
        "\ufffe",
        "",
    ],
)
def test_quoted_strings_read_back_as_themselves(text: str) -> None:
    assert yaml.safe_load(quoted(text)) == text
    assert yaml.safe_load(dump_documents([{"k": text, text or "e": [text]}])) == {"k": text, text or "e": [text]}


def test_image_map_takes_the_longest_prefix_at_a_path_boundary() -> None:
    hp_file = parse_hp_file(
        '[containers.a]\nimage = "reg.example/team/app:1"\n[containers.b]\nimage = "reg.example.org/app:1"\n'
    )
    facts = ImageFacts(IMAGE)
    options = KubeOptions(image_map=parse_image_map(("reg.example=mirror.local", "reg.example/team=team.local/x/")))
    out = export_kube(hp_file, {"reg.example/team/app:1": facts, "reg.example.org/app:1": facts}, options)
    deployments = [d for d in out.documents if d["kind"] == "Deployment"]
    images = [d["spec"]["template"]["spec"]["containers"][0]["image"] for d in deployments]
    assert images == ["team.local/x/app:1", "reg.example.org/app:1"]


def test_an_image_map_no_image_uses_is_a_warning() -> None:
    hp_file = parse_hp_file('[containers.a]\nimage = "reg.example/team/app:1"\n')
    options = KubeOptions(image_map=parse_image_map(("reg.exmaple=mirror.local",)))
    out = export_kube(hp_file, {"reg.example/team/app:1": ImageFacts(IMAGE)}, options)
    assert [(w.where, w.problem) for w in out.warnings if w.where.startswith("--image-map")] == [
        ("--image-map reg.exmaple=mirror.local", "no exported container's image starts with reg.exmaple/; unused")
    ]


@pytest.mark.parametrize(
    "setting, node_name",
    [
        ("profiles/web.json", "profiles/web.json"),
        ("./profiles//web.json", "profiles/web.json"),
        ("/etc/hp/web.json", "web.json"),
        ("../shared/web.json", "web.json"),
    ],
    ids=["relative", "relative-uncleaned", "absolute", "above-the-file"],
)
def test_a_profile_file_is_the_nodes_localhost_profile(setting: str, node_name: str) -> None:
    hp_file = parse_hp_file(f'[containers.a]\nimage = "reg.example/app:1"\nseccomp = "{setting}"\n')
    out = export_kube(hp_file, {"reg.example/app:1": ImageFacts(IMAGE)})
    pod = next(d for d in out.documents if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert pod["containers"][0]["securityContext"]["seccompProfile"] == {
        "type": "Localhost",
        "localhostProfile": node_name,
    }


@pytest.mark.parametrize("entry", ["x", "=y", "x=", "/=y"])
def test_a_bad_image_map_is_one_error(entry: str) -> None:
    with pytest.raises(HpError) as e:
        parse_image_map((entry,))
    assert e.value.where == "--image-map"


def test_export_is_deterministic() -> None:
    text = [run_kube_case("example")[0] for _ in range(2)]
    assert text[0] is not None and text[0] == text[1]
