#!/usr/bin/env bash
# Installs what the real-kernel lab needs on Debian/Ubuntu. Idempotent: installs only what is missing.
# Usage: sudo bash lab/install.sh
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "lab/install.sh: run as root" >&2
  exit 1
fi

# command → Debian package
declare -A need=(
  [ip]=iproute2
  [ss]=iproute2
  [iptables-legacy]=iptables
  [iptables-nft]=iptables
  [xtables-monitor]=iptables
  [nft]=nftables
  [rsyslogd]=rsyslog
  [tcpdump]=tcpdump
  [ulogd]=ulogd2
  [ping]=iputils-ping
  [python3]=python3
  [stdbuf]=coreutils
  [stunnel4]=stunnel4 # services/start.sh fluentd: the TLS listener in front of the forward receiver
  [chromium]=chromium # packages/report/test/browser.test.ts: the HTML report in a real (headless) browser
  [tshark]=tshark     # npm run bench: the reference tool for NFLOG pcap (tshark -T fields)
  [jq]=jq             # npm run bench: the reference tool for ulogd JSON (jq -c)
)
pkgs=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || pkgs+=("${need[$cmd]}")
done
# The JSON output plugin of ulogd2 is a separate package.
if ! compgen -G '/usr/lib/*/ulogd/ulogd_output_JSON.so' >/dev/null && [ ! -e /usr/lib/ulogd/ulogd_output_JSON.so ]; then
  pkgs+=(ulogd2-json)
fi

if [ "${#pkgs[@]}" -gt 0 ]; then
  mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
  echo "lab/install.sh: installing ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends: rsyslog/ulogd2 must not pull in services we do not use.
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
else
  echo "lab/install.sh: everything is installed"
fi

# If rsyslog or ulogd2 start as system services after install, the lab still works: it runs private instances,
# reads the kernel log through imkmsg (/dev/kmsg, non-destructive, unlike imklog on /proc/kmsg), and its NFLOG
# traffic stays inside its own network namespaces (nfnetlink_log groups are per namespace).
iptables-legacy -V >/dev/null
iptables-nft -V >/dev/null
echo "lab/install.sh: ok ($(iptables-legacy -V), $(tcpdump --version 2>&1 | head -1), $(ulogd -V 2>&1 | head -1))"
