"""seccomp: a profile file compiled into config.json's linux.seccomp, as podman 4.3.1 does it. Pure.

A profile is either containers-common's (moby's) format: defaultAction, defaultErrno(Ret), archMap and
syscalls[] whose rules hold only for some capabilities, architectures or kernels (includes/excludes);
or an OCI LinuxSeccomp, used as it is. For the containers-common format podman's algorithm
(containers/common pkg/seccomp setupSeccomp) decides, for the host's architecture and the
container's final bounding capability set:

- architectures: the archMap entry of the host's architecture and its subArchitectures (none for an
  architecture podman does not map: then the runtime's native one only);
- a rule is dropped when excludes.arches holds the host's architecture or excludes.caps any capability
  of the bounding set, or when includes.arches does not hold the architecture or includes.caps names a
  capability outside the set; every other rule is kept, in the file's order;
- errno: `errno` (a name like "EPERM", or a number) wins over `errnoRet`, for the default as for each rule.

minKernel (moby's; podman 4.3.1 does not read it) is decided from the kernel version fact, as moby does:
only "<kernel>.<major>" count, so 6.1.0-18-amd64 is 6.1. docs/seccomp.md has the whole story.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any, Literal

import msgspec

from . import oci
from .capabilities import ALL_CAPABILITIES
from .digests import sha256_hex
from .errors import HpError, quote
from .host import HostFacts, HostFile

Format = Literal["containers-common", "OCI LinuxSeccomp"]

_U32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
_U64 = Annotated[int, msgspec.Meta(ge=0)]  # and < 2**64: checked by hand (msgspec bounds are int64)

ACTIONS = (
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
)
OPERATORS = (
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
)
FLAGS = (
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
)

# libseccomp's architecture names (what includes/excludes.arches compare with) and their SCMP_ARCH_ ones
SCMP_ARCHES = {
    "x86": "SCMP_ARCH_X86",
    "amd64": "SCMP_ARCH_X86_64",
    "x32": "SCMP_ARCH_X32",
    "arm": "SCMP_ARCH_ARM",
    "arm64": "SCMP_ARCH_AARCH64",
    "loongarch64": "SCMP_ARCH_LOONGARCH64",
    "m68k": "SCMP_ARCH_M68K",
    "mips": "SCMP_ARCH_MIPS",
    "mips64": "SCMP_ARCH_MIPS64",
    "mips64n32": "SCMP_ARCH_MIPS64N32",
    "mipsel": "SCMP_ARCH_MIPSEL",
    "mipsel64": "SCMP_ARCH_MIPSEL64",
    "mipsel64n32": "SCMP_ARCH_MIPSEL64N32",
    "ppc": "SCMP_ARCH_PPC",
    "ppc64": "SCMP_ARCH_PPC64",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "s390": "SCMP_ARCH_S390",
    "s390x": "SCMP_ARCH_S390X",
    "sh": "SCMP_ARCH_SH",
    "sheb": "SCMP_ARCH_SHEB",
    "parisc": "SCMP_ARCH_PARISC",
    "parisc64": "SCMP_ARCH_PARISC64",
    "riscv64": "SCMP_ARCH_RISCV64",
}
# the architectures whose archMap entry podman uses (containers/common's nativeToSeccomp); others get none
PODMAN_MAPPED = ("amd64", "arm64", "mips64", "mips64n32", "mipsel64", "mipsel64n32", "s390x")
# `uname -m` → libseccomp's name (a libseccomp name is taken as it is)
_MACHINES = {
    "x86_64": "amd64",
    "i386": "x86",
    "i486": "x86",
    "i586": "x86",
    "i686": "x86",
    "aarch64": "arm64",
    "aarch64_be": "arm64",
    "armv6l": "arm",
    "armv7l": "arm",
    "armv8l": "arm",
    "loongarch64": "loongarch64",
}

# errno names → numbers: Linux's asm-generic numbering (x86, arm, arm64, s390, riscv, loongarch; ppc but
# for EDEADLOCK), which podman's errnoArch holds on those; mips, parisc and sparc number them otherwise
ERRNO = dict(
    zip(
        [
            "EPERM",
            "ENOENT",
            "ESRCH",
            "EINTR",
            "EIO",
            "ENXIO",
            "E2BIG",
            "ENOEXEC",
            "EBADF",
            "ECHILD",
            "EAGAIN",
            "ENOMEM",
            "EACCES",
            "EFAULT",
            "ENOTBLK",
            "EBUSY",
            "EEXIST",
            "EXDEV",
            "ENODEV",
            "ENOTDIR",
            "EISDIR",
            "EINVAL",
            "ENFILE",
            "EMFILE",
            "ENOTTY",
            "ETXTBSY",
            "EFBIG",
            "ENOSPC",
            "ESPIPE",
            "EROFS",
            "EMLINK",
            "EPIPE",
            "EDOM",
            "ERANGE",
            "EDEADLK",
            "ENAMETOOLONG",
            "ENOLCK",
            "ENOSYS",
            "ENOTEMPTY",
            "ELOOP",
            "-",
            "ENOMSG",
            "EIDRM",
            "ECHRNG",
            "EL2NSYNC",
            "EL3HLT",
            "EL3RST",
            "ELNRNG",
            "EUNATCH",
            "ENOCSI",
            "EL2HLT",
            "EBADE",
            "EBADR",
            "EXFULL",
            "ENOANO",
            "EBADRQC",
            "EBADSLT",
            "-",
            "EBFONT",
            "ENOSTR",
            "ENODATA",
            "ETIME",
            "ENOSR",
            "ENONET",
            "ENOPKG",
            "EREMOTE",
            "ENOLINK",
            "EADV",
            "ESRMNT",
            "ECOMM",
            "EPROTO",
            "EMULTIHOP",
            "EDOTDOT",
            "EBADMSG",
            "EOVERFLOW",
            "ENOTUNIQ",
            "EBADFD",
            "EREMCHG",
            "ELIBACC",
            "ELIBBAD",
            "ELIBSCN",
            "ELIBMAX",
            "ELIBEXEC",
            "EILSEQ",
            "ERESTART",
            "ESTRPIPE",
            "EUSERS",
            "ENOTSOCK",
            "EDESTADDRREQ",
            "EMSGSIZE",
            "EPROTOTYPE",
            "ENOPROTOOPT",
            "EPROTONOSUPPORT",
            "ESOCKTNOSUPPORT",
            "EOPNOTSUPP",
            "EPFNOSUPPORT",
            "EAFNOSUPPORT",
            "EADDRINUSE",
            "EADDRNOTAVAIL",
            "ENETDOWN",
            "ENETUNREACH",
            "ENETRESET",
            "ECONNABORTED",
            "ECONNRESET",
            "ENOBUFS",
            "EISCONN",
            "ENOTCONN",
            "ESHUTDOWN",
            "ETOOMANYREFS",
            "ETIMEDOUT",
            "ECONNREFUSED",
            "EHOSTDOWN",
            "EHOSTUNREACH",
            "EALREADY",
            "EINPROGRESS",
            "ESTALE",
            "EUCLEAN",
            "ENOTNAM",
            "ENAVAIL",
            "EISNAM",
            "EREMOTEIO",
            "EDQUOT",
            "ENOMEDIUM",
            "EMEDIUMTYPE",
            "ECANCELED",
            "ENOKEY",
            "EKEYEXPIRED",
            "EKEYREVOKED",
            "EKEYREJECTED",
            "EOWNERDEAD",
            "ENOTRECOVERABLE",
            "ERFKILL",
            "EHWPOISON",
        ],
        range(1, 134),
        strict=True,
    )
)
ERRNO.pop("-")
ERRNO.update(EWOULDBLOCK=11, EDEADLOCK=35, ENOTSUP=95)
_ERRNO_BASE = 34  # asm-generic/errno-base.h: EPERM (1) to ERANGE (34) are the same on every architecture
_GENERIC_ERRNO = (
    "x86",
    "amd64",
    "x32",
    "arm",
    "arm64",
    "s390",
    "s390x",
    "riscv64",
    "loongarch64",
    "ppc",
    "ppc64",
    "ppc64le",
)

_KERNEL = re.compile(r"(\d+)\.(\d+)")
_MIN_KERNEL = re.compile(r"(\d{1,3})\.(\d{1,3})")


class _Profile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


# ------------------------------------------------------------------ containers-common (moby) format


class Filter(_Profile, frozen=True, rename={"min_kernel": "minKernel"}):
    caps: tuple[str, ...] | None = None
    arches: tuple[str, ...] | None = None
    min_kernel: str | None = None


class Arg(_Profile, frozen=True, kw_only=True, rename={"value_two": "valueTwo"}):
    index: _U32
    value: _U64
    value_two: _U64 = 0
    op: str


class Rule(_Profile, frozen=True, rename={"errno_ret": "errnoRet"}):
    action: str
    name: str = ""  # the old spelling of one name
    names: tuple[str, ...] | None = None
    args: tuple[Arg, ...] | None = None
    comment: str = ""
    includes: Filter | None = None
    excludes: Filter | None = None
    errno_ret: _U32 | None = None
    errno: str = ""


class ArchMap(_Profile, frozen=True, rename={"sub_architectures": "subArchitectures"}):
    architecture: str
    sub_architectures: tuple[str, ...] | None = None


class Profile(_Profile, frozen=True, rename="camel"):
    """A profile in containers-common's format (moby's: the same fields)."""

    default_action: str = ""
    default_errno_ret: _U32 | None = None
    default_errno: str = ""
    architectures: tuple[str, ...] | None = None  # the old way, instead of archMap
    arch_map: tuple[ArchMap, ...] | None = None
    syscalls: tuple[Rule, ...] | None = None
    flags: tuple[str, ...] | None = None


# keys only containers-common's format has: one of them tells the formats apart (otherwise both read alike)
_COMMON_ONLY = frozenset({"defaultErrno", "archMap"})
_COMMON_ONLY_RULE = frozenset({"name", "comment", "includes", "excludes", "errno"})


class ParsedProfile(msgspec.Struct, frozen=True):
    """A profile file, parsed and checked: `shown` names it in messages."""

    shown: str
    format: Format
    common: Profile | None = None  # containers-common's format
    oci: oci.LinuxSeccomp | None = None  # an OCI LinuxSeccomp: used as it is


def machine_arch(machine: str, where: str = "arch") -> str:
    """`uname -m` (x86_64, aarch64 ...) or a libseccomp name (amd64, arm64 ...) → libseccomp's name."""
    if not machine:
        raise HpError(where, "no architecture given (what uname -m prints)")
    arch = _MACHINES.get(machine, "arm" if machine.startswith("armv") else machine)
    if arch not in SCMP_ARCHES:
        raise HpError(
            where,
            f"unknown architecture {quote(machine)} (expected what uname -m prints, like x86_64 "
            "or aarch64, or a libseccomp name like amd64)",
        )
    return arch


