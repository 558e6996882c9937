"""Helpers for the live-view tests: processes, HTTP, and a minimal Chrome
DevTools Protocol client (standard library only: no pip packages)."""
import base64
import json
import os
import re
import select
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request

import kafka_harness as h


free_port = h.free_port


def get(url, token=None, method="GET", timeout=10):
    """(status, body bytes, headers) of an HTTP request."""
    req = urllib.request.Request(url, method=method)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def get_json(url, token=None):
    status, body, _ = get(url, token)
    return status, json.loads(body)


def wait_for(what, fn, timeout_s):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 (anything: not ready yet)
            last = e
        time.sleep(0.2)
    raise RuntimeError("timed out after %d s waiting for %s (last: %r)" % (timeout_s, what, last))


class Procs:
    """Started processes, all stopped on exit (also on failure)."""

    def __init__(self):
        self.procs = []

    def start(self, args, name, log_path):
        h.log("$", " ".join(args))
        f = open(log_path, "w")
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT)
        self.procs.append((p, name, f))
        return p

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p, name, f in reversed(self.procs):
            h.stop(p, name)
            f.close()


def pipeline(procs, roadpulse, tmp, servers, worker_http=None, live_rate=None):
    """generate (this year, through today; its manifest in tmp/truth.json)
    [+ live] and one worker."""
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    gen = [roadpulse, "generate", "--bootstrap-servers", servers, "--this-year", today[:4],
           "--through", today, "--truth", os.path.join(tmp, "truth.json")]
    if live_rate:
        gen += ["--live", "--live-rate", str(live_rate)]
        procs.start(gen, "generate", os.path.join(tmp, "generate.log"))
    elif h.run_command(gen, 300, "generate") != 0:
        h.fail("roadpulse generate failed")
    run = [roadpulse, "run", "--bootstrap-servers", servers, "--group", "view-test"]
    if worker_http:
        run += ["--http", worker_http]
    procs.start(run, "run", os.path.join(tmp, "run.log"))


def serve(procs, roadpulse, tmp, servers, port, name, extra=()):
    procs.start([roadpulse, "serve", "--bootstrap-servers", servers, "--http",
                 "127.0.0.1:%d" % port] + list(extra), name, os.path.join(tmp, name + ".log"))
    base = "http://127.0.0.1:%d" % port
    wait_for(name + " /healthz", lambda: get(base + "/healthz")[0] == 200, 60)
    return base


class Cdp:
    """Chrome DevTools Protocol over a WebSocket, standard library only."""

    def __init__(self, ws_url):
        m = re.match(r"ws://([^:/]+):(\d+)(/.*)", ws_url)
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" %
                           (m.group(3), m.group(1), m.group(2), key)).encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            resp += self.sock.recv(4096)
        if b" 101 " not in resp.split(b"\r\n")[0]:
            raise RuntimeError("websocket upgrade refused: %r" % resp[:200])
        self.buf = resp.split(b"\r\n\r\n", 1)[1]
        self.next_id = 0

    def _recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("devtools connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _recv_message(self):
        data = b""
        while True:
            b0, b1 = self._recv_exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._recv_exact(8))[0]
            data += self._recv_exact(n)
            if b0 & 0x80:
                return data

    def call(self, method, **params):
        self.next_id += 1
        payload = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        header = bytes([0x81])
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)
        while True:
            msg = json.loads(self._recv_message())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg["result"]

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return r["result"].get("value")


class Chromium:
    """Debian's chromium, headless, with a fresh profile; yields a Cdp client."""

    def __init__(self, url, tmp, size=(1600, 1000)):
        self.profile = os.path.join(tmp, "chromium-profile")
        os.makedirs(self.profile, exist_ok=True)
        self.args = ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--user-data-dir=" + self.profile, "--remote-debugging-port=0",
                     "--window-size=%d,%d" % size, url]
        self.proc = None

    def __enter__(self):
        if not os.path.exists(self.args[0]):
            h.fail("/usr/bin/chromium is missing: run deploy/setup.sh")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        ws = None
        err = b""
        while ws is None and time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stderr], [], [], 1)
            if r:
                line = self.proc.stderr.readline()
                err += line
                m = re.search(rb"DevTools listening on (ws://\S+)", line)
                if m:
                    ws = m.group(1).decode()
            if self.proc.poll() is not None:
                break
        if ws is None:
            raise RuntimeError("chromium did not start: %s" % err[-2000:].decode(errors="replace"))
        port = int(re.match(r"ws://[^:]+:(\d+)/", ws).group(1))
        pages = wait_for("a chromium page", lambda: [
            t for t in json.loads(urllib.request.urlopen(
                "http://127.0.0.1:%d/json/list" % port, timeout=5).read())
            if t.get("type") == "page"], 30)
        return Cdp(pages[0]["webSocketDebuggerUrl"])

    def __exit__(self, *exc):
        h.stop(self.proc, "chromium")
