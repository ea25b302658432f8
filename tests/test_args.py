"""process.args (compiler/args.py: resolve_args), every branch of issue 2's pinned rule
(also oci-conversion.md F3 and pitfalls 5-6; podman run_entrypoint_test; CRI
TestContainerSpecCommand):

- image Entrypoint == [""] counts as absent; command == [] counts as absent; null = absent;
- entrypoint absent: image Entrypoint + (command if non-empty else image Cmd);
- entrypoint []: command if non-empty else image Cmd;
- entrypoint [""]: docker's --entrypoint "": no entrypoint and no image Cmd → command;
- entrypoint non-empty: entrypoint + command (the image Cmd is dropped);
- empty args, or args[0] == "": an error "no command to run: …", never a silent `sh`.
"""

from __future__ import annotations

import pytest

from compiler.args import resolve_args
from compiler.errors import HpError

WHERE = "containers.web"
EP = ["/docker-entrypoint.sh"]
CMD = ["nginx", "-g", "daemon off;"]

Seq = list[str] | None


@pytest.mark.parametrize(
    "image_ep, image_cmd, entrypoint, command, expected",
    [
        # entrypoint absent
        (EP, CMD, None, None, ("/docker-entrypoint.sh", "nginx", "-g", "daemon off;")),
        (EP, CMD, None, ["sh"], ("/docker-entrypoint.sh", "sh")),
        (EP, CMD, None, [], ("/docker-entrypoint.sh", "nginx", "-g", "daemon off;")),
        (None, CMD, None, None, ("nginx", "-g", "daemon off;")),
        (None, CMD, None, ["top"], ("top",)),
        (EP, None, None, None, ("/docker-entrypoint.sh",)),
        ([], CMD, None, None, ("nginx", "-g", "daemon off;")),
        ([""], CMD, None, None, ("nginx", "-g", "daemon off;")),
        ([""], CMD, None, ["top", "-b"], ("top", "-b")),
        (["/init", "--"], ["run"], None, None, ("/init", "--", "run")),
        # entrypoint = []
        (EP, CMD, [], None, ("nginx", "-g", "daemon off;")),
        (EP, CMD, [], ["top"], ("top",)),
        (EP, CMD, [], [], ("nginx", "-g", "daemon off;")),
        (None, CMD, [], None, ("nginx", "-g", "daemon off;")),
        # entrypoint = [""]
        (EP, CMD, [""], ["top"], ("top",)),
        (None, CMD, [""], ["top", "-b"], ("top", "-b")),
        # entrypoint non-empty
        (EP, CMD, ["/bin/app"], None, ("/bin/app",)),
        (EP, CMD, ["/bin/app"], [], ("/bin/app",)),
        (EP, CMD, ["/bin/app", "-v"], ["--port", "80"], ("/bin/app", "-v", "--port", "80")),
        (None, None, ["/bin/app"], None, ("/bin/app",)),
        ([""], CMD, ["/bin/app"], None, ("/bin/app",)),
        (EP, CMD, ["/bin/app", ""], None, ("/bin/app", "")),
        # arguments are never split, joined or expanded
        (None, ["sh", "-c", "echo $HOME; exit 0"], None, None, ("sh", "-c", "echo $HOME; exit 0")),
        (None, None, None, ["a b", "'c'", '"d"'], ("a b", "'c'", '"d"')),
        (None, None, None, ["/bin/app", ""], ("/bin/app", "")),
    ],
    ids=[
        "absent-image-ep-plus-image-cmd",
        "absent-command-replaces-image-cmd",
        "absent-empty-command-is-absent",
        "absent-no-image-ep",
        "absent-no-image-ep-command",
        "absent-image-ep-only",
        "absent-image-ep-empty-list",
        "absent-image-ep-empty-string-ignored",
        "absent-image-ep-empty-string-with-command",
        "absent-multi-word-image-ep",
        "empty-list-clears-ep-keeps-image-cmd",
        "empty-list-with-command",
        "empty-list-empty-command",
        "empty-list-no-image-ep",
        "empty-string-drops-image-cmd-uses-command",
        "empty-string-no-image-ep",
        "own-ep-drops-image-cmd",
        "own-ep-empty-command",
        "own-ep-plus-command",
        "own-ep-bare-image",
        "own-ep-over-image-empty-string-ep",
        "own-ep-later-empty-arg-kept",
        "no-shell-splitting",
        "quotes-kept-verbatim",
        "later-empty-arg-kept",
    ],
)
def test_resolve_args(image_ep: Seq, image_cmd: Seq, entrypoint: Seq, command: Seq, expected: tuple[str, ...]) -> None:
    assert resolve_args(image_ep, image_cmd, entrypoint, command, WHERE) == expected


@pytest.mark.parametrize(
    "image_ep, image_cmd, entrypoint, command",
    [
        (None, None, None, None),
        ([], [], None, None),
        ([""], None, None, None),
        ([""], [], None, []),
        (None, None, [], None),
        (EP, None, [], None),
        (EP, CMD, [""], None),
        (EP, CMD, [""], []),
        (None, None, [""], None),
        (None, [""], None, None),
        (None, ["", "x"], None, None),
        ([""], ["", "x"], None, None),
        (None, None, None, [""]),
        (EP, CMD, ["", "x"], None),
        (None, CMD, [], [""]),
    ],
    ids=[
        "nothing-at-all",
        "image-empty-lists",
        "image-ep-empty-string-only",
        "image-ep-empty-string-empty-command",
        "empty-ep-no-image-cmd",
        "empty-ep-clears-image-ep-no-cmd",
        "empty-string-ep-drops-image-cmd",
        "empty-string-ep-empty-command",
        "empty-string-ep-bare-image",
        "image-cmd-empty-string",
        "image-cmd-starts-empty",
        "image-ep-empty-string-cmd-starts-empty",
        "command-empty-string",
        "own-ep-starts-empty",
        "command-empty-string-under-empty-ep",
    ],
)
def test_no_command_to_run(image_ep: Seq, image_cmd: Seq, entrypoint: Seq, command: Seq) -> None:
    with pytest.raises(HpError) as info:
        resolve_args(image_ep, image_cmd, entrypoint, command, WHERE)
    err = info.value
    assert err.problem.startswith("no command to run"), err.problem
    assert err.where.startswith(WHERE)
    assert "\n" not in str(err)


@pytest.mark.parametrize(
    "entrypoint, command, where",
    [
        (["/bin/app\0"], None, f"{WHERE}.entrypoint[0]"),
        (["/bin/app", "a\0b"], None, f"{WHERE}.entrypoint[1]"),
        (None, ["x", "y", "\0"], f"{WHERE}.command[2]"),
    ],
    ids=["nul-in-entrypoint", "nul-in-entrypoint-arg", "nul-in-command"],
)
def test_nul_bytes_are_errors_naming_the_argument(entrypoint: Seq, command: Seq, where: str) -> None:
    with pytest.raises(HpError) as info:
        resolve_args(None, ["sh"], entrypoint, command, WHERE)
    assert info.value.where == where


def test_nul_in_image_args_is_an_error() -> None:
    with pytest.raises(HpError):
        resolve_args(["/init\0"], ["x"], None, None, WHERE)


def test_inputs_are_not_mutated() -> None:
    image_ep, image_cmd, ep, cmd = ["/a"], ["b"], None, ["c"]
    resolve_args(image_ep, image_cmd, ep, cmd, WHERE)
    assert (image_ep, image_cmd, cmd) == (["/a"], ["b"], ["c"])
