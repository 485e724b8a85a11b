#!/usr/bin/env python3
"""A tiny demo backend: answers every GET with its own name.

usage: demo-backend.py NAME PORT  (listens on 127.0.0.1 only)
"""
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = ("%s %s\n" % (NAME, self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # haproxy's health checks connect and close: not worth a trace.
        pass


NAME, PORT = sys.argv[1], int(sys.argv[2])
Server(("127.0.0.1", PORT), Handler).serve_forever()
