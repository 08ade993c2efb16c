"""The language model's settings: endpoint and model in the environment, the key in a 0600 file only.

Workers write the summaries (the `summaries` queue), so they get the key file
(LLM_API_KEY_FILE, read by app/brefboard/summaries/llm.py); web hosts get
LLM_BASE_URL alone, for the page that says whether a model is configured. The
key is in no environment value and never printed by Ansible (no_log).
"""
import grp
import os
import pwd
import stat

from conftest import preflight_task

KEY = "sk-test-'quote\"-$dollar-0123456789"
LLM = {"brefboard_llm_base_url": "https://llm.example.org/v1", "brefboard_llm_model": "mistral-small-latest",
       "brefboard_llm_api_key": KEY}
RECORD = {"name": "Record the environment",
          "ansible.builtin.set_fact": {"test_result": {"env": "{{ _brefboard_env }}", "key_file": "{{ _brefboard_llm_key_file }}"}}}


def test_workers_get_the_key_file_web_hosts_the_endpoint_only(play):
    results = play.run(
        {"worker": LLM, "web": LLM, "none": {"brefboard_llm_api_key": KEY}, "nokey": {**LLM, "brefboard_llm_api_key": ""}},
        {"web": ["web"], "workers_cpu": ["worker", "none", "nokey"]},
        [preflight_task(), RECORD])
    assert all(r["ok"] for r in results.values()), results
    worker, web = results["worker"]["env"], results["web"]["env"]
    assert worker["LLM_BASE_URL"] == web["LLM_BASE_URL"] == "https://llm.example.org/v1"
    assert worker["LLM_MODEL"] == "mistral-small-latest" and worker["LLM_TIMEOUT"] == "60"
    assert worker["LLM_API_KEY_FILE"] == results["worker"]["key_file"] == "/etc/brefboard/llm-api-key"
    assert "LLM_API_KEY_FILE" not in web, "web hosts never call the model"
    assert "LLM_API_KEY_FILE" not in results["none"]["env"] and results["none"]["env"]["LLM_BASE_URL"] == ""
    assert "LLM_API_KEY_FILE" not in results["nokey"]["env"], "a keyless endpoint (a local Ollama) needs no file"
    for r in results.values():
        assert "LLM_API_KEY" not in r["env"]
        assert not any(KEY in str(v) or "sk-test" in str(v) for v in r["env"].values())


def test_preflight_rejects_a_half_done_configuration(play):
    results = play.run({
        "noscheme": {"brefboard_llm_base_url": "llm.example.org/v1", "brefboard_llm_model": "m"},
        "space": {"brefboard_llm_base_url": "https://llm example.org/v1", "brefboard_llm_model": "m"},
        "nomodel": {"brefboard_llm_base_url": "http://ollama:11434/v1"},
        "timeout": {**LLM, "brefboard_llm_timeout": 0},
        "twolines": {**LLM, "brefboard_llm_api_key": "line-one\nline-two"},
        "good": {"brefboard_llm_base_url": "http://ollama:11434/v1", "brefboard_llm_model": "llama3"},
    }, {"workers_cpu": ["noscheme", "space", "nomodel", "timeout", "twolines", "good"]}, [preflight_task()])
    assert results["good"]["ok"], results["good"]
    for host in ("noscheme", "space", "nomodel", "timeout"):
        r = results[host]
        assert not r["ok"] and r["failed"] == "Check the language model settings", (host, r)
        assert "brefboard_llm_base_url" in r["msg"] and "brefboard_llm_model" in r["msg"]
    r = results["twolines"]
    assert not r["ok"] and r["failed"] == "Check the language model's key fits in its file (from Vault)", r
    assert "line-two" not in play.proc.stdout


def test_the_key_file_is_written_0600_for_the_service_user_and_never_printed(play, tmp_path):
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    config = tmp_path / "etc"
    config.mkdir()
    host = {**LLM, "brefboard_config_dir": str(config), "brefboard_user": user, "brefboard_group": group}
    key_tasks = [preflight_task(), {"name": "Write the key file",
                                    "ansible.builtin.include_role": {"name": "brefboard", "tasks_from": "llm_key.yml"}}]
    results = play.run({"worker": host}, {"workers_cpu": ["worker"]}, key_tasks, extra_args=["-vvv"])
    assert results["worker"]["ok"], results
    key_file = config / "llm-api-key"
    assert key_file.read_text() == KEY
    st = key_file.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()
    assert KEY not in play.proc.stdout and "sk-test" not in play.proc.stdout

    # No endpoint any more: the key goes.
    results = play.run({"worker": {**host, "brefboard_llm_base_url": ""}}, {"workers_cpu": ["worker"]}, key_tasks)
    assert results["worker"]["ok"], results
    assert not key_file.exists()
