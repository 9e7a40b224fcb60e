#!/usr/bin/env python3
"""Probe and service helpers for the ruletrail lab (run inside a network namespace).

  probe.py tcp  HOST PORT [--timeout S] [--http]   connect (and GET /); prints one JSON line
  probe.py udp  HOST PORT [--timeout S]            send a datagram, wait for the echo; prints one JSON line
  probe.py serve-http PORT DIR                      dual-stack HTTP server on PORT serving DIR
  probe.py serve-udp  PORT                          dual-stack UDP echo server on PORT

A probe prints {"result": "answer"|"timeout"|"refused"|"error", "sport": N, "ms": N, "detail": "..."}.
"""
import json
import os
import socket
import sys
import time


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def out(result, sport, t0, detail=""):
    print(json.dumps({"result": result, "sport": sport, "ms": round((time.monotonic() - t0) * 1000), "detail": detail}))
    sys.stdout.flush()


def probe_tcp(host, port, timeout, http):
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.bind(("::" if family_of(host) == socket.AF_INET6 else "0.0.0.0", 0))
    sport = s.getsockname()[1]
    s.settimeout(timeout)
    t0 = time.monotonic()
    try:
        s.connect((host, port))
        detail = "connected"
        if http:
            s.sendall(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            detail = data.split(b"\r\n", 1)[0].decode("latin-1")
        out("answer", sport, t0, detail)
    except socket.timeout:
        out("timeout", sport, t0)
    except ConnectionRefusedError:
        out("refused", sport, t0)
    except OSError as e:
        out("error", sport, t0, str(e))
    finally:
        s.close()


def probe_udp(host, port, timeout):
    s = socket.socket(family_of(host), socket.SOCK_DGRAM)
    s.bind(("::" if family_of(host) == socket.AF_INET6 else "0.0.0.0", 0))
    sport = s.getsockname()[1]
    s.settimeout(timeout)
    t0 = time.monotonic()
    try:
        s.connect((host, port))
        s.send(b"ruletrail-lab")
        data = s.recv(2048)
        out("answer", sport, t0, data.decode("latin-1"))
    except socket.timeout:
        out("timeout", sport, t0)
    except ConnectionRefusedError:
        out("refused", sport, t0)
    except OSError as e:
        out("error", sport, t0, str(e))
    finally:
        s.close()


def serve_http(port, directory):
    import functools
    import http.server

    class DualStack(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6

        def server_bind(self):
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    DualStack(("::", port), handler).serve_forever()


def serve_udp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    while True:
        data, addr = s.recvfrom(2048)
        s.sendto(b"echo:" + data, addr)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    timeout = 0.9
    if "--timeout" in argv:
        timeout = float(argv[argv.index("--timeout") + 1])
    if cmd == "tcp":
        probe_tcp(argv[2], int(argv[3]), timeout, "--http" in argv)
    elif cmd == "udp":
        probe_udp(argv[2], int(argv[3]), timeout)
    elif cmd == "serve-http":
        os.makedirs(argv[3], exist_ok=True)
        serve_http(int(argv[2]), argv[3])
    elif cmd == "serve-udp":
        serve_udp(int(argv[2]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
