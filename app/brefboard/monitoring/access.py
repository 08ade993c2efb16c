"""Who may read the metrics: an allowlist of networks, or HTTP basic auth, or both.

Shared by the web ``/metrics`` view and the Celery workers' endpoint so that
both follow the same rules:

* the client's address (``REMOTE_ADDR``, never a forwarded header a client
  could write) is in ``BREFBOARD_METRICS_ALLOWED_CIDRS`` → allowed;
* otherwise, when ``BREFBOARD_METRICS_PASSWORD`` is set, a correct
  ``Authorization: Basic`` header → allowed, a missing or wrong one → 401;
* otherwise → 403.

Nothing is allowed by default. Credentials are compared in constant time.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from dataclasses import dataclass, field

ALLOWED, UNAUTHORIZED, FORBIDDEN = 200, 401, 403
REALM = 'Basic realm="BrefBoard metrics", charset="UTF-8"'


@dataclass(frozen=True)
class Policy:
    networks: tuple = field(default_factory=tuple)
    username: str = ""
    password: str = ""

    @classmethod
    def build(cls, cidrs, username: str = "", password: str = "") -> "Policy":
        """Parse the settings; a malformed network is a configuration error, said at once."""
        networks = []
        for cidr in cidrs:
            try:
                networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(f"BREFBOARD_METRICS_ALLOWED_CIDRS: {cidr!r} is not a network") from exc
        return cls(tuple(networks), username, password)

    @classmethod
    def from_settings(cls) -> "Policy":
        from django.conf import settings

        return cls.build(
            getattr(settings, "BREFBOARD_METRICS_ALLOWED_CIDRS", []),
            getattr(settings, "BREFBOARD_METRICS_USERNAME", "") or "metrics",
            getattr(settings, "BREFBOARD_METRICS_PASSWORD", ""),
        )

    def check(self, remote_addr: str | None, authorization: str | None) -> int:
        """ALLOWED, UNAUTHORIZED (ask for credentials) or FORBIDDEN."""
        if self._address_allowed(remote_addr):
            return ALLOWED
        if not self.password:
            return FORBIDDEN
        return ALLOWED if self._credentials_ok(authorization) else UNAUTHORIZED

    def _address_allowed(self, remote_addr: str | None) -> bool:
        if not remote_addr or not self.networks:
            return False
        try:
            addr = ipaddress.ip_address(remote_addr.split("%", 1)[0])
        except ValueError:
            return False
        if addr.version == 6 and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in net for net in self.networks)

    def _credentials_ok(self, authorization: str | None) -> bool:
        if not authorization or not authorization[:6].lower() == "basic ":
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep:
            return False
        # Both compared every time, in constant time: no timing hint on which one was wrong.
        user_ok = hmac.compare_digest(user.encode(), self.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        return user_ok and password_ok
