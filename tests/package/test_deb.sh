#!/usr/bin/env bash
# Installs the .deb that scripts/package.sh built into THIS machine, checks the installed files
# and runs the installed binary, then purges the package. It changes the system, so it runs only
# when asked: NSG_TEST_DEB=1 (exit 77, "skipped", otherwise), as root. A package of the sanitized
# tree (scripts/package.sh --sanitized: CI's) is checked the same way, except that its guard is
# instrumented and so cannot be static: that one check is left to the Release package.
#   bash scripts/package.sh && NSG_TEST_DEB=1 ctest --test-dir build -R package_deb
#   tests/package/test_deb.sh PACKAGE_DIR      (the directory holding nomad-singleton_*.deb)
set -euo pipefail
SKIP=77
if [ "${NSG_TEST_DEB:-}" != 1 ]; then
  echo "skipped: installs a package into this machine; set NSG_TEST_DEB=1 to run it"
  exit $SKIP
fi
if [ "$(id -u)" -ne 0 ]; then echo "skipped: needs root (dpkg -i)"; exit $SKIP; fi
dir=$(realpath "${1:?usage: test_deb.sh PACKAGE_DIR}")
deb=$(ls -t "$dir"/nomad-singleton_*_*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
  echo "FAIL: no nomad-singleton_*.deb in $dir: run scripts/package.sh first"
  exit 1
fi
fail() { echo "FAIL: $*"; exit 1; }
purge() { dpkg --purge nomad-singleton >/dev/null 2>&1 || true; }
trap purge EXIT

echo "package: $deb ($(du -k "$deb" | cut -f1) KiB)"
depends=$(dpkg-deb --field "$deb" Depends)
echo "Depends: $depends"
for lib in libcpprest libyaml-cpp libspdlog libc6; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib"
done
sanitized=0
if grep -q libasan <<<"$depends"; then
  sanitized=1
  echo "a package of the sanitized tree: every check but the guard's static link"
fi
# Only the product: two executables, no test binaries.
bins=$(dpkg-deb --contents "$deb" | awk '{print $6}' | grep -E '^\./usr/bin/.' | sort | tr '\n' ' ')
[ "$bins" = "./usr/bin/nomad-singleton ./usr/bin/nomad-singleton-guard " ] ||
  fail "unexpected executables: $bins"

# apt resolves the runtime libraries (present already wherever the package was built).
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$deb" >/tmp/nsg-deb-install.log 2>&1 ||
  { cat /tmp/nsg-deb-install.log; fail "apt-get install $deb"; }
dpkg -s nomad-singleton | grep -q '^Status: install ok installed' || fail "not installed"

out=$(/usr/bin/nomad-singleton version) || fail "nomad-singleton version: exit $?"
echo "$out"
version=$(dpkg-deb --field "$deb" Version)
grep -q "$version" <<<"$out" || fail "version output does not name $version"
/usr/bin/nomad-singleton validate /usr/share/doc/nomad-singleton/examples ||
  fail "validate on the installed examples"
/usr/bin/nomad-singleton controller --help >/dev/null || fail "controller --help"
# The guard is static: it runs in any workload image.
if [ "$sanitized" = 0 ]; then
  file -L /usr/bin/nomad-singleton-guard | grep -q 'statically linked' || fail "the guard is not static"
fi
/usr/bin/nomad-singleton-guard --help >/dev/null || fail "the installed guard does not run"

unit=/usr/lib/systemd/system/nomad-singleton.service
[ -f "$unit" ] || unit=/lib/systemd/system/nomad-singleton.service
[ -f "$unit" ] || fail "no systemd unit"
grep -q '^ExecStart=/usr/bin/nomad-singleton controller --specs /etc/nomad-singleton/specs --token-file %d/token' "$unit" ||
  fail "unexpected ExecStart in $unit"
if command -v systemd-analyze >/dev/null; then
  # Without a running systemd, verify still parses the unit and checks ExecStart's binary.
  verify=$(systemd-analyze verify "$unit" 2>&1 || true)
  if grep -iE "unknown|invalid|failed to parse|not executable|ignoring" <<<"$verify"; then
    fail "systemd-analyze verify $unit"
  fi
fi
[ -d /etc/nomad-singleton/specs ] || fail "no /etc/nomad-singleton/specs"
[ "$(stat -c '%a %U' /etc/nomad-singleton/token)" = "600 root" ] ||
  fail "token file: $(stat -c '%a %U' /etc/nomad-singleton/token)"
grep -qx /etc/default/nomad-singleton /var/lib/dpkg/info/nomad-singleton.conffiles ||
  fail "/etc/default/nomad-singleton is not a conffile"

purge
trap - EXIT
[ ! -e /usr/bin/nomad-singleton ] || fail "purge left /usr/bin/nomad-singleton"
[ ! -e /etc/nomad-singleton/token ] || fail "purge left the token"
echo PASS
