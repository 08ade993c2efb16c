#!/usr/bin/env bash
# Build a throwaway, signed apt repository holding grafana-testdouble, for
# molecule/monitoring only. NOT Grafana; never publish or install it elsewhere.
#
#   build-repo.sh OUT_DIR
#
# OUT_DIR/repo/      dists/stable/{InRelease,Release,Release.gpg}, main/binary-all/Packages(.gz), pool/
# OUT_DIR/repo/testdouble.asc   the public key (served next to the repository, like apt.grafana.com's gpg.key)
# OUT_DIR/debs/      the .deb files (for the role's install-from-.deb path)
#
# Two versions are built (1.0.0 and 1.1.0) so that the tests can show the
# role installs the pinned one, not the newest. The GPG key is generated here,
# without a passphrase, in a temporary keyring that is deleted at exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-repo.sh OUT_DIR}
versions=(1.0.0 1.1.0)

need=()
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v dpkg-scanpackages >/dev/null || need+=(dpkg-dev)
command -v gpg >/dev/null || need+=(gnupg)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

rm -rf "$out"
mkdir -p "$out/repo/pool/main" "$out/debs"
work=$(mktemp -d)
trap 'gpgconf --homedir "$work/gnupg" --kill all 2>/dev/null || true; rm -rf "$work"' EXIT

for v in "${versions[@]}"; do
    root="$work/pkg-$v"
    install -d "$root/DEBIAN" "$root/usr/sbin" "$root/lib/systemd/system" "$root/usr/share/grafana" \
        "$root/usr/share/doc/grafana-testdouble"
    sed "s/@VERSION@/$v/" "$here/grafana-testdouble.py" > "$root/usr/sbin/grafana"
    chmod 0755 "$root/usr/sbin/grafana"
    # the older entry points Grafana's package still ships
    printf '#!/bin/sh\nexec /usr/sbin/grafana cli "$@"\n' > "$root/usr/sbin/grafana-cli"
    printf '#!/bin/sh\nexec /usr/sbin/grafana server "$@"\n' > "$root/usr/sbin/grafana-server"
    chmod 0755 "$root/usr/sbin/grafana-cli" "$root/usr/sbin/grafana-server"
    install -m 0644 "$here/grafana-server.service" "$root/lib/systemd/system/grafana-server.service"
    install -m 0755 "$here/postinst" "$root/DEBIAN/postinst"
    printf 'grafana-testdouble: a test double of Grafana for molecule/monitoring. NOT GRAFANA.\n' \
        > "$root/usr/share/doc/grafana-testdouble/README"
    cat > "$root/DEBIAN/control" <<CONTROL
Package: grafana-testdouble
Version: $v
Architecture: all
Maintainer: BrefBoard provisioning tests <nobody@invalid>
Depends: python3, python3-yaml, adduser
Conflicts: grafana, grafana-enterprise
Section: misc
Priority: optional
Description: TEST DOUBLE of Grafana for Molecule tests - NOT GRAFANA
 Stands in for Grafana's server in molecule/monitoring: a tiny Python HTTP server
 answering /api/health and the provisioning endpoints roles/grafana uses,
 installed as the grafana-server systemd unit. Never install it elsewhere.
CONTROL
    dpkg-deb --root-owner-group -Zgzip --build "$root" "$out/debs/grafana-testdouble_${v}_all.deb" >/dev/null
    cp "$out/debs/grafana-testdouble_${v}_all.deb" "$out/repo/pool/main/"
done

cd "$out/repo"
# Architecture "all" packages are listed in every architecture's index, as in
# Debian's and Grafana's repositories, so sources restricted to one
# architecture (Architectures: amd64) find them too.
indexes=()
for arch in all amd64 arm64; do
    mkdir -p "dists/stable/main/binary-$arch"
    dpkg-scanpackages --multiversion pool/main /dev/null 2>/dev/null > "dists/stable/main/binary-$arch/Packages"
    gzip -9kn "dists/stable/main/binary-$arch/Packages"
    indexes+=("main/binary-$arch/Packages" "main/binary-$arch/Packages.gz")
done
{
    echo "Origin: grafana-testdouble"
    echo "Label: grafana-testdouble (molecule only)"
    echo "Suite: stable"
    echo "Codename: stable"
    echo "Date: $(LC_ALL=C date -u -R)"
    echo "Architectures: all amd64 arm64"
    echo "Components: main"
    echo "SHA256:"
    for f in "${indexes[@]}"; do
        printf ' %s %s %s\n' "$(sha256sum "dists/stable/$f" | cut -d' ' -f1)" "$(stat -c %s "dists/stable/$f")" "$f"
    done
} > dists/stable/Release

export GNUPGHOME="$work/gnupg"
install -d -m 0700 "$GNUPGHOME"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "grafana-testdouble throwaway key <nobody@invalid>" ed25519 sign 1d
gpg --batch --quiet --yes --clearsign -o dists/stable/InRelease dists/stable/Release
gpg --batch --quiet --yes --armor --detach-sign -o dists/stable/Release.gpg dists/stable/Release
gpg --batch --quiet --armor --export > testdouble.asc
echo "$out/repo"
