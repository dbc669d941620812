"""Which URLs and addresses a webhook may call: https to public addresses by default; http, and
loopback or private addresses, only when HERALD_WEBHOOK_ALLOW_PRIVATE=1. The address is checked
where the connection is made, after resolving the name ourselves, so a name that resolves to a
public address when checked and to a private one when used (DNS rebinding) gets nowhere."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore

MAX_URL = 2_048
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def refusal(ip: Address, *, public: bool, private: bool) -> str | None:
    """Why a connection to `ip` is refused, or None when it is allowed."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if private else f"{ip} is a loopback address"
    if ip.is_unspecified or ip.is_link_local or ip.is_multicast or ip.is_reserved:
        return f"{ip} is not an address webhooks may call"
    if ip.is_global:
        return None if public else f"{ip} is a public address, which only https may call"
    if ip.is_private:
        return None if private else f"{ip} is a private address"
    return f"{ip} is not an address webhooks may call"


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """What is wrong with an endpoint's URL, or None. A name is resolved only when it is
    called; an address given literally is checked now as well."""
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL} characters"
    if not url.isprintable() or any(ch.isspace() for ch in url) or not _encodable(url):
        return "must not contain spaces, control or unpaired surrogate characters"
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "is not a URL"
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_private):
        return "must be an https URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials: it is stored in clear"
    if port == 0:
        return "must not name port 0"
    try:
        ip = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return None
    why = refusal(ip, public=scheme == "https", private=allow_private)
    return None if why is None else f"cannot be called: {why}"


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses `refusal` allows; TLS still
    checks the certificate against the URL's host name."""

    def __init__(self, *, public: bool, private: bool) -> None:
        self.public = public
        self.private = private
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve(host, port)
        allowed = [
            a for a in addresses if refusal(a, public=self.public, private=self.private) is None
        ]
        if not allowed:
            why = refusal(addresses[0], public=self.public, private=self.private)
            raise httpcore.ConnectError(f"refused to connect: {why}")
        failure: Exception | None = None
        for address in allowed:
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks do not call local sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


async def resolve(host: str, port: int) -> list[Address]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM
        )
    except OSError as error:
        raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    if not found:
        raise httpcore.ConnectError(f"{host} resolves to no address")
    return found
