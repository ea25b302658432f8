"""The files hp bind-mounts onto a container's /etc: hostname, hosts, resolv.conf.

Written into the bundle by the executor; the image is never written to.
"""

from __future__ import annotations

import ipaddress


def hostname_file(hostname: str) -> str:
    return f"{hostname}\n"


def hosts_file(hostname: str, peers: tuple[tuple[str, str], ...] = ()) -> str:
    """The container itself on loopback, then (address, name) peers, as Docker writes it."""
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        f"127.0.1.1\t{hostname}",
    ]
    lines += [f"{address}\t{name}" for address, name in peers]
    return "\n".join(lines) + "\n"


def resolv_conf(host_resolv_conf: str, nameservers: tuple[str, ...] | None = None) -> str:
    """The container's resolv.conf: `nameservers` if given, else the host's, without
    loopback ones (a container's 127.0.0.1 is itself); search/options lines are kept."""
    out: list[str] = []
    servers: list[str] = list(nameservers or ())
    for line in host_resolv_conf.splitlines():
        words = line.split()
        if not words or words[0].startswith(("#", ";")):
            continue
        if words[0] == "nameserver" and len(words) >= 2:
            if nameservers is None and not _is_loopback(words[1]):
                servers.append(words[1])
        elif words[0] in ("search", "domain", "options"):
            out.append(" ".join(words))
    return "".join(f"nameserver {s}\n" for s in servers) + "".join(f"{line}\n" for line in out)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False
