#!/usr/bin/env python3
"""A fake etcd 3.6 v3 gateway on 127.0.0.1, for tests/etcd36.bats.

usage: fake-etcd.py [--user NAME:PASSWORD[:PREFIX]]... [--token-life N]
                    [--leaderless] [--no-sort] PORT [PORT...]

Each PORT is a member of one cluster: they share one store, kept in
memory, and one set of tokens.  It answers in the dialect of etcd 3.6 and
later (grpc-gateway v2, protojson): a unary error is {"code":N,
"message":M} with the HTTP status grpc-gateway maps from the code, a
watch stream error is {"error":{"code":N,"message":M}} (with that status
when it comes before the first message); int64 as strings, zero fields
left out.  Replies to unary calls have a space after each comma, as
protojson writes them in about half of all builds; the messages of a
stream go through encoding/json, which takes the spaces out.  It serves
what the tools use:

  /v3/auth/authenticate    {name, password} -> {token}
  /v3/kv/range             key, range_end, revision, limit, count_only,
                           keys_only, sort_order (KEY only)
  /v3/kv/put               key, value, lease
  /v3/kv/compaction        revision (tests compact with it)
  /v3/watch                create_request: key, range_end, start_revision
  /v3/maintenance/status   (etcd-watch asks it after a silence)

--user turns auth on; a user with a PREFIX may only read keys under it
(etcd's read permission on a prefix), one without may do everything.
--token-life N: a token stops working after it carried N requests, as an
etcd token does once its TTL ran out between two of them; the requests
then get 401 "etcdserver: invalid auth token" (a watch: a cancel with
that reason) until the client authenticates again.
--no-sort: a range ignores sort_order, as no etcd does (a client must
cope with a reply not as asked).
--leaderless: the first member has no leader from the start; SIGUSR1
takes its leader away later.  A member without a leader answers as etcd
does a client that sends Grpc-Metadata-hasleader (the tools do): 503
"etcdserver: no leader", and its watch streams end with that error.
"""
import base64, json, select, signal, socket, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NO_LEADER = (14, "etcdserver: no leader")
BAD_TOKEN = (16, "etcdserver: invalid auth token")
NO_USER = (3, "etcdserver: user name is empty")
BAD_PASSWORD = (3, "etcdserver: authentication failed, invalid user ID or password")
DENIED = (7, "etcdserver: permission denied")
COMPACTED = (11, "etcdserver: mvcc: required revision has been compacted")
FUTURE = (11, "etcdserver: mvcc: required revision is a future revision")
NO_KEY = (3, "etcdserver: key is not provided")
NOT_FOUND = (5, "Not Found")
NO_LEADER_ERR = {"code": NO_LEADER[0], "message": NO_LEADER[1]}
# grpc-gateway's HTTPStatusFromCode, for the codes above.
HTTP = {3: 400, 5: 404, 7: 403, 11: 400, 14: 503, 16: 401}
# The gRPC names etcd puts in a watch's cancel_reason.
GRPC_NAME = {3: "InvalidArgument", 7: "PermissionDenied", 16: "Unauthenticated"}


class EtcdError(Exception):
    pass


def pj(obj):
    """JSON as protojson writes it: a space after each comma."""
    return json.dumps(obj, separators=(", ", ":"), ensure_ascii=False)


def stream_msg(kind, obj):
    """One message of a stream: {"result":...} or {"error":...}."""
    return json.dumps({kind: obj}, separators=(",", ":")) + "\n"


def b64d(s):
    return base64.b64decode(s or "")


def b64e(b):
    return base64.b64encode(b).decode()


def prefix_end(p):
    p = p.rstrip(b"\xff")
    return p[:-1] + bytes([p[-1] + 1]) if p else b"\0"


def in_range(k, key, end):
    """k in the range etcd reads for key and range_end."""
    if not end:
        return k == key
    return k >= key and (end == b"\0" or k < end)