def kernel_version(release: str, where: str = "kernel") -> tuple[int, int]:
    """`uname -r` ("6.1.0-18-amd64") → (6, 1): only the kernel and major revision count, as for moby."""
    m = _KERNEL.match(release)
    if not m:
        raise HpError(where, f"{quote(release)} is not a kernel version (like 6.1.0-18-amd64)")
    return int(m[1]), int(m[2])


@lru_cache(maxsize=16)  # one parse per profile text, however many containers use it
def parse_profile(file: HostFile) -> ParsedProfile:
    """The profile in `file`, checked: HpError("FILE", "PATH: PROBLEM (FORMAT)") for anything wrong."""
    try:
        raw = msgspec.json.decode(file.text)
    except msgspec.DecodeError as e:
        raise HpError(file.shown, f"invalid JSON: {e}", source="seccomp") from None
    if not isinstance(raw, dict):
        raise HpError(file.shown, "not a seccomp profile: expected a JSON object", source="seccomp")
    kind: Format = "containers-common" if _is_common(raw) else "OCI LinuxSeccomp"
    try:
        if kind == "containers-common":
            profile = msgspec.convert(raw, Profile, strict=True)
            _check_common(profile)
            return ParsedProfile(file.shown, kind, common=profile)
        seccomp = msgspec.convert(raw, oci.LinuxSeccomp, strict=True)
        _check_oci(seccomp)
        return ParsedProfile(file.shown, kind, oci=seccomp)
    except msgspec.ValidationError as e:
        from .spec import decode_error

        err = decode_error(e)  # its words are TOML's: a JSON file has objects
        problem = err.problem.replace("a table", "an object")
        raise HpError(file.shown, f"{err.where}: {problem} (a profile in {kind} format)", source="seccomp") from None
    except HpError as e:
        raise HpError(file.shown, f"{e.where}: {e.problem} (a profile in {kind} format)", source="seccomp") from None


