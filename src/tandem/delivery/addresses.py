"""Where the server may send a client's webhooks: public internet addresses only, unless the
provider allows named private networks (receivers on its own premises).

A client chooses the URL, so it could aim the server at itself (127.0.0.1, localhost), at the
provider's internal network, or at a cloud metadata service (169.254.169.254). Host names are
resolved by the system's resolver, which also reads every spelling of an address that
browsers and curl accept ('2130706433', '0x7f000001', '127.1', '0177.0.0.1'), and every
resolved address is checked: loopback, private, link-local, multicast, reserved, unspecified,
shared (carrier NAT) and IPv4 addresses mapped or embedded in IPv6 are refused. The check runs
when a hook is registered and again for every delivery, and the connection goes to the very
address that was checked (a name may resolve elsewhere by then: DNS rebinding).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RefusedAddress(ValueError):
    """The URL leads somewhere the server must not call; the message says why, for the client
    (it names no internal detail beyond what the client wrote)."""


def networks(setting: str) -> tuple[Network, ...]:
    """The allowed private networks of a comma-separated setting ('10.20.0.0/16, fd00::/8')."""
    parts = [part.strip() for part in setting.split(",")]
    return tuple(ipaddress.ip_network(part, strict=False) for part in parts if part)


def forbidden(address: Address, allowed: Sequence[Network] = ()) -> bool:
    """Whether the server must not connect to `address`."""
    if any(address in network for network in allowed):
        return False
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:
            return forbidden(embedded, allowed)
    return not address.is_global or address.is_multicast


@dataclass(frozen=True)
class Target:
    """A webhook URL checked: its host as written, the port, and the address to connect to."""

    scheme: str
    host: str
    port: int
    address: str


class Unresolved(RefusedAddress):
    """The host name does not resolve (now)."""


def check(url: str, allowed: Sequence[Network] = ()) -> None:
    """For a hook being registered: RefusedAddress if its URL is not HTTP(S) or its host is,
    or resolves to, an address webhooks may not call. A name that does not resolve yet is
    accepted (a receiver may go live later): each delivery checks again."""
    with contextlib.suppress(Unresolved):
        resolve(url, allowed)


def resolve(url: str, allowed: Sequence[Network] = ()) -> Target:
    """Check `url` and pick the address to connect to; RefusedAddress if the scheme is not
    HTTP(S), or any address the host resolves to is not allowed; Unresolved if it does not
    resolve."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedAddress("a webhook URL is http:// or https:// with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolved(f"the host {parts.hostname!r} does not resolve") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    if not addresses or any(forbidden(address, allowed) for address in addresses):
        raise RefusedAddress(
            f"the host {parts.hostname!r} is a loopback, private, link-local or reserved "
            "address: webhooks go to receivers on the internet"
        )
    return Target(parts.scheme, parts.hostname, port, str(addresses[0]))
