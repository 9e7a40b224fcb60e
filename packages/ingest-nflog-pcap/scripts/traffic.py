#!/usr/bin/env python3
"""Sends the fixture traffic from namespace A to namespace B (run inside A). Addresses are private, test-only."""
import socket, struct, sys, time

B4, B6 = sys.argv[1], sys.argv[2]


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def tcp_connect(host, port, family=socket.AF_INET, ipopts=None):
    s = socket.socket(family, socket.SOCK_STREAM)
    if ipopts:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, ipopts)
    s.settimeout(1.0)
    try:
        s.connect((host, port))
        s.sendall(b"hello\n")
        time.sleep(0.1)
    except OSError:
        pass
    finally:
        s.close()


def udp_send(host, port, payload, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.sendto(payload, (host, port))
    s.close()


def ping4(host, ident, seq):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    body = b"ruletrail-ping4"
    pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + body), ident, seq) + body
    s.sendto(pkt, (host, 0))
    s.settimeout(1.0)
    try:
        s.recv(1500)
    except OSError:
        pass
    s.close()


def ping6(host, ident, seq):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    body = b"ruletrail-ping6"
    pkt = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + body  # kernel fills the ICMPv6 checksum
    s.sendto(pkt, (host, 0))
    s.settimeout(1.0)
    try:
        s.recv(1500)
    except OSError:
        pass
    s.close()


tcp_connect(B4, 52000)  # closed port: SYN, RST back
tcp_connect(B4, 8080)  # listener in B: full handshake, data, FIN
udp_send(B4, 5353, b"ruletrail-udp")  # marked in B's mangle table
udp_send(B4, 9, b"closed")  # closed port: ICMP port unreachable with the inner packet
ping4(B4, 0x1234, 1)
ping6(B6, 0x4321, 7)
tcp_connect(B6, 52000, socket.AF_INET6)
udp_send(B4, 5353, b"F" * 3000)  # IPv4 fragments
udp_send(B6, 5353, b"G" * 3000, socket.AF_INET6)  # IPv6 fragment headers
tcp_connect(B4, 52001, ipopts=bytes([1, 1, 1, 0]))  # IP options: NOP NOP NOP EOL
time.sleep(0.5)