def _is_common(raw: dict[str, Any]) -> bool:
    if _COMMON_ONLY & raw.keys():
        return True
    rules = raw.get("syscalls")
    return isinstance(rules, list) and any(isinstance(r, dict) and _COMMON_ONLY_RULE & r.keys() for r in rules)


def _check_common(p: Profile) -> None:
    if p.architectures and p.arch_map:
        raise HpError("archMap", "both architectures and archMap are given: use one")
    _check_action(p.default_action or "SCMP_ACT_ALLOW", "defaultAction")
    _check_errno_name(p.default_errno, "defaultErrno")
    for i, a in enumerate(p.architectures or ()):
        _check_scmp_arch(a, f"architectures[{i}]")
    for i, m in enumerate(p.arch_map or ()):
        _check_scmp_arch(m.architecture, f"archMap[{i}].architecture")
        for j, a in enumerate(m.sub_architectures or ()):
            _check_scmp_arch(a, f"archMap[{i}].subArchitectures[{j}]")
    _check_flags(p.flags)
    for i, rule in enumerate(p.syscalls or ()):
        at = f"syscalls[{i}]"
        if rule.name and rule.names:
            raise HpError(at, "both name and names are given: use one")
        if not rule.name and not rule.names:
            raise HpError(f"{at}.names", "no syscall named")
        _check_action(rule.action, f"{at}.action")
        _check_errno_name(rule.errno, f"{at}.errno")
        _check_args(rule.args, at)
        for side, f in (("includes", rule.includes), ("excludes", rule.excludes)):
            if f is None:
                continue
            for j, c in enumerate(f.caps or ()):
                if c not in ALL_CAPABILITIES:
                    raise HpError(f"{at}.{side}.caps[{j}]", f"unknown capability {quote(c)} (like CAP_SYS_ADMIN)")
            for j, a in enumerate(f.arches or ()):
                if a not in SCMP_ARCHES:
                    raise HpError(
                        f"{at}.{side}.arches[{j}]",
                        f"unknown architecture {quote(a)} (libseccomp's names: amd64, arm64, x86 ...)",
                    )
            if f.min_kernel:
                _min_kernel(f.min_kernel, f"{at}.{side}.minKernel")


