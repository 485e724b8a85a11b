#!/usr/bin/env python3
"""A TCP backend for the tests of TCP services: tcpecho.py NAME PORT
listens on 127.0.0.1:PORT and answers each line a client sends with
"NAME LINE", on the same connection, as long as the client keeps it."""
import socket
import socketserver
import sys

NAME, PORT = sys.argv[1], int(sys.argv[2])


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(b"%s %s" % (NAME.encode(), line))
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
