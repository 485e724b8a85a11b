#!/usr/bin/env python3
"""Tiny HTTP backends for the hap-reload tests: backend.py NAME:PORT...
serves every GET on 127.0.0.1:PORT, and on [::1]:PORT where the machine
has IPv6, with the body "NAME\n".  (Both families: "localhost" is ::1
first on trixie and later, 127.0.0.1 alone on bookworm.)"""
import http.server
import socket
import socketserver
import sys
import threading


def handler(name):
    body = (name + "\n").encode()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return H


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class Server6(Server):
    address_family = socket.AF_INET6

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


servers = []
for arg in sys.argv[1:]:
    name, port = arg.rsplit(":", 1)
    servers.append(Server(("127.0.0.1", int(port)), handler(name)))
    try:
        servers.append(Server6(("::1", int(port)), handler(name)))
    except OSError as e:
        print("backend.py: [::1]:%s: %s (IPv4 only)" % (port, e), file=sys.stderr)
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
