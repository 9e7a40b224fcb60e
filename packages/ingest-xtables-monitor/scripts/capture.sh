#!/usr/bin/env bash
# Regenerates test/fixtures/incident/{xtables-monitor.txt,iptables-nft-save.txt,ip6tables-nft-save.txt} on the real kernel (run as root).
#
# Two private network namespaces joined by a veth pair (client 172.28.129.2, node 172.28.129.4, the
# addresses of the incident write-up; they exist only inside the namespaces). The node gets the incident's
# ruleset through iptables-nft (rules.txt: Calico, kube-proxy NodePort 52000 → KUBE-XLB → KUBE-MARK-DROP,
# filter KUBE-FIREWALL mark drop, the host DNAT 80 → 52000, raw -j TRACE for ports 52000/80 and ICMP), a web
# server on 52000, and `xtables-monitor --trace` running inside it while the client sends a SYN to 52000
# (dropped), connects to port 80 (DNAT'ed, answered), pings once and pings once over IPv6. No host sysctl is changed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../test/fixtures/incident}"
a="rt-nft-$$-a"
b="rt-nft-$$-b"
work="$(mktemp -d)"
cleanup() {
  set +e
  [ -n "${mon:-}" ] && kill "$mon" 2>/dev/null && wait "$mon" 2>/dev/null
  [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
  ip netns del "$a" 2>/dev/null
  ip netns del "$b" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$a"
ip netns add "$b"
ip link add "rtx$$a" address 02:72:74:00:00:02 netns "$a" type veth peer name "rtx$$b" address 02:72:74:00:00:04 netns "$b"
ip -n "$a" link set "rtx$$a" name eth0
ip -n "$b" link set "rtx$$b" name eth0
ip -n "$a" addr add 172.28.129.2/24 dev eth0
ip -n "$b" addr add 172.28.129.4/24 dev eth0
ip -n "$a" addr add fd00:172:28:129::2/64 dev eth0 nodad
ip -n "$b" addr add fd00:172:28:129::4/64 dev eth0 nodad
for ns in "$a" "$b"; do
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
done

ip netns exec "$b" iptables-nft-restore < "$here/rules.txt"
# IPv6: no -p in the TRACE rule (xtables-monitor 1.8.9 exits on an ip6tables rule that matches a protocol).
ip netns exec "$b" ip6tables-nft -t raw -A PREROUTING -s fd00:172:28:129::2/128 -j TRACE
(cd "$work" && exec ip netns exec "$b" python3 -m http.server 52000 >/dev/null 2>&1) &
srv=$!
ip netns exec "$b" stdbuf -oL xtables-monitor --trace > "$work/xtables-monitor.txt" 2> "$work/stderr" &
mon=$!
sleep 1
ip netns exec "$b" iptables-nft-save > "$work/iptables-nft-save.txt"
ip netns exec "$b" ip6tables-nft-save > "$work/ip6tables-nft-save.txt"

# TCP SYN to the NodePort-shadowed port 52000: dropped (connect times out).
ip netns exec "$a" timeout 2 bash -c 'exec 3<>/dev/tcp/172.28.129.4/52000' 2>/dev/null || true
# Port 80: DNAT'ed to 52000 and answered.
ip netns exec "$a" timeout 3 bash -c 'exec 3<>/dev/tcp/172.28.129.4/80; printf "GET / HTTP/1.0\r\n\r\n" >&3; head -1 <&3' || true
ip netns exec "$a" ping -c 1 -W 1 172.28.129.4 >/dev/null || true
ip netns exec "$a" ping -6 -c 1 -W 1 fd00:172:28:129::4 >/dev/null || true
sleep 1
kill "$mon"; wait "$mon" 2>/dev/null || true
mon=
if [ -s "$work/stderr" ]; then cat "$work/stderr" >&2; fi

mkdir -p "$out"
cp "$work/xtables-monitor.txt" "$out/xtables-monitor.txt"
cp "$work/iptables-nft-save.txt" "$work/ip6tables-nft-save.txt" "$out/"
{
  echo "kernel: $(uname -r)"
  echo "tool: $(xtables-monitor -V)"
  echo "captured: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} > "$out/capture.txt"
echo "wrote $out: $(wc -l < "$out/xtables-monitor.txt") trace lines" >&2