class Store:
    """The cluster's state: history, compaction, users and tokens."""

    def __init__(self, users, token_life):
        self.lock = threading.Condition()
        self.events = []  # (rev, key, value, lease), one put a revision
        self.rev = 1
        self.compacted = 0
        self.users = users  # name -> (password, read-only prefix or None)
        self.tokens = {}  # token -> [user, requests left or None]
        self.token_life = token_life
        self.serial = 0
        self.sort = True

    def state(self, rev):
        """key -> kv at revision rev."""
        kvs = {}
        for ev in self.events:
            if ev[0] > rev:
                break
            step(kvs, ev)
        return kvs

    def check_rev(self, rev):
        if rev > self.rev:
            raise EtcdError(*FUTURE)
        if 0 < rev < self.compacted:
            raise EtcdError(*COMPACTED)

    def user_of(self, token):
        """The user a request's token stands for; one use of it."""
        if not self.users:
            return None
        if not token:
            raise EtcdError(*NO_USER)
        t = self.tokens.get(token)
        if not t or t[1] == 0:
            raise EtcdError(*BAD_TOKEN)
        if t[1] is not None:
            t[1] -= 1
        return t[0]

    def may(self, user, key, end, write):
        """etcd's permission check: the whole range within what the user
        may read (or write)."""
        if user is None or self.users[user][1] is None:
            return
        p = self.users[user][1]
        if not write and key.startswith(p) and (
                not end or (end != b"\0" and end <= prefix_end(p))):
            return
        raise EtcdError(*DENIED)


def step(kvs, ev):
    """Apply one put to kvs; the kv it leaves."""
    rev, k, v, lease = ev
    old = kvs.get(k)
    kvs[k] = {"key": k, "create_revision": old["create_revision"] if old else rev,
              "mod_revision": rev, "version": old["version"] + 1 if old else 1,
              "value": v, "lease": lease}
    return kvs[k]


def kv_json(kv, keys_only=False):
    out = {"key": b64e(kv["key"])}
    for f in ("create_revision", "mod_revision", "version"):
        out[f] = str(kv[f])
    if kv["value"] and not keys_only:
        out["value"] = b64e(kv["value"])
    if kv["lease"]:
        out["lease"] = str(kv["lease"])
    return out


