#!/usr/bin/env bash
# Regenerates the real-capture fixtures of the three NFLOG-family adapters:
#   packages/ingest-nflog-pcap/test/fixtures/real/   trace.pcap (µs), trace-ns.pcap, trace.pcapng, tshark cross-check
#   packages/ingest-ulogd-json/test/fixtures/real/   ulogd.json, ulogd-eventv1.json, ulogd-noip2str.json
#   packages/ingest-wireshark-csv/test/fixtures/real/ wireshark-gui.csv, wireshark-gui-abs.csv, tshark-fields.csv
#
# Needs root, iptables-legacy, tcpdump, tshark/editcap, ulogd2 (+ JSON plugin), python3.
# Everything happens inside two throw-away network namespaces (veth pair, private test addresses); the script
# changes nothing outside them and deletes them on exit. TRACE needs the legacy backend: iptables-nft turns TRACE
# into nftrace, which never reaches NFLOG.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# RT_FIXTURE_ROOT=/tmp/x writes the same tree somewhere else (to try the script without touching the fixtures)
ROOT=${RT_FIXTURE_ROOT:-$ROOT}
PCAP_OUT=$ROOT/packages/ingest-nflog-pcap/test/fixtures/real
ULOGD_OUT=$ROOT/packages/ingest-ulogd-json/test/fixtures/real
CSV_OUT=$ROOT/packages/ingest-wireshark-csv/test/fixtures/real
mkdir -p "$PCAP_OUT" "$ULOGD_OUT" "$CSV_OUT"

A=rt-adp-$$-a
B=rt-adp-$$-b
VA=rtva$$
VB=rtvb$$
A4=10.231.0.1 B4=10.231.0.2 A6=fd00:231::1 B6=fd00:231::2
TMP=$(mktemp -d /tmp/rt-adp-capture.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  # whatever this script started inside its own namespaces
  for ns in "$A" "$B"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  done
  sleep 0.3
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

ip netns add "$A"
ip netns add "$B"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$A"
ip link set "$VB" netns "$B"
ip -n "$A" addr add $A4/24 dev "$VA"
ip -n "$B" addr add $B4/24 dev "$VB"
ip -n "$A" addr add $A6/64 dev "$VA" nodad
ip -n "$B" addr add $B6/64 dev "$VB" nodad
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set "$VA" up
ip -n "$B" link set "$VB" up
inb() { ip netns exec "$B" "$@"; }
ina() { ip netns exec "$A" "$@"; }

# Route TRACE into nfnetlink_log (per-netns sysctl; the namespace dies with the script).
inb sysctl -qw net.netfilter.nf_log.2=nfnetlink_log
inb sysctl -qw net.netfilter.nf_log.10=nfnetlink_log
for ipt in iptables-legacy ip6tables-legacy; do
  inb $ipt -t raw -A PREROUTING -j TRACE
  inb $ipt -t raw -A OUTPUT -j TRACE
  inb $ipt -t mangle -A PREROUTING -p udp --dport 5353 -j MARK --set-mark 0x2a
  inb $ipt -N RT-CHECK
  inb $ipt -A INPUT -j RT-CHECK
  inb $ipt -A RT-CHECK -p tcp --dport 52001 -j RETURN
  inb $ipt -A INPUT -p udp --dport 5353 -j ACCEPT
done
inb iptables-legacy -A INPUT -p tcp --dport 52000 -j REJECT --reject-with tcp-reset
inb ip6tables-legacy -A INPUT -p tcp --dport 52000 -j REJECT --reject-with tcp-reset
inb iptables-legacy -A RT-CHECK -p icmp -j ACCEPT

# A TCP listener and a UDP sink in B
ip netns exec "$B" python3 -c '
import socket, threading
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("0.0.0.0", 8080)); t.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 5353))
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); u6.bind(("::", 5353))
def drain(s):
    while True: s.recv(65535)
threading.Thread(target=drain, args=(u,), daemon=True).start()
threading.Thread(target=drain, args=(u6,), daemon=True).start()
while True:
    c, _ = t.accept(); c.recv(100); c.close()
' &
PIDS+=($!)
sleep 0.5
# neighbour discovery first, so it does not interleave with the fixture traffic
ina python3 -c "import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.sendto(b'x',('$B4',7)); s6=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM); s6.sendto(b'x',('$B6',7))"
sleep 1

# 1. tcpdump (the nflog device only offers µs stamps; editcap writes the ns-magic and pcapng variants)
out=$TMP/trace.pcap
ip netns exec "$B" tcpdump -q -i nflog -w "$out" 2>>"$TMP/tcpdump.err" &
PIDS+=($!)
sleep 1.5
ina python3 "$HERE/traffic.py" $B4 $B6
sleep 1
kill -INT "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
cp "$out" "$PCAP_OUT/trace.pcap"
editcap -F nsecpcap "$PCAP_OUT/trace.pcap" "$PCAP_OUT/trace-ns.pcap"
editcap -F pcapng "$PCAP_OUT/trace.pcap" "$PCAP_OUT/trace.pcapng"
inb ip -j link show > "$PCAP_OUT/ifnames.json"
# the rulesets the TRACE steps are explained against (no counters: they change with every packet)
inb iptables-legacy-save > "$PCAP_OUT/iptables-save.txt"
inb ip6tables-legacy-save > "$PCAP_OUT/ip6tables-save.txt"

