"""depends_on: normalized, checked (unknown names, self, cycles), layered (compiler/depends.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler import depends
from compiler.compile import check_file
from compiler.errors import HpError
from compiler.spec import parse_hp_file

LAYERS = [
    ("none", {"a": {}, "b": {}}, (("a", "b"),)),
    ("chain", {"web": {"app": "healthy"}, "app": {"db": "started"}, "db": {}}, (("db",), ("app",), ("web",))),
    (
        "diamond",
        {"a": {}, "b": {"a": "started"}, "c": {"a": "started"}, "d": {"b": "started", "c": "healthy"}},
        (("a",), ("b", "c"), ("d",)),
    ),
    ("outside-names-ignored", {"web": {"gone": "started"}}, (("web",),)),
    ("empty", {}, ()),
]


@pytest.mark.parametrize("name,graph,expected", LAYERS, ids=[c[0] for c in LAYERS])
def test_layers(name, graph, expected) -> None:
    assert depends.layers(graph) == expected


def _file(text: str):
    return parse_hp_file(text)


BAD = [
    (
        "unknown",
        '[containers.a]\nimage = "x"\ndepends_on = ["nope"]\n',
        "containers.a.depends_on",
        'no container "nope" in this file',
    ),
    ("self", '[containers.a]\nimage = "x"\ndepends_on = ["a"]\n', "containers.a.depends_on", "cannot depend on itself"),
    (
        "cycle",
        '[containers.a]\nimage = "x"\ndepends_on = ["b"]\n[containers.b]\nimage = "x"\ndepends_on = ["c"]\n'
        '[containers.c]\nimage = "x"\ndepends_on = { a = "healthy" }\n',
        "containers.a.depends_on",
        "a cycle: a -> b -> c -> a",
    ),
    (
        "bad-condition",
        '[containers.a]\nimage = "x"\ndepends_on = { b = "ready" }\n[containers.b]\nimage = "x"\n',
        "containers.a.depends_on.b",
        'expected "started" or "healthy", got "ready"',
    ),
    (
        "twice",
        '[containers.a]\nimage = "x"\ndepends_on = ["b", "b"]\n[containers.b]\nimage = "x"\n',
        "containers.a.depends_on[1]",
        '"b" is listed twice',
    ),
]


@pytest.mark.parametrize("name,text,where,problem", BAD, ids=[c[0] for c in BAD])
def test_mistakes_are_plan_time_errors_naming_the_field(name, text, where, problem) -> None:
    with pytest.raises(HpError) as error:
        check_file(_file(text))
    assert error.value.where == where and problem in error.value.problem


def test_a_list_means_started_and_a_table_is_sorted() -> None:
    assert depends.normalize(("b", "a"), "w") == {"a": "started", "b": "started"}
    assert list(depends.normalize({"z": "healthy", "a": "started"}, "w")) == ["a", "z"]
    assert depends.describe({"z": "healthy", "a": "started"}) == '{ a = "started", z = "healthy" }'


@given(st.dictionaries(st.sampled_from("abcdefg"), st.sets(st.sampled_from("abcdefg"), max_size=3), max_size=7))
def test_every_acyclic_graph_layers_each_name_after_its_dependencies(raw) -> None:
    graph: dict[str, dict[str, depends.Condition]] = {
        n: {d: "started" for d in deps if d in raw and d != n} for n, deps in raw.items()
    }
    try:
        depends.check(graph)
    except HpError as e:
        assert "a cycle" in e.problem
        return
    order = {n: i for i, layer in enumerate(depends.layers(graph)) for n in layer}
    assert sorted(order) == sorted(graph)
    assert all(order[d] < order[n] for n, deps in graph.items() for d in deps)


# (name, depends_on per container, the containers without a health check, the error's where or None)
HEALTHY = [
    ("healthy-with-a-check", {"web": {"db": "healthy"}, "db": {}}, set(), None),
    ("healthy-without-a-check", {"web": {"db": "healthy"}, "db": {}}, {"db"}, "containers.web.depends_on.db"),
    ("started-needs-no-check", {"web": {"db": "started"}, "db": {}}, {"db"}, None),
    (
        "first-by-name",
        {"b": {"x": "healthy"}, "a": {"x": "healthy"}, "x": {}},
        {"x"},
        "containers.a.depends_on.x",
    ),
    ("no-dependencies", {"web": {}}, {"web"}, None),
]


@pytest.mark.parametrize("name,graph,without_check,where", HEALTHY, ids=[c[0] for c in HEALTHY])
def test_a_healthy_dependency_needs_a_health_check(name, graph, without_check, where) -> None:
    if where is None:
        depends.check_healthy(graph, without_check)
        return
    with pytest.raises(HpError) as error:
        depends.check_healthy(graph, without_check)
    assert (error.value.where, error.value.source) == (where, "spec")
    assert "has no health check" in error.value.problem
