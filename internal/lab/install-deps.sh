#!/bin/sh
# Installs the Debian packages etcdform's lab, tests and demo need.
# Idempotent; says exactly what is missing where it cannot install.
set -eu
PKGS="iproute2 openssh-server openssh-client runit util-linux curl rsync ca-certificates git cron systemd"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "etcdform: missing Debian packages:$missing" >&2
  echo "etcdform: the lab needs root (network namespaces, mounts); run as root or install them: sudo apt-get install$missing" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "etcdform: not a Debian system (no apt-get); install the equivalents of:$missing" >&2
  exit 1
fi
echo "etcdform: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Install without starting services: the lab runs its own sshd per host.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.etcdform
chmod +x /usr/sbin/policy-rc.d.etcdform
[ -e /usr/sbin/policy-rc.d ] || { cp /usr/sbin/policy-rc.d.etcdform /usr/sbin/policy-rc.d; trap 'rm -f /usr/sbin/policy-rc.d' EXIT; }
rm -f /usr/sbin/policy-rc.d.etcdform
apt-get install -y -qq --no-install-recommends $missing >/dev/null
