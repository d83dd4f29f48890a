#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use, only when a binary is missing.
set -euo pipefail
need=()
for pkg in "$@"; do
  case "$pkg" in
    postgresql-client) command -v psql >/dev/null && command -v pgbench >/dev/null || need+=("$pkg") ;;
    postgresql) ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=("$pkg") ;;
    pgbouncer) command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || need+=("$pkg") ;;
    openssh-server) [ -x /usr/sbin/sshd ] || need+=("$pkg") ;;
    prometheus) [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || need+=("$pkg") ;;
    openssh-client) command -v ssh >/dev/null && command -v scp >/dev/null && command -v sftp >/dev/null || need+=("$pkg") ;;
    # Headless browser for the replay page test (test/replay/browser.test.ts, driven by playwright-core).
    chromium) [ -x /usr/bin/chromium ] || need+=("$pkg") ;;
    *) dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg") ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's postgresql package starts a cluster of its own; the tests start their own servers.
if [[ " ${need[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null; then
  for c in /etc/postgresql/*/main; do [ -d "$c" ] && $SUDO pg_ctlcluster "$(basename "$(dirname "$c")")" main stop 2>/dev/null || true; done
fi
if [[ " ${need[*]} " == *" pgbouncer "* ]]; then $SUDO service pgbouncer stop >/dev/null 2>&1 || true; fi
if [[ " ${need[*]} " == *" openssh-server "* ]]; then $SUDO service ssh stop >/dev/null 2>&1 || true; fi
# Debian's prometheus package starts a server of its own; the tests start their own.
if [[ " ${need[*]} " == *" prometheus "* ]]; then $SUDO service prometheus stop >/dev/null 2>&1 || true; $SUDO service prometheus-node-exporter stop >/dev/null 2>&1 || true; fi
