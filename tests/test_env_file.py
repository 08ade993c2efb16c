"""The environment file carries every value exactly, whatever it holds.

brefboard.env.j2 double-quotes each value with \\ " $ and ` escaped: systemd's
EnvironmentFile= parser and a shell sourcing the file (`set -a; . file`) both
read that back to the exact value. A Vault secret with a quote, a dollar or a
backslash must come out unchanged; a line break cannot be carried and is
refused in preflight, naming the setting.
"""
import subprocess

import pytest

from conftest import ROOT, lab_running, preflight_task

TRICKY = "it's \"quoted\" $HOME ${PATH} \\back\\slash `whoami` $(id)  two  spaces ! # ; & | < > * ? ~ é"
SECRET = "s3cr3t-'with\"quotes'-$dollar-`tick`-\\-0123456789abcdef0123456789"
TEMPLATE = ROOT / "roles" / "brefboard" / "templates" / "brefboard.env.j2"


def render(play, **hostvars):
    results = play.run({"web1": hostvars}, {"web": ["web1"]}, [
        preflight_task(),
        {"name": "Render the environment file",
         "ansible.builtin.template": {"src": str(TEMPLATE), "dest": "{{ test_out }}/brefboard.env", "mode": "0600"}},
        {"name": "Record the environment", "ansible.builtin.set_fact": {"test_result": {"env": "{{ _brefboard_env }}"}}},
    ])
    return results["web1"], play.out / "brefboard.env"


def bash_reads(path):
    """The variables bash sets from the file (NUL-separated env, so values may hold anything)."""
    out = subprocess.run(["bash", "-c", 'set -a; . "$1"; env -0', "bash", str(path)],
                         capture_output=True, check=True, env={"PATH": "/usr/bin:/bin"}).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def test_every_value_reads_back_exactly_in_bash(play):
    result, path = render(play, brefboard_extra_env={"BREFBOARD_TRICKY": TRICKY}, brefboard_secret_key=SECRET)
    assert result["ok"], result
    env = result["env"]
    assert env["BREFBOARD_TRICKY"] == TRICKY and env["DJANGO_SECRET_KEY"] == SECRET
    read = bash_reads(path)
    for name, value in env.items():
        assert read.get(name) == str(value), (name, read.get(name), value)


def test_a_line_break_is_refused_in_preflight_naming_the_setting(play):
    results = play.run({"web1": {"brefboard_extra_env": {"BREFBOARD_TWO_LINES": "one\ntwo"}},
                        "web2": {"brefboard_secret_key": "0123456789abcdef0123456789abcdef\nline-two"}},
                       {"web": ["web1", "web2"]}, [preflight_task()])
    for host, name in (("web1", "BREFBOARD_TWO_LINES"), ("web2", "DJANGO_SECRET_KEY")):
        r = results[host]
        assert not r["ok"] and r["failed"] == "Refuse values with a line break in the environment file", r
        assert name in r["msg"] and "line-two" not in r["msg"], r["msg"]


@pytest.mark.skipif(not lab_running(), reason="systemd is checked on the lab's lab-web (make lab)")
def test_systemd_reads_the_same_values(play):
    result, path = render(play, brefboard_extra_env={"BREFBOARD_TRICKY": TRICKY}, brefboard_secret_key=SECRET)
    dest = "/root/brefboard-env-test.env"  # not /tmp: a tmpfs that docker cp writes beneath
    subprocess.run(["docker", "cp", str(path), f"lab-web:{dest}"], check=True)
    try:
        out = subprocess.run(
            ["docker", "exec", "lab-web", "systemd-run", "--quiet", "--wait", "--pipe", "--collect",
             f"--property=EnvironmentFile={dest}", "/usr/bin/env", "-0"],
            capture_output=True, check=True).stdout.decode()
    finally:
        subprocess.run(["docker", "exec", "lab-web", "rm", "-f", dest], check=False)
    read = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    for name, value in result["env"].items():
        assert read.get(name) == str(value), (name, read.get(name), value)
