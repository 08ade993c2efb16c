#!/usr/bin/python
"""Report in one round trip what the release_binary and prometheus roles would otherwise check task by task."""
import grp
import hashlib
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: release_binary_probe
short_description: State of files, directory trees, users and services, in one round trip
description:
  - Internal to the release_binary and prometheus roles. Changes nothing.
  - Lets a re-run skip every task whose target already is as wanted, so an
    unchanged host costs one module call instead of one per file.
options:
  paths:
    description: Files or directories to stat; a file also gets its sha256, a directory the names in it.
    type: list
    elements: path
    default: []
  trees:
    description: >-
      Directories to digest as one unit: sha256 over every regular file's relative
      path and sha256, in sorted order, and a count of entries that are not root-owned
      regular files or directories without group/other write.
    type: list
    elements: path
    default: []
  users:
    description: Users whose home, shell and primary group to report.
    type: list
    elements: str
    default: []
  groups:
    description: Groups whose existence to report.
    type: list
    elements: str
    default: []
  services:
    description: systemd units whose is-enabled and is-active state to report.
    type: list
    elements: str
    default: []
author: BrefBoard provisioning
"""

RETURN = r"""
paths:
  description: path -> {type (file, directory, link, other, absent), mode (octal string), owner, group, sha256, entries}
  type: dict
  returned: always
trees:
  description: path -> {type, digest, unsafe}
  type: dict
  returned: always
users:
  description: name -> {home, shell, group} or null when absent
  type: dict
  returned: always
groups:
  description: name -> true when it exists
  type: dict
  returned: always
services:
  description: name -> {enabled, active}
  type: dict
  returned: always
"""


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def name_of(getter, ident):
    try:
        return getter(ident)[0]
    except KeyError:
        return str(ident)


def stat_path(path):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {"type": "absent"}
    kind = ("link" if stat.S_ISLNK(st.st_mode) else "directory" if stat.S_ISDIR(st.st_mode)
            else "file" if stat.S_ISREG(st.st_mode) else "other")
    out = {"type": kind, "mode": "%o" % stat.S_IMODE(st.st_mode),
           "owner": name_of(pwd.getpwuid, st.st_uid), "group": name_of(grp.getgrgid, st.st_gid)}
    if kind == "file":
        out["sha256"] = file_sha256(path)
    elif kind == "directory":
        out["entries"] = sorted(os.listdir(path))
    return out


def tree_digest(root):
    if not os.path.isdir(root) or os.path.islink(root):
        return {"type": stat_path(root)["type"]}
    lines = []
    top = os.lstat(root)
    unsafe = 1 if top.st_uid or top.st_gid or top.st_mode & 0o022 else 0
    for base, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            full = os.path.join(base, name)
            st = os.lstat(full)
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)) or st.st_uid or st.st_gid \
                    or st.st_mode & 0o022:
                unsafe += 1
            if stat.S_ISREG(st.st_mode):
                lines.append("%s\0%s\n" % (os.path.relpath(full, root), file_sha256(full)))
    return {"type": "directory", "digest": hashlib.sha256("".join(sorted(lines)).encode()).hexdigest(),
            "unsafe": unsafe}


def user_info(name):
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        return None
    return {"home": pw.pw_dir, "shell": pw.pw_shell, "group": name_of(grp.getgrgid, pw.pw_gid)}


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def unit_state(module, name):
    state = {}
    for verb, key in (("is-enabled", "enabled"), ("is-active", "active")):
        _, out, _ = module.run_command(["systemctl", verb, name])
        state[key] = out.strip()
    return state


def main():
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "path", "default": []},
            "trees": {"type": "list", "elements": "path", "default": []},
            "users": {"type": "list", "elements": "str", "default": []},
            "groups": {"type": "list", "elements": "str", "default": []},
            "services": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = {
            "paths": {path: stat_path(path) for path in p["paths"]},
            "trees": {path: tree_digest(path) for path in p["trees"]},
            "users": {name: user_info(name) for name in p["users"]},
            "groups": {name: group_exists(name) for name in p["groups"]},
            "services": {name: unit_state(module, name) for name in p["services"]},
        }
    except OSError as exc:
        module.fail_json(msg="cannot read %s: %s" % (exc.filename, exc.strerror))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