# tshark's view of the same records, for the cross-check test
tshark -r "$PCAP_OUT/trace.pcap" -o ip.defragment:FALSE -o ipv6.defragment:FALSE -T fields -E header=y -E separator=/t -E occurrence=f \
  -e frame.number -e nflog.prefix -e nflog.res_id -e nflog.hook -e nflog.ifindex_indev -e nflog.ifindex_outdev \
  -e nflog.uid -e nflog.gid -e ip.src -e ip.dst -e ip.id -e ip.ttl -e ip.len -e ip.flags.df -e ip.frag_offset \
  -e ipv6.src -e ipv6.dst -e ipv6.hlim -e ipv6.flow -e tcp.srcport -e tcp.dstport -e tcp.seq_raw -e tcp.ack_raw \
  -e tcp.window_size_value -e tcp.flags -e tcp.options -e udp.srcport -e udp.dstport -e udp.length \
  -e icmp.type -e icmp.code -e icmp.ident -e icmp.seq -e icmpv6.type -e icmpv6.echo.identifier -e icmpv6.echo.sequence_number \
  > "$PCAP_OUT/trace.tshark.tsv" 2>/dev/null

# 2. Wireshark CSV: the GUI's default columns + "Apply as Column" on NFLOG prefix and TCP options
COLS='"No.","%m","Time","%t","Source","%s","Destination","%d","Protocol","%p","Length","%L","Info","%i","Prefix","%Cus:nflog.prefix:0:R","TCP Options","%Cus:tcp.options:0:R"'
gui_csv() { # $1 = -t format, $2 = output
  tshark -r "$PCAP_OUT/trace.pcap" -t "$1" -o "gui.column.format:$COLS" -T fields -E header=y -E separator=, -E quote=d \
    -e _ws.col.No. -e _ws.col.Time -e _ws.col.Source -e _ws.col.Destination -e _ws.col.Protocol -e _ws.col.Length \
    -e _ws.col.Info -e _ws.col.Prefix -e "_ws.col.TCP Options" 2>/dev/null |
    sed '1s/.*/"No.","Time","Source","Destination","Protocol","Length","Info","Prefix","TCP Options"/' > "$2"
}
gui_csv r "$CSV_OUT/wireshark-gui.csv"
gui_csv ad "$CSV_OUT/wireshark-gui-abs.csv"
tshark -r "$PCAP_OUT/trace.pcap" -T fields -E header=y -E separator=, -E quote=d -E occurrence=f \
  -e frame.number -e frame.time_epoch -e nflog.prefix -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst -e ip.proto \
  -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport -e tcp.flags -e tcp.seq_raw -e tcp.options \
  -e ip.id -e ip.ttl -e ip.len -e icmp.type -e icmp.code -e nflog.uid -e nflog.gid -e nflog.ifindex_indev \
  -e nflog.ifindex_outdev -e nflog.hook 2>/dev/null > "$CSV_OUT/tshark-fields.csv"

# 3. ulogd2 JSON: three stacks on one NFLOG input: classic timestamp, eventv1, and a stack without IP2STR
PLUG=/usr/lib/x86_64-linux-gnu/ulogd
cat > "$TMP/ulogd.conf" <<CONF
[global]
logfile="$TMP/ulogd.log"
loglevel=3
plugin="$PLUG/ulogd_inppkt_NFLOG.so"
plugin="$PLUG/ulogd_filter_IFINDEX.so"
plugin="$PLUG/ulogd_filter_IP2STR.so"
plugin="$PLUG/ulogd_filter_HWHDR.so"
plugin="$PLUG/ulogd_raw2packet_BASE.so"
plugin="$PLUG/ulogd_output_JSON.so"
stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,mac2str1:HWHDR,json1:JSON
stack=log1:NFLOG,base2:BASE,ifi2:IFINDEX,ip2str2:IP2STR,mac2str2:HWHDR,json2:JSON
stack=log1:NFLOG,base3:BASE,ifi3:IFINDEX,mac2str3:HWHDR,json3:JSON

[log1]
group=0
numeric_label=1

[json1]
file="$TMP/ulogd.json"
sync=1
device="rt-fixture-b"

[json2]
file="$TMP/ulogd-eventv1.json"
sync=1
eventv1=1
boolean_label=1

[json3]
file="$TMP/ulogd-noip2str.json"
sync=1
CONF
# a fixed +08:00 zone, so the fixtures show ulogd's local-time offsets ("+0800")
ip netns exec "$B" env TZ='<+08>-8' ulogd -c "$TMP/ulogd.conf" &
PIDS+=($!)
sleep 2
ina python3 "$HERE/traffic.py" $B4 $B6
sleep 1.5
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
cp "$TMP/ulogd.json" "$ULOGD_OUT/ulogd.json"
cp "$TMP/ulogd-eventv1.json" "$ULOGD_OUT/ulogd-eventv1.json"
cp "$TMP/ulogd-noip2str.json" "$ULOGD_OUT/ulogd-noip2str.json"

echo "pcap records: $(tcpdump -r "$PCAP_OUT/trace.pcap" 2>/dev/null | wc -l), ulogd lines: $(wc -l < "$ULOGD_OUT/ulogd.json")"