def _check_oci(s: oci.LinuxSeccomp) -> None:
    _check_action(s.default_action, "defaultAction")
    _check_range(s.default_errno_ret, 32, "defaultErrnoRet")
    for i, a in enumerate(s.architectures or ()):
        _check_scmp_arch(a, f"architectures[{i}]")
    _check_flags(s.flags)
    for i, rule in enumerate(s.syscalls or ()):
        if not rule.names:
            raise HpError(f"syscalls[{i}].names", "no syscall named")
        _check_action(rule.action, f"syscalls[{i}].action")
        _check_range(rule.errno_ret, 32, f"syscalls[{i}].errnoRet")
        _check_args(rule.args, f"syscalls[{i}]")
        for j, arg in enumerate(rule.args or ()):
            _check_range(arg.index, 32, f"syscalls[{i}].args[{j}].index")


def _check_range(value: int | None, bits: int, where: str) -> None:
    if value is not None and not 0 <= value < 2**bits:
        raise HpError(where, f"{value} is out of range (0 to {2**bits - 1})")


def _check_action(action: str, where: str) -> None:
    if action == "SCMP_ACT_NOTIFY":
        raise HpError(where, "SCMP_ACT_NOTIFY needs a seccomp agent (listenerPath), which hp does not run")
    if action not in ACTIONS:
        raise HpError(where, f"unknown action {quote(action)} (expected one of {', '.join(ACTIONS)})")


def _check_errno_name(errno: str, where: str) -> None:
    if errno and not errno.isdigit() and errno not in ERRNO:
        raise HpError(where, f"unknown errno {quote(errno)} (a name like EPERM, or a number)")
    if errno.isdigit() and int(errno) >= 2**32:
        raise HpError(where, f"errno {errno} is out of range")


