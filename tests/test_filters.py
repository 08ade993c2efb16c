"""The brefboard role's filters (roles/brefboard/filter_plugins/brefboard.py):
the worker profile, the addresses PostgreSQL and Redis listen on, and the
pg_hba entries for the app's hosts. Each case is what a host of that kind
gets; a filter given something it cannot decide on says so."""
import importlib.util

import pytest
from ansible.errors import AnsibleFilterError

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("brefboard_filters", ROOT / "roles/brefboard/filter_plugins/brefboard.py")
filters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(filters)
profile = filters.worker_profile


def test_the_filters_are_registered_under_their_names():
    assert set(filters.FilterModule().filters()) == {
        "brefboard_worker_profile", "brefboard_listen_addresses", "brefboard_hba_entries", "brefboard_web_names"}


def test_a_cpu_worker_gets_faster_whisper_on_the_cpu_queue():
    p = profile([], is_worker=True, vcpus=16, memtotal_mb=65536)
    assert p["device"] == "cpu" and p["engine"] == "faster-whisper"
    assert (p["flavour"], p["extras"], p["wheelhouse_set"]) == ("cpu", "[cpu]", "cpu")
    assert p["queue"] == "transcribe.cpu" and p["torch_device"] == "cpu" and p["engine_device"] == "cpu"
    # 16 cores / 4 threads = 4 processes (memory allows 32), each with 4 threads.
    assert (p["concurrency"], p["cpu_threads"]) == (4, 4)


def test_cpu_concurrency_is_held_by_memory_and_is_at_least_one():
    assert profile([], is_worker=True, vcpus=16, memtotal_mb=4096)["concurrency"] == 2
    small = profile([], is_worker=True, vcpus=2, memtotal_mb=1024)
    assert (small["concurrency"], small["cpu_threads"]) == (1, 2)
    # Without a memory fact only the cores count.
    assert profile([], is_worker=True, vcpus=8, memtotal_mb=None)["concurrency"] == 2


def test_a_worker_with_gpus_gets_openai_whisper_one_process_per_gpu():
    p = profile(["NVIDIA H200", "NVIDIA H200"], is_worker=True, vcpus=32, memtotal_mb=262144)
    assert p["device"] == "gpu" and p["gpu_count"] == 2 and p["engine"] == "openai-whisper"
    assert (p["flavour"], p["extras"], p["wheelhouse_set"]) == ("gpu", "[gpu]", "gpu")
    assert p["queue"] == "transcribe.gpu" and p["torch_device"] == "cuda" and p["engine_device"] == "cuda"
    assert (p["concurrency"], p["cpu_threads"]) == (2, 16)


def test_declared_cpu_ignores_the_gpu_and_a_web_host_is_web():
    p = profile(["NVIDIA H200"], is_worker=True, declared_device="cpu", vcpus=4, memtotal_mb=8192)
    assert (p["device"], p["queue"], p["flavour"]) == ("cpu", "transcribe.cpu", "cpu")
    web = profile([], is_worker=False, vcpus=4, memtotal_mb=8192)
    assert (web["flavour"], web["extras"], web["wheelhouse_set"]) == ("web", "", "cpu")
    # A web host is never on the GPU, even where nvidia-smi answered.
    assert profile(["NVIDIA H200"], is_worker=False)["device"] == "cpu"


def test_the_inventory_engine_torch_device_and_concurrency_win():
    p = profile(["NVIDIA H200"], is_worker=True, engine="faster-whisper", concurrency=3, vcpus=12, memtotal_mb=65536)
    assert p["engine"] == "faster-whisper" and p["flavour"] == "cpu" and p["engine_device"] == "cuda"
    assert (p["concurrency"], p["cpu_threads"]) == (3, 4)
    # openai-whisper on CPU (the GPU code path without a GPU): torch device cpu.
    q = profile([], is_worker=True, engine="openai-whisper", vcpus=4, memtotal_mb=8192)
    assert (q["flavour"], q["torch_device"], q["engine_device"], q["queue"]) == ("gpu", "cpu", "cpu", "transcribe.cpu")
    r = profile(["A100"], is_worker=True, torch_device="cuda:1")
    assert (r["torch_device"], r["engine_device"]) == ("cuda:1", "cuda:1")


