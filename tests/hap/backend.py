#!/usr/bin/env python3
"""Tiny HTTP backends for the hap-reload tests: backend.py NAME:PORT...
serves every GET on 127.0.0.1:PORT with the body "NAME\n"."""
import http.server
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


servers = []
for arg in sys.argv[1:]:
    name, port = arg.rsplit(":", 1)
    servers.append(Server(("127.0.0.1", int(port)), handler(name)))
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