def _check_scmp_arch(arch: str, where: str) -> None:
    if arch not in SCMP_ARCHES.values():
        raise HpError(where, f"unknown architecture {quote(arch)} (like SCMP_ARCH_X86_64)")


def _check_flags(flags: tuple[str, ...] | None) -> None:
    for i, flag in enumerate(flags or ()):
        if flag not in FLAGS:
            raise HpError(f"flags[{i}]", f"unknown flag {quote(flag)} (expected one of {', '.join(FLAGS)})")


def _check_args(args: tuple[Arg | oci.LinuxSeccompArg, ...] | None, at: str) -> None:
    for j, arg in enumerate(args or ()):
        _check_range(arg.value, 64, f"{at}.args[{j}].value")
        _check_range(arg.value_two, 64, f"{at}.args[{j}].valueTwo")
        if arg.op not in OPERATORS:
            raise HpError(
                f"{at}.args[{j}].op", f"unknown operator {quote(arg.op)} (expected one of {', '.join(OPERATORS)})"
            )


def _min_kernel(text: str, where: str) -> tuple[int, int]:
    """moby's rule: "<kernel>.<major>", each 0-255, not 0.0."""
    m = _MIN_KERNEL.fullmatch(text)
    if not m or int(m[1]) > 255 or int(m[2]) > 255 or (int(m[1]), int(m[2])) == (0, 0):
        raise HpError(where, f'invalid minKernel {quote(text)}: expected "<kernel>.<major>" like "4.8"')
    return int(m[1]), int(m[2])


def _errno(name: str, ret: int | None, arch: str, where: str) -> int | None:
    """podman's getErrno: a name or number in `errno` wins over errnoRet."""
    if not name:
        return ret
    if name.isdigit():
        return int(name)
    if arch not in _GENERIC_ERRNO and ERRNO[name] > _ERRNO_BASE:
        raise HpError(
            where,
            f"errno names are known for {', '.join(_GENERIC_ERRNO)} only: give {quote(name)} "
            f"as a number (errnoRet) for {arch}",
        )
    return 58 if name == "EDEADLOCK" and arch.startswith("ppc") else ERRNO[name]


# ------------------------------------------------------------------ compiling


@lru_cache(maxsize=64)  # containers share a few capability sets, and hashing a HostFile is cheap
def compiled(file: HostFile, machine: str, kernel: str, bounding: tuple[str, ...]) -> oci.LinuxSeccomp | None:
    """compile_profile(parse_profile(file), ...), once per distinct input."""
    return compile_profile(parse_profile(file), machine, kernel, bounding)


def compile_profile(
    profile: ParsedProfile, machine: str, kernel: str, bounding: tuple[str, ...]
) -> oci.LinuxSeccomp | None:
    """linux.seccomp for a container with this bounding set on a host of this `uname -m` and `uname -r`
    (None: the profile has no defaultAction and no rules, which podman takes as no filter)."""
    arch = machine_arch(machine, "host arch")
    try:
        if profile.oci is not None:
            return profile.oci
        assert profile.common is not None
        return _compile_common(profile.common, arch, kernel, frozenset(bounding))
    except HpError as e:
        raise HpError(profile.shown, f"{e.where}: {e.problem}", source="seccomp") from None