def test_empty_nvidia_smi_lines_are_no_gpu():
    assert profile(["", "  "], is_worker=True, vcpus=4, memtotal_mb=8192)["device"] == "cpu"


@pytest.mark.parametrize("kwargs, words", [
    ({"declared_device": "tpu"}, "auto, cpu or gpu"),
    ({"engine": "whisper.cpp"}, "unknown engine"),
    ({"concurrency": "many"}, "concurrency must be a whole number"),
])
def test_the_profile_refuses_what_it_cannot_decide_on(kwargs, words):
    with pytest.raises(AnsibleFilterError, match=words):
        profile([], is_worker=True, **kwargs)


def test_services_listen_on_loopback_only_without_remote_clients():
    assert filters.listen_addresses([], "", "postgresql", "10.0.0.5") == ["localhost"]
    assert filters.listen_addresses([], "0.0.0.0", "redis", "10.0.0.5") == ["127.0.0.1", "-::1"]


def test_with_remote_clients_they_add_the_address_the_app_reaches_them_at():
    assert filters.listen_addresses(["10.0.0.7"], "", "postgresql", "10.0.0.5") == ["localhost", "10.0.0.5"]
    assert filters.listen_addresses(["10.0.0.7"], "", "redis", "10.0.0.5") == ["127.0.0.1", "-::1", "10.0.0.5"]
    assert filters.listen_addresses(["10.0.0.7"], "192.168.1.2", "redis", "10.0.0.5") == ["127.0.0.1", "-::1", "192.168.1.2"]


@pytest.mark.parametrize("wildcard", ["0.0.0.0", "*", "::"])
def test_a_wildcard_replaces_loopback(wildcard):
    # Binding loopback beside a wildcard makes the second bind fail.
    assert filters.listen_addresses(["10.0.0.7"], wildcard, "postgresql") == ["*"]
    assert filters.listen_addresses(["10.0.0.7"], wildcard, "redis") == ["0.0.0.0", "-::*"]


def test_listen_refuses_a_host_without_an_address_and_an_unknown_service():
    with pytest.raises(AnsibleFilterError, match="brefboard_services_listen"):
        filters.listen_addresses(["10.0.0.7"], "", "redis", "")
    with pytest.raises(AnsibleFilterError, match="postgresql or redis"):
        filters.listen_addresses([], "", "mysql")


def test_hba_entries_let_the_app_role_in_from_loopback_and_its_hosts_only():
    entries = filters.hba_entries(["10.0.0.7", "fd00::8", "10.1.0.0/16"], "brefboard", "app")
    assert [e["address"] for e in entries] == ["127.0.0.1/32", "::1/128", "10.0.0.7/32", "fd00::8/128", "10.1.0.0/16"]
    assert {(e["type"], e["database"], e["user"], e["auth_method"]) for e in entries} == {
        ("host", "brefboard", "app", "scram-sha-256")}
    assert len(filters.hba_entries([], "brefboard", "app")) == 2


def test_web_names_are_what_browsers_send_and_django_wants():
    names = filters.web_names(["https://BrefBoard.Example.org:443/", "http://10.1.2.3:8000", "http://[fd00::5]:8080",
                               " http://localhost:80 "], ["brefboard.example.org", "web1", "[::1]", "_bad"], "https", ":8443")
    assert names["origins"] == ["https://brefboard.example.org", "http://10.1.2.3:8000", "http://[fd00::5]:8080",
                                "http://localhost"]
    assert names["hosts"] == ["brefboard.example.org", "10.1.2.3", "[fd00::5]", "localhost"]
    assert names["allowed_hosts"] == ["brefboard.example.org", "10.1.2.3", "[fd00::5]", "localhost", "web1", "[::1]", "_bad"]
    # Extra hosts are trusted with nginx's own scheme and port; a name that cannot start a host is not.
    assert names["csrf_origins"] == names["origins"] + [
        "https://brefboard.example.org:8443", "https://web1:8443", "https://[::1]:8443"]


def test_web_names_refuse_another_scheme():
    with pytest.raises(AnsibleFilterError, match="http or https"):
        filters.web_names(["http://a"], [], "ftp")
