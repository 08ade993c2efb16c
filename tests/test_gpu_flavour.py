"""The GPU flavour's PyTorch source, checked in preflight before anything is fetched.

openai-whisper workers install offline from the controller's GPU wheelhouse,
so torch must be one exact build (the CUDA one by default, +cpu to run the GPU
code path without a GPU), and a local wheel directory must exist. The build
and offline install themselves run in molecule/site (its worker is of the GPU
flavour).
"""
from conftest import preflight_task

CHECK = "Check where the GPU flavour's PyTorch comes from"
RECORD = {"name": "Record the flavour",
          "ansible.builtin.set_fact": {"test_result": {"flavour": "{{ _brefboard_flavor }}"}}}
GPU = {"brefboard_engine": "openai-whisper", "brefboard_device": "cpu", "brefboard_torch_device": "cpu"}


def test_preflight_takes_a_pinned_torch_and_refuses_what_cannot_install_offline(play, tmp_path):
    wheels = tmp_path / "torch-wheels"
    wheels.mkdir()
    results = play.run({
        "cuda": GPU,
        "cpubuild": {**GPU, "brefboard_torch_requirement": "torch==2.13.0+cpu", "brefboard_torch_find_links": str(wheels)},
        "index": {**GPU, "brefboard_torch_find_links": "https://wheels.example.org/torch/"},
        "unpinned": {**GPU, "brefboard_torch_requirement": "torch"},
        "range": {**GPU, "brefboard_torch_requirement": "torch>=2.6"},
        "nodir": {**GPU, "brefboard_torch_find_links": str(tmp_path / "missing")},
        # A CPU worker never installs torch: its setting is not its concern.
        "cpuworker": {"brefboard_torch_requirement": "torch"},
    }, {"workers_cpu": ["cuda", "cpubuild", "index", "unpinned", "range", "nodir", "cpuworker"]}, [preflight_task(), RECORD])
    for host in ("cuda", "cpubuild", "index"):
        assert results[host] == {"ok": True, "flavour": "gpu"}, (host, results[host])
    assert results["cpuworker"] == {"ok": True, "flavour": "cpu"}, results["cpuworker"]
    for host, setting, value in (("unpinned", "brefboard_torch_requirement", '"torch"'),
                                 ("range", "brefboard_torch_requirement", '"torch>=2.6"'),
                                 ("nodir", "brefboard_torch_find_links", str(tmp_path / "missing"))):
        r = results[host]
        assert not r["ok"] and r["failed"] == CHECK, (host, r)
        assert setting in r["msg"] and value in r["msg"] and "torch==2.13.0+cpu" in r["msg"], (host, r["msg"])
