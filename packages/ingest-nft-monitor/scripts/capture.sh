#!/usr/bin/env bash
# Regenerates test/fixtures/kube-proxy/{nft-monitor.txt,ruleset.json,ruleset.nft} on the real kernel (run as root).
#
# Two private network namespaces joined by a veth pair (client 172.28.129.2, node 172.28.129.4; the addresses
# exist only inside the namespaces). The node gets ruleset.nft (kube-proxy nftables mode + a host table + a
# trace table), web servers on 52000 and 8080, and `nft monitor trace` inside it while the client sends a SYN to
# NodePort 52000 (no endpoints: dropped), to port 80 (host DNAT to 52000, then dropped by the NodePort check),
# to NodePort 30081 (DNAT to the endpoint 172.28.129.4:8080, answered; every segment of that connection is
# traced), one ping, a UDP datagram to a closed port, an IPv6 ping and an IPv6 SYN to a closed port. `nft -j list ruleset` and
# `nft list ruleset` are taken at the same time. No host sysctl is changed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../test/fixtures/kube-proxy}"
a="rt-nft-$$-a"
b="rt-nft-$$-b"
work="$(mktemp -d)"
cleanup() {
  set +e
  [ -n "${mon:-}" ] && kill "$mon" 2>/dev/null && wait "$mon" 2>/dev/null
  for p in ${srvs:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip netns del "$a" 2>/dev/null
  ip netns del "$b" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$a"
ip netns add "$b"
ip link add "rtn$$a" address 02:72:74:00:00:02 netns "$a" type veth peer name "rtn$$b" address 02:72:74:00:00:04 netns "$b"
ip -n "$a" link set "rtn$$a" name eth0
ip -n "$b" link set "rtn$$b" name eth0
ip -n "$a" addr add 172.28.129.2/24 dev eth0
ip -n "$b" addr add 172.28.129.4/24 dev eth0
ip -n "$a" addr add fd00:172:28:129::2/64 dev eth0 nodad
ip -n "$b" addr add fd00:172:28:129::4/64 dev eth0 nodad
for ns in "$a" "$b"; do
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
done

ip netns exec "$b" nft -f "$here/ruleset.nft"
srvs=""
for port in 52000 8080; do
  (cd "$work" && exec ip netns exec "$b" python3 -m http.server "$port" >/dev/null 2>&1) &
  srvs="$srvs $!"
done
ip netns exec "$b" stdbuf -oL nft monitor trace > "$work/nft-monitor.txt" 2> "$work/stderr" &
mon=$!
sleep 1
ip netns exec "$b" nft -j list ruleset > "$work/ruleset.json"
ip netns exec "$b" nft list ruleset > "$work/ruleset.nft"

send() { ip netns exec "$a" timeout "$2" bash -c "exec 3<>/dev/tcp/172.28.129.4/$1; printf 'GET / HTTP/1.0\r\n\r\n' >&3; head -1 <&3" 2>/dev/null || true; }
send 52000 2
send 80 2
send 30081 3
ip netns exec "$a" ping -c 1 -W 1 172.28.129.4 >/dev/null || true
# UDP to a closed port, an IPv6 ping and an IPv6 SYN to a closed port (answered with RST).
ip netns exec "$a" bash -c 'echo x > /dev/udp/172.28.129.4/5353' || true
ip netns exec "$a" ping -6 -c 1 -W 1 fd00:172:28:129::4 >/dev/null || true
ip netns exec "$a" timeout 2 bash -c 'exec 3<>/dev/tcp/fd00:172:28:129::4/9' 2>/dev/null || true
sleep 1
kill "$mon"; wait "$mon" 2>/dev/null || true
mon=
if [ -s "$work/stderr" ]; then cat "$work/stderr" >&2; fi

mkdir -p "$out"
cp "$work/nft-monitor.txt" "$work/ruleset.json" "$work/ruleset.nft" "$out/"
{
  echo "kernel: $(uname -r)"
  echo "tool: $(nft -V | head -1)"
  echo "captured: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} > "$out/capture.txt"
echo "wrote $out: $(wc -l < "$out/nft-monitor.txt") trace lines" >&2
