"""Filters of the brefboard role: decisions that are code, not templating.

Loaded with the role (roles/brefboard/filter_plugins), so every play that
imports the role has them; tests/test_filters.py tests them directly.
"""
from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

WILDCARDS = ("0.0.0.0", "*", "::")


def _int(value, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"brefboard_worker_profile: {name} must be a whole number, got {value!r}") from None


def worker_profile(gpus, is_worker: bool, declared_device: str = "auto", engine: str = "", torch_device: str = "",
                   concurrency=0, vcpus=1, memtotal_mb=None, threads_per_process=4, memory_mb_per_process=2048) -> dict:
    """Everything that follows from a host's device, once its GPUs are known.

    gpus: the GPU names nvidia-smi listed (empty when it was not asked, failed
    or listed none). Returns the device the worker uses (gpu only for a worker
    not declared cpu that has a GPU), the engine (the inventory's, else
    openai-whisper on GPU and faster-whisper on CPU), the package set of its
    virtualenv (flavour web/cpu/gpu, its pip extras and the wheelhouse set),
    the Celery queue, the torch device, the device the engine is given, the
    Celery concurrency and the threads of each process.
    """
    if declared_device not in ("auto", "cpu", "gpu"):
        raise AnsibleFilterError(f"brefboard_worker_profile: the device must be auto, cpu or gpu, got {declared_device!r}")
    if engine not in ("", "faster-whisper", "openai-whisper"):
        raise AnsibleFilterError(f"brefboard_worker_profile: unknown engine {engine!r}")
    gpus = [g for g in (gpus or []) if str(g).strip()]
    is_worker = bool(is_worker)
    device = "gpu" if is_worker and declared_device != "cpu" and gpus else "cpu"
    engine = engine or ("openai-whisper" if device == "gpu" else "faster-whisper")
    flavour = ("gpu" if engine == "openai-whisper" else "cpu") if is_worker else "web"
    torch = (torch_device or "cuda") if device == "gpu" else "cpu"
    vcpus = max(1, _int(vcpus if vcpus is not None else 1, "vcpus"))
    wanted = _int(concurrency or 0, "concurrency")
    if wanted > 0:
        processes = wanted
    elif device == "gpu":
        processes = max(len(gpus), 1)
    else:
        limits = [vcpus // max(1, _int(threads_per_process, "threads_per_process"))]
        if memtotal_mb is not None:
            limits.append(_int(memtotal_mb, "memtotal_mb") // max(1, _int(memory_mb_per_process, "memory_mb_per_process")))
        processes = max(1, min(limits))
    return {
        "device": device,
        "gpu_count": len(gpus),
        "engine": engine,
        "flavour": flavour,
        "extras": {"web": "", "cpu": "[cpu]", "gpu": "[gpu]"}[flavour],
        "wheelhouse_set": "gpu" if flavour == "gpu" else "cpu",
        "queue": "transcribe.gpu" if device == "gpu" else "transcribe.cpu",
        "torch_device": torch,
        # What BREFBOARD_DEVICE says: the torch device for openai-whisper,
        # cuda or cpu for faster-whisper.
        "engine_device": torch if engine == "openai-whisper" else ("cuda" if device == "gpu" else "cpu"),
        "concurrency": processes,
        "cpu_threads": max(1, vcpus // processes),
    }


def listen_addresses(clients, listen: str, service: str, host_address: str = "") -> list:
    """Addresses PostgreSQL or Redis listen on for the app.

    clients: the addresses of the app's hosts other than this one. None:
    loopback only. Otherwise loopback and `listen`: a wildcard covers loopback
    already (binding both makes the second bind fail: Redis refuses to start,
    PostgreSQL stays on loopback), and an empty `listen` is `host_address`,
    the address the app's hosts reach this host at.
    """
    if service not in ("postgresql", "redis"):
        raise AnsibleFilterError(f"brefboard_listen_addresses: service must be postgresql or redis, got {service!r}")
    loopback = ["localhost"] if service == "postgresql" else ["127.0.0.1", "-::1"]
    if not clients:
        return loopback
    listen = (listen or "").strip()
    if listen in WILDCARDS:
        return ["*"] if service == "postgresql" else ["0.0.0.0", "-::*"]
    if not listen:
        listen = (host_address or "").strip()
        if not listen:
            raise AnsibleFilterError(
                "brefboard_listen_addresses: the app's hosts are elsewhere but this host has no default IPv4 address "
                "to listen on: set brefboard_services_listen to the address they reach it at")
    return loopback + [listen]


def hba_entries(clients, database: str, user: str, auth_method: str = "scram-sha-256") -> list:
    """pg_hba.conf entries letting the app's role into its database from loopback and the app's hosts only."""
    entries = [{"type": "host", "database": database, "user": user, "address": address, "auth_method": auth_method}
               for address in ["127.0.0.1/32", "::1/128"]]
    for address in clients or []:
        address = str(address)
        entries.append({"type": "host", "database": database, "user": user,
                        "address": address if "/" in address else address + ("/128" if ":" in address else "/32"),
                        "auth_method": auth_method})
    return entries


def _unique(items) -> list:
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def web_names(public_urls, extra_hosts, scheme: str, port_suffix: str = "") -> dict:
    """Django's allowed hosts and CSRF trusted origins from the URLs users type.

    public_urls: scheme://host[:port] (preflight has checked them), made what
    browsers send in Origin: scheme and host in lower case, no trailing slash,
    the scheme's default port left out. hosts: their host names as
    ALLOWED_HOSTS wants them (no scheme or port; [::1] keeps its brackets).
    extra_hosts: more names the host answers to; each is allowed, and trusted
    as an origin with the `scheme` and `port_suffix` nginx itself serves.
    """
    if scheme not in ("http", "https"):
        raise AnsibleFilterError(f"brefboard_web_names: scheme must be http or https, got {scheme!r}")
    origins = []
    for url in public_urls or []:
        origin = re.sub("/$", "", str(url).strip().lower())
        origin = re.sub(r"^(http://[^/]+):80$", r"\1", origin)
        origin = re.sub(r"^(https://[^/]+):443$", r"\1", origin)
        origins.append(origin)
    origins = _unique(origins)
    hosts = _unique(re.sub(":[0-9]+$", "", re.sub("^[a-z]+://", "", o)) for o in origins)
    extra_hosts = _unique(str(h) for h in extra_hosts or [])
    return {
        "origins": origins,
        "hosts": hosts,
        "allowed_hosts": _unique(hosts + extra_hosts),
        "csrf_origins": _unique(origins + [f"{scheme}://{h.lower()}{port_suffix}"
                                           for h in extra_hosts if re.match("[A-Za-z0-9[]", h)]),
    }


class FilterModule:
    def filters(self):
        return {
            "brefboard_worker_profile": worker_profile,
            "brefboard_listen_addresses": listen_addresses,
            "brefboard_hba_entries": hba_entries,
            "brefboard_web_names": web_names,
        }
