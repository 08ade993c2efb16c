#!/usr/bin/env bash
# Install the Ansible collections this project uses into ./collections,
# taken from the `ansible` community wheel on PyPI (Ansible Galaxy is not
# reachable on every machine; PyPI is). Idempotent: does nothing when the
# wanted version is already unpacked.
set -euo pipefail
cd "$(dirname "$0")/.."

ansible_version=$(sed -n 's/^ansible==//p' requirements-collections.txt)
wanted=$(grep -v -e '^#' -e '^ansible==' -e '^$' requirements-collections.txt)
dest=collections/ansible_collections
stamp=collections/.from-ansible-$ansible_version
py=${PYTHON:-.venv/bin/python}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    exit 0
fi
mkdir -p .cache/wheels "$dest"
if ! ls .cache/wheels/ansible-"$ansible_version"-*.whl >/dev/null 2>&1; then
    echo "[collections] downloading the ansible $ansible_version wheel (once)"
    "$py" -m pip download -q --no-deps -d .cache/wheels "ansible==$ansible_version"
fi
wheel=$(ls .cache/wheels/ansible-"$ansible_version"-*.whl)
"$py" - "$wheel" "$dest" $wanted <<'PY'
import sys, zipfile, shutil, pathlib
wheel, dest, names = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    for name in names:
        ns, coll = name.split(".")
        prefix = f"ansible_collections/{ns}/{coll}/"
        members = [m for m in z.namelist() if m.startswith(prefix)]
        if not members:
            sys.exit(f"[collections] {name} is not in {wheel}")
        target = dest / ns / coll
        shutil.rmtree(target, ignore_errors=True)
        for m in members:
            out = dest / m[len("ansible_collections/"):]
            if m.endswith("/"):
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(z.read(m))
        print(f"[collections] {name} <- {pathlib.Path(wheel).name}")
PY
echo "$wanted" > "$stamp"