class Member:
    def __init__(self, store, port, n):
        self.store, self.port = store, port
        self.id = str(10276657743932975437 + n)
        self.leader = True

    def header(self, rev=True):
        h = {"cluster_id": "14841639068965178418", "member_id": self.id}
        if rev:
            h["revision"] = str(self.store.rev)
        h["raft_term"] = "2"
        return h


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # (a reply's head and body go out as two writes: without this, the
    # second waits for the client's delayed ACK, 40 ms a request)
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        sys.stderr.write("fake-etcd %d: %s\n" % (self.server.member.port, fmt % args))

    def send(self, status, body, extra=()):
        """A whole reply, or with body None the head of a stream."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for h in extra:
            self.send_header(*h)
        if body is None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            return
        b = body.encode()
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def chunk(self, s):
        b = s.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
        self.wfile.flush()

    def error(self, code, message):
        extra = [("WWW-Authenticate", message)] if code == 16 else []
        self.send(HTTP[code], pj({"code": code, "message": message}), extra=extra)

    def do_POST(self):
        m = self.server.member
        st = m.store
        n = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return self.error(3, "invalid character in request body")
        if self.path == "/v3/watch":
            return self.watch(m, st, req.get("create_request") or {})
        route = {"/v3/auth/authenticate": self.authenticate,
                 "/v3/kv/range": self.range, "/v3/kv/put": self.put,
                 "/v3/kv/compaction": self.compaction,
                 "/v3/maintenance/status": self.status}.get(self.path)
        try:
            if not route:
                raise EtcdError(*NOT_FOUND)
            if not m.leader:
                raise EtcdError(*NO_LEADER)
            with st.lock:
                body = route(m, st, req)
        except EtcdError as e:
            return self.error(*e.args)
        self.send(200, pj(body))

    def authenticate(self, m, st, req):
        u = st.users.get(req.get("name", ""))
        if not u or u[0] != req.get("password", ""):
            raise EtcdError(*BAD_PASSWORD)
        st.serial += 1
        token = "fakeSimpleToken.%d" % st.serial
        st.tokens[token] = [req["name"], st.token_life]
        return {"header": m.header(), "token": token}

    def range(self, m, st, req):
        key, end = b64d(req.get("key")), b64d(req.get("range_end"))
        if not key:
            raise EtcdError(*NO_KEY)
        st.may(st.user_of(self.headers.get("Authorization")), key, end, False)
        rev = int(req.get("revision") or 0)
        st.check_rev(rev)
        kvs = sorted((kv for k, kv in st.state(rev or st.rev).items()
                      if in_range(k, key, end)), key=lambda kv: kv["key"],
                     reverse=req.get("sort_order") == "DESCEND" and st.sort)
        out = {"header": m.header()}
        limit = int(req.get("limit") or 0)
        if not req.get("count_only"):
            page = kvs[:limit] if limit else kvs
            if page:
                out["kvs"] = [kv_json(kv, req.get("keys_only")) for kv in page]
            if limit and len(kvs) > limit:
                out["more"] = True
        if kvs:
            out["count"] = str(len(kvs))
        return out

    def put(self, m, st, req):
        key = b64d(req.get("key"))
        if not key:
            raise EtcdError(*NO_KEY)
        st.may(st.user_of(self.headers.get("Authorization")), key, b"", True)
        st.rev += 1
        st.events.append((st.rev, key, b64d(req.get("value")), int(req.get("lease") or 0)))
        st.lock.notify_all()
        return {"header": m.header()}

    def compaction(self, m, st, req):
        st.may(st.user_of(self.headers.get("Authorization")), b"\0", b"\0", True)
        rev = int(req.get("revision") or 0)
        st.check_rev(rev)
        if rev <= st.compacted:
            raise EtcdError(*COMPACTED)
        st.compacted = rev
        return {"header": m.header()}

    def status(self, m, st, req):
        return {"header": m.header(), "version": "3.6.0", "leader": m.id,
                "raftTerm": "2"}

    def watch(self, m, st, creq):
        """One watch on a stream: created, then events, until the client
        goes away or the member loses its leader."""
        if not m.leader:
            # An error before the first message has the HTTP status of
            # its code, and the stream's error shape.
            return self.send(HTTP[14], stream_msg("error", NO_LEADER_ERR))
        self.send(200, None)
        try:
            self.watch_on(m, st, creq)
        except OSError:  # the client went away
            pass
        self.close_connection = True

    def watch_on(self, m, st, creq):
        key, end = b64d(creq.get("key")), b64d(creq.get("range_end"))
        with st.lock:
            try:
                st.may(st.user_of(self.headers.get("Authorization")), key, end, False)
            except EtcdError as e:
                code, why = e.args
                out = [{"header": m.header(), "watch_id": "-1", "created": True,
                        "canceled": True, "cancel_reason": "rpc error: code = %s desc = %s"
                        % (GRPC_NAME[code], why)}]
                w = None
            else:
                start = int(creq.get("start_revision") or 0) or st.rev + 1
                out = [{"header": m.header(), "created": True}]
                w = (key, end, start)
                if start < st.compacted:
                    out.append({"header": m.header(rev=False), "canceled": True,
                                "compact_revision": str(st.compacted)})
                    w = None
        for res in out:
            self.chunk(stream_msg("result", res))
        self.hold(m, st, w)

    def hold(self, m, st, w):
        """Keep the stream open; with a watch w, send what it sees."""
        sent = (w[2] - 1) if w else 0
        while True:
            evs = []
            with st.lock:
                if m.leader and (not w or st.rev <= sent):
                    st.lock.wait(0.2)
                leader = m.leader
                if w and leader:
                    kvs = st.state(sent)
                    for ev in st.events:
                        if ev[0] > sent:
                            kv = step(kvs, ev)
                            if in_range(ev[1], w[0], w[1]):
                                evs.append({"kv": kv_json(kv)})
                    sent = st.rev
                hdr = m.header()
            if not leader:
                self.chunk(stream_msg("error", NO_LEADER_ERR))
                self.wfile.write(b"0\r\n\r\n")
                return
            if evs:
                self.chunk(stream_msg("result", {"header": hdr, "events": evs}))
            # A client that went away: its end of the connection reads
            # as EOF.
            r, _, _ = select.select([self.connection], [], [], 0)
            if r and not self.connection.recv(1, socket.MSG_PEEK):
                return


def main(argv):
    users, life, leaderless, sort, ports = {}, None, False, True, []
    args = iter(argv)
    for a in args:
        if a == "--user":
            name, _, rest = next(args).partition(":")
            pw, _, prefix = rest.partition(":")
            users[name] = (pw, prefix.encode() or None)
        elif a == "--token-life":
            life = int(next(args))
        elif a == "--leaderless":
            leaderless = True
        elif a == "--no-sort":
            sort = False
        else:
            ports.append(int(a))
    if not ports:
        sys.exit(__doc__.split("\n\n")[1])
    store = Store(users, life)
    store.sort = sort
    members = []
    for i, p in enumerate(ports):
        srv = ThreadingHTTPServer(("127.0.0.1", p), Handler)
        srv.daemon_threads = True
        srv.member = Member(store, p, i)
        members.append(srv.member)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    members[0].leader = not leaderless

    def lose_leader(*_):
        with store.lock:
            members[0].leader = False
            store.lock.notify_all()

    signal.signal(signal.SIGUSR1, lose_leader)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    main(sys.argv[1:])
