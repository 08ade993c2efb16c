"""The firewall role's one computation: which flows this host lets in.

``firewall_rules`` takes the role's service list (name, port, at, from, proto,
when) and returns, for one host, the services it must open and the addresses
each may come from: a group in ``from`` stands for every address its hosts
have (their facts: a host with a private and a public network connects from
either), ``public``/``admin`` for the role's source lists, ``any`` for all.
"""
from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError

KEYWORDS = ("public", "admin")


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "0", "off", "none")
    return bool(value)


def _facts(hostvars, host):
    vars_ = hostvars[host]
    facts = vars_.get("ansible_facts") or {}
    v4 = facts.get("all_ipv4_addresses", vars_.get("ansible_all_ipv4_addresses"))
    v6 = facts.get("all_ipv6_addresses", vars_.get("ansible_all_ipv6_addresses"))
    if v4 is None and v6 is None:
        raise AnsibleFilterError(
            f"firewall: no addresses known for {host}, which other hosts' rules let in: gather its facts first "
            "(site.yml's first play does, also for the hosts outside --limit; a host that cannot be reached "
            "cannot be let in)")
    return list(v4 or []), list(v6 or [])


def _host_addresses(hostvars, host):
    v4, v6 = _facts(hostvars, host)
    out4 = {a for a in v4 if not ipaddress.ip_address(a).is_loopback}
    out6 = set()
    for a in v6:
        ip = ipaddress.ip_address(a.split("%")[0])
        if not (ip.is_loopback or ip.is_link_local):
            out6.add(str(ip))
    return out4, out6


def firewall_rules(services, host, groups, hostvars, public_sources=("any",), admin_sources=("any",)):
    mine = set(hostvars[host].get("group_names", [])) | {"all"}
    expand = {"public": list(public_sources), "admin": list(admin_sources)}
    rules = []
    for service in services:
        name = service.get("name") or "unnamed"
        if "when" in service and not _truthy(service["when"]):
            continue
        on = service.get("at") or []
        if isinstance(on, str):
            on = [on]
        if not mine & set(on):
            continue
        try:
            port = int(service["port"])
        except (KeyError, TypeError, ValueError):
            raise AnsibleFilterError(f"firewall: service {name!r} needs a port number (got {service.get('port')!r})")
        if not 0 < port < 65536:
            raise AnsibleFilterError(f"firewall: service {name!r}: port {port} is not 1 to 65535")
        proto = service.get("proto", "tcp")
        if proto not in ("tcp", "udp"):
            raise AnsibleFilterError(f"firewall: service {name!r}: proto must be tcp or udp (got {proto!r})")
        sources = service.get("from") or []
        if isinstance(sources, str):
            sources = [sources]
        everyone, v4, v6 = False, set(), set()
        pending = list(sources)
        while pending:
            source = str(pending.pop(0)).strip()
            if source in KEYWORDS:
                pending.extend(expand[source])
            elif source == "any":
                everyone = True
            elif source in groups or source == "all":
                for member in groups.get(source, []):
                    a4, a6 = _host_addresses(hostvars, member)
                    v4 |= a4
                    v6 |= a6
            else:
                try:
                    network = ipaddress.ip_network(source, strict=False)
                except ValueError:
                    # A group the inventory does not have (no Grafana host, no
                    # GPU worker) lets nobody in: closed is the safe side.
                    continue
                text = str(network.network_address) if network.num_addresses == 1 else str(network)
                (v4 if network.version == 4 else v6).add(text)
        if not (everyone or v4 or v6):
            continue
        rules.append({"name": name, "port": port, "proto": proto, "any": everyone,
                      "v4": sorted(v4, key=lambda a: ipaddress.ip_network(a, strict=False)),
                      "v6": sorted(v6, key=lambda a: ipaddress.ip_network(a, strict=False))})
    return rules


class FilterModule:
    def filters(self):
        return {"firewall_rules": firewall_rules}
