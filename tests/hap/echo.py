#!/usr/bin/env python3
"""A backend for the tests of a service's keys: echo.py NAME PORT DIR
serves on 127.0.0.1:PORT.  GET /health answers the status written in
DIR/NAME.health (200 when there is none: the test makes it fail and
recover); any other GET answers 200 with "NAME PATH" and then each
request header, "Name: value", one a line, in the order they came."""
import http.server
import os
import sys

NAME, PORT, DIR = sys.argv[1], int(sys.argv[2]), sys.argv[3]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        status = 200
        if self.path == "/health":
            try:
                with open(os.path.join(DIR, NAME + ".health")) as f:
                    status = int(f.read().strip() or 200)
            except OSError:
                pass
            body = b"health\n"
        else:
            lines = ["%s %s" % (NAME, self.path)]
            lines += ["%s: %s" % (k, v) for k, v in self.headers.items()]
            body = ("\n".join(lines) + "\n").encode()
        self.send_response(status)
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
        pass


Server(("127.0.0.1", PORT), Handler).serve_forever()
