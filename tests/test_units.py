"""Every systemd unit of the roles takes its sandbox from one template.

roles/systemd_hardening/templates/hardening.j2 is rendered into the units of
prometheus, node_exporter and brefboard (web, worker); the units keep only
what differs (writable paths, devices, address families...). Rendered here
as the roles render them, in a container and on a machine with a GPU, and
read back line by line as systemd reads them: one Key=value per line (an
include that ate its newline once glued a comment onto UMask=, which systemd
then ignored).
"""
import re

import pytest

from conftest import ROOT, Play

UNITS = {
    "prometheus": "prometheus/templates/prometheus.service.j2",
    "node_exporter": "node_exporter/templates/node_exporter.service.j2",
    "brefboard-web": "brefboard/templates/brefboard-web.service.j2",
    "brefboard-worker": "brefboard/templates/brefboard-worker.service.j2",
}
CASES = {
    "container": {"ansible_facts": {"virtualization_type": "docker", "virtualization_role": "guest"},
                  "_brefboard_effective_device": "cpu"},
    "gpu-machine": {"ansible_facts": {"virtualization_type": "kvm", "virtualization_role": "host"},
                    "_brefboard_effective_device": "gpu"},
}
# What the templates read besides the roles' defaults (brefboard's derived variables).
VARS = {
    "ansible_managed": "managed", "brefboard_user": "brefboard", "brefboard_group": "brefboard",
    "brefboard_data_dir": "/var/lib/brefboard", "brefboard_config_dir": "/etc/brefboard",
    "brefboard_gunicorn_timeout": 120, "brefboard_worker_extra_queues": ["summaries"],
    "brefboard_worker_stop_timeout": 900, "_brefboard_env_file": "/etc/brefboard/brefboard.env",
    "_brefboard_current": "/opt/brefboard/current", "_brefboard_queue": "cpu",
    "_brefboard_beat_host": "host", "_brefboard_concurrency": 2,
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    play = Play(tmp_path_factory.mktemp("units"))
    tasks = [
        {"name": "The roles' defaults", "ansible.builtin.include_vars": "%s/roles/{{ role }}/defaults/main.yml" % ROOT,
         "loop": ["prometheus", "node_exporter"], "loop_control": {"loop_var": "role"}},
        # The unit reads role-internal values too (_prometheus_external_url).
        {"name": "The prometheus role's vars", "ansible.builtin.include_vars": "%s/roles/prometheus/vars/main.yml" % ROOT},
        {"name": "Render every unit in every case", "ansible.builtin.set_fact": {"test_result": {"units": {
            f"{unit}/{case}": "{{ lookup('ansible.builtin.template', '%s/roles/%s', template_vars=%r"
                              " | combine({'role_path': '%s/roles/%s'})) }}"
                              % (ROOT, src, CASES[case], ROOT, src.split("/")[0])
            for unit, src in UNITS.items() for case in CASES}}}},
    ]
    result = play.run({"host": VARS}, {}, tasks, gather_facts=False)["host"]
    assert result["ok"], result
    return result["units"]


def directives(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#") or re.fullmatch(r"\[\w+\]", line):
            continue
        if line.startswith("  ") or line.rstrip().endswith("\\"):
            continue  # ExecStart continuation lines
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z]+", key), f"not a Key=value line: {line!r}"
        out.append((key, value))
    return out


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("case", CASES)
def test_every_unit_has_the_whole_sandbox(rendered, unit, case):
    d = dict(directives(rendered[f"{unit}/{case}"]))
    for key in ("NoNewPrivileges", "ProtectSystem", "PrivateTmp", "ProtectKernelTunables", "RestrictNamespaces",
                "LockPersonality", "RemoveIPC", "CapabilityBoundingSet", "SystemCallArchitectures"):
        assert key in d, f"{unit}: no {key}"
    assert re.fullmatch(r"0[0-7]{3}", d["UMask"]), f"{unit}: UMask={d['UMask']!r}"
    assert d["ProtectSystem"] == "strict"
    in_container = case == "container"
    # PrivateUsers needs user namespaces: never in a container, and node_exporter never.
    assert ("PrivateUsers" in d) == (not in_container and unit != "node_exporter"), unit


def test_what_differs_between_units(rendered):
    units = {name: directives(text) for name, text in rendered.items()}
    assert ("ReadWritePaths", "/var/lib/prometheus") in units["prometheus/container"]
    assert ("ReadWritePaths", "/var/lib/brefboard") in units["brefboard-web/container"]
    assert not any(k == "ReadWritePaths" for k, _ in units["node_exporter/container"])
    assert ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX AF_NETLINK") in units["node_exporter/container"]
    assert ("MemoryDenyWriteExecute", "no") in units["brefboard-web/container"]
    assert ("MemoryDenyWriteExecute", "yes") in units["prometheus/container"]
    gpu = units["brefboard-worker/gpu-machine"]
    assert ("DeviceAllow", "char-nvidia-uvm rw") in gpu and ("PrivateDevices", "yes") not in gpu
    assert ("PrivateDevices", "yes") in units["brefboard-worker/container"]


def test_no_unit_template_writes_its_own_sandbox():
    for src in UNITS.values():
        text = (ROOT / "roles" / src).read_text()
        assert "systemd_hardening/templates/hardening.j2" in text, src
        assert "SystemCallFilter" not in text and "ProtectSystem" not in text, f"{src} repeats the sandbox"
