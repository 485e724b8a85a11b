#!/usr/bin/env python3
# A fake etcd v3 gateway on 127.0.0.1:PORT that misbehaves on purpose.
# usage: fake-etcd.py PORT MODE
#   garbage     /v3/kv/range and /v3/watch answer 200 with non-JSON
#   cut         range: Content-Length promises more than is sent, then the
#               connection closes; watch: one whole message, then half of
#               the next, then close
#   rs          watch: a message with an RS byte (0x1e) inside a string,
#               then a valid message in a later chunk
import socket, sys, time

port, mode = int(sys.argv[1]), sys.argv[2]
OK = b'{"header":{"revision":"5"},"created":true}'
GOOD = (b'{"result":{"header":{"revision":"6"},"events":[{"kv":{"key":"L2E=",'
        b'"value":"MQ==","mod_revision":"6"}}]}}\n')


def handle(c):
    req = b""
    while b"\r\n\r\n" not in req:
        d = c.recv(65536)
        if not d:
            return
        req += d
    path = req.split(b" ", 2)[1]
    watch = path == b"/v3/watch"
    if mode == "garbage":
        body = b'{"result": [1, 2,, <html>' if watch else b'<html>not json}'
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
                  + body)
    elif mode == "cut" and not watch:
        body = b'{"header":{"revision":"5"},"kvs":[{"key":"L2E=","val'
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 4096\r\nConnection: close\r\n\r\n" + body)
    elif watch:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")

        def chunk(b):
            c.sendall(b"%x\r\n%s\r\n" % (len(b), b))
            time.sleep(0.1)
        chunk(b'{"result":' + OK + b'}\n')
        if mode == "cut":
            chunk(GOOD[:40])
        else:  # rs
            chunk(b'{"result":{"header":{"revision":"\x1e6"}}}\n')
            chunk(GOOD)
        time.sleep(0.2)
    else:
        body = b'{"header":{"revision":"5"},"count":"0"}'
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n" % len(body) + body)


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)
while True:
    c, _ = s.accept()
    try:
        handle(c)
    except OSError:
        pass
    c.close()