def _compile_common(p: Profile, arch: str, kernel: str, bounding: frozenset[str]) -> oci.LinuxSeccomp | None:
    if not p.default_action and not p.syscalls:
        return None
    architectures = list(p.architectures or ())
    if arch in PODMAN_MAPPED:
        for m in p.arch_map or ():
            if m.architecture == SCMP_ARCHES[arch]:
                architectures += [m.architecture, *(m.sub_architectures or ())]
                break
    host_kernel: list[tuple[int, int]] = []  # parsed when a rule first needs it

    def kernel_at_least(text: str, where: str) -> bool:
        if not host_kernel:
            host_kernel.append(kernel_version(kernel, "kernel") if kernel else _no_kernel(where))
        return host_kernel[0] >= _min_kernel(text, where)

    rules = []
    for i, rule in enumerate(p.syscalls or ()):
        ex, inc = rule.excludes or Filter(), rule.includes or Filter()
        if arch in (ex.arches or ()) or bounding & set(ex.caps or ()):
            continue
        if ex.min_kernel and kernel_at_least(ex.min_kernel, f"syscalls[{i}].excludes.minKernel"):
            continue
        if inc.arches and arch not in inc.arches:
            continue
        if inc.caps and not bounding.issuperset(inc.caps):
            continue
        if inc.min_kernel and not kernel_at_least(inc.min_kernel, f"syscalls[{i}].includes.minKernel"):
            continue
        args = tuple(
            oci.LinuxSeccompArg(index=a.index, value=a.value, value_two=a.value_two, op=a.op) for a in rule.args or ()
        )
        rules.append(
            oci.LinuxSyscall(
                names=(rule.name,) if rule.name else rule.names or (),
                action=rule.action,
                errno_ret=_errno(rule.errno, rule.errno_ret, arch, f"syscalls[{i}].errno"),
                args=args or None,
            )
        )
    return oci.LinuxSeccomp(
        default_action=p.default_action,
        default_errno_ret=_errno(p.default_errno, p.default_errno_ret, arch, "defaultErrno"),
        architectures=tuple(architectures) or None,
        flags=p.flags or None,
        syscalls=tuple(rules) or None,
    )


def _no_kernel(where: str) -> tuple[int, int]:
    raise HpError(where, "the rule depends on the kernel's version, and no kernel version was given")


def container_seccomp(
    setting: str, *, privileged: bool, bounding: tuple[str, ...], host: HostFacts, where: str
) -> oci.LinuxSeccomp | None:
    """linux.seccomp for hp.toml's `seccomp` (at `where`): "default" (the host's profile, a fact), "unconfined"
    (none) or a profile file's path (host.seccomp_files). privileged, as podman's --privileged: no filter
    unless a profile file is named."""
    if not setting or "\0" in setting:
        raise HpError(where, 'expected "default", "unconfined" or the path of a profile file', source="spec")
    if setting == "unconfined" or (privileged and setting == "default"):
        return None
    if setting == "default":
        file = host.default_seccomp
        if file is None:
            raise HpError(
                where,
                "no default profile given: hp plan reads the host's; hp compile takes --seccomp-profile FILE",
                source="spec",
            )
    else:
        file = host.seccomp_files.get(setting)
        if file is None:
            raise HpError(where, f"the profile file {quote(setting)} was not given to the compiler", source="spec")
    return compiled(file, host.arch, host.kernel, tuple(bounding))


def check_profiles(host: HostFacts) -> None:
    """Parse every profile file in the host facts: the first bad one is an HpError before anything is pulled."""
    for file in (host.default_seccomp, *(host.seccomp_files[p] for p in sorted(host.seccomp_files))):
        if file is not None:
            parse_profile(file)


def profile_file(setting: str, privileged: bool, host: HostFacts) -> HostFile | None:
    """The profile file a container's filter is compiled from (None: no filter, or not given)."""
    if setting == "unconfined" or (privileged and setting == "default"):
        return None
    return host.default_seccomp if setting == "default" else host.seccomp_files.get(setting)


def profile_digest(file: HostFile) -> str:
    """The sha256 of a profile's text: what a plan fingerprints and a container's record keeps."""
    return "sha256:" + sha256_hex(file.text.encode("utf-8"))


def profile_digests(host: HostFacts) -> dict[str, str]:
    """Each profile file in the host facts (those the plan's containers use), by path: a saved plan's fingerprint."""
    files = ([host.default_seccomp] if host.default_seccomp else []) + list(host.seccomp_files.values())
    return {f.shown: profile_digest(f) for f in sorted(files, key=lambda f: f.shown)}


def profile_identity(file: HostFile | None) -> str:
    """ "PATH sha256:HEX" for a container's record ("" without a profile): a replace says when it changed."""
    return f"{file.shown} {profile_digest(file)}" if file is not None else ""


def changed_profile(before: str, after: str) -> str | None:
    """The path of the profile that changed between two profile_identity values (None: not that)."""
    if not before or not after or before == after:
        return None
    path, _, _ = after.rpartition(" ")
    return path if before.rpartition(" ")[0] == path else None
