#!/usr/bin/env python3
"""Integration test of `hashmatch serve`: the real server on loopback (free ports), driven with a real
HTTP client (http.client), every response checked against docs/openapi.yaml (jsonschema), and a real
Prometheus that scrapes /metrics and answers a query for the throughput counter.

Covered: every endpoint; tokens and scopes (401/403); bad media and hashes (400, with the item);
oversized bodies and too many hashes (413); overload (429 with Retry-After); list changes visible to
matching without a restart (API and another process); the audit log; SIGHUP reload (configuration,
tokens, batching knobs); SIGTERM drain with requests in flight (none lost); TLS; readiness false
until the lists load; loopback only without a token file. All traffic stays on 127.0.0.1.

Run by ctest (tests/server/CMakeLists.txt):
  test_server_integration.py --hashmatch BUILD/hashmatch --openapi docs/openapi.yaml --testdata DIR
"""
import argparse
import copy
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

import jsonschema
import yaml

ARGS = None
OPENAPI = None
FAILURES = []
CHECKS = 0


# ---------------------------------------------------------------------------------------------
# Small helpers

def check(cond, what):
    global CHECKS
    CHECKS += 1
    if not cond:
        raise AssertionError(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout, what, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "HTTP %d %s" % (self.status, self.body[:300])


def request(port, method, path, body=None, headers=None, token=None, tls_ctx=None, timeout=30):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if tls_ctx is not None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=tls_ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return Response(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def multipart(field, filename, data, content_type="application/octet-stream"):
    boundary = "----hashmatch%016x" % random.getrandbits(64)
    head = ('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
            'Content-Type: %s\r\n\r\n' % (boundary, field, filename, content_type)).encode()
    tail = ("\r\n--%s--\r\n" % boundary).encode()
    return head + data + tail, {"Content-Type": "multipart/form-data; boundary=" + boundary}


# ---------------------------------------------------------------------------------------------
# OpenAPI: responses validated against the schema of (path, method, status)

def schema_for(path, method, status):
    op = OPENAPI["paths"][path][method.lower()]
    responses = op["responses"]
    key = str(status)
    check(key in responses, "%s %s: status %d is not documented in openapi.yaml" % (method, path, status))
    resp = responses[key]
    if "$ref" in resp:
        resp = OPENAPI["components"]["responses"][resp["$ref"].split("/")[-1]]
    return resp


def rewrite_refs(node):
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/components/schemas/"):
                out[k] = "#/$defs/" + v.split("/")[-1]
            else:
                out[k] = rewrite_refs(v)
        return out
    if isinstance(node, list):
        return [rewrite_refs(x) for x in node]
    return node


DEFS = None


def validate(resp, path, method):
    """The response's status is documented for this operation, its body (JSON) matches the schema,
    and documented required headers are present."""
    global DEFS
    if DEFS is None:
        DEFS = rewrite_refs(OPENAPI["components"]["schemas"])
    spec = schema_for(path, method, resp.status)
    content = spec.get("content", {})
    if "application/json" in content:
        check(resp.headers.get("content-type", "").startswith("application/json"),
              "%s %s %d: content-type %r" % (method, path, resp.status, resp.headers.get("content-type")))
        check(resp.json is not None, "%s %s %d: body is not JSON: %r" % (method, path, resp.status, resp.body[:200]))
        schema = rewrite_refs(copy.deepcopy(content["application/json"]["schema"]))
        schema["$defs"] = DEFS
        try:
            jsonschema.Draft202012Validator(schema).validate(resp.json)
        except jsonschema.ValidationError as e:
            raise AssertionError("%s %s %d: response does not match openapi.yaml: %s at %s\nbody: %s" % (
                method, path, resp.status, e.message, list(e.absolute_path), resp.body[:800]))
    for name, h in spec.get("headers", {}).items():
        if h.get("required"):
            check(name.lower() in resp.headers, "%s %s %d: header %s missing" % (method, path, resp.status, name))
    return resp


def call(port, method, path, template=None, expect=None, **kw):
    r = request(port, method, path, **kw)
    validate(r, template or path.split("?")[0], method)
    if expect is not None:
        check(r.status == expect, "%s %s: expected %d, got %r" % (method, path, expect, r))
    return r


# ---------------------------------------------------------------------------------------------
# The server process

class Server:
    def __init__(self, workdir, args, env=None, name="server"):
        self.workdir = workdir
        self.log_path = os.path.join(workdir, name + ".log")
        self.log = open(self.log_path, "wb")
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("HASHMATCH_"):
                del e[k]
        e.update(env or {})
        self.proc = subprocess.Popen([ARGS.hashmatch, "serve"] + args, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=e, cwd=workdir)
        self.port = self.metrics_port = None
        self.scheme = "http"

        def ports():
            if self.proc.poll() is not None:
                raise AssertionError("the server exited early (%s):\n%s" % (self.proc.returncode, self.text()))
            m = re.search(r"listening on (https?)://([\d.]+):(\d+)", self.text())
            if not m:
                return None
            self.scheme, self.host, self.port = m.group(1), m.group(2), int(m.group(3))
            mm = re.search(r"metrics on http://[\d.]+:(\d+)/metrics", self.text())
            self.metrics_port = int(mm.group(1)) if mm else None
            return True

        wait_for(ports, 20, "the server to listen")

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def count(self, needle):
        return self.text().count(needle)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self):
        n = self.count("reloaded configuration")
        rejected = self.count("reload:")
        self.signal(signal.SIGHUP)
        wait_for(lambda: self.count("reloaded configuration") > n or self.count("reload:") > rejected,
                 15, "the reload")
        check(self.count("reloaded configuration") > n, "reload rejected:\n" + self.text()[-2000:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------------------------------------
# Test data: benign reference images and their expected PDQ hashes (read in place)

def expected_pdq():
    out = {}
    with open(os.path.join(ARGS.testdata, "pdq", "expected_generated.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 4 and cols[1] == "fullres":
                out[cols[0]] = (int(cols[2]), cols[3])
    return out


def read(rel):
    with open(os.path.join(ARGS.testdata, rel), "rb") as f:
        return f.read()


def hamming(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


# ---------------------------------------------------------------------------------------------

class Ctx:
    pass


def main():
    global ARGS, OPENAPI
    ap = argparse.ArgumentParser()
    ap.add_argument("--hashmatch", required=True)
    ap.add_argument("--openapi", required=True)
    ap.add_argument("--testdata", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ARGS = ap.parse_args()
    ARGS.hashmatch = os.path.abspath(ARGS.hashmatch)
    ARGS.testdata = os.path.abspath(ARGS.testdata)
    with open(ARGS.openapi) as f:
        OPENAPI = yaml.safe_load(f)
    check(OPENAPI.get("openapi", "").startswith("3."), "openapi.yaml is not an OpenAPI 3 document")

    t_start = time.time()
    work = tempfile.mkdtemp(prefix="hm-server-it-")
    c = Ctx()
    c.work = work
    c.db = os.path.join(work, "lists.db")
    c.audit = os.path.join(work, "audit.jsonl")
    c.tokens = {name: "%s-token-%s" % (name, os.urandom(12).hex()) for name in ("hasher", "matcher", "admin", "late")}
    c.tokens_path = os.path.join(work, "tokens.yaml")
    write_tokens(c, ["hasher", "matcher", "admin"])
    c.config_path = os.path.join(work, "hashmatch.yaml")
    c.config = {
        "db": c.db,
        "listen": "127.0.0.1:0",
        "metrics_listen": "127.0.0.1:0",
        "tokens": c.tokens_path,
        "audit_log": c.audit,
        "reload_interval": "300ms",
        "shutdown_grace": "20s",
        "limits": {"max_body_bytes": "3MiB", "max_hashes_per_request": 3000},
        "batching": {"max_batch_frames": 16, "max_queue_delay": "2ms"},
        "decode": {"threads": 2},
        "http": {"threads": 32},
    }
    write_config(c)

    servers = []
    prom = None
    try:
        c.srv = Server(work, ["--config", c.config_path])
        servers.append(c.srv)
        prom = start_prometheus(c)
        steps = [
            step_health_and_ready, step_print_config, step_auth, step_hash_images, step_bad_media,
            step_oversized, step_lists_admin, step_match_media, step_match_dihedral,
            step_match_hashes, step_list_change_visible, step_other_process_change, step_video,
            step_audit_log, step_listed_videos, step_metrics_and_prometheus, step_sighup_reload,
            step_overload, step_sigterm_drain,
        ]
        for s in steps:
            run_step(s, c)
        run_step(step_seen_before, c, servers)
        run_step(step_video_small_queue, c, servers)
        run_step(step_tls_loopback_and_readiness, c, servers)
    finally:
        for s in servers:
            s.stop()
        if prom is not None:
            prom.terminate()
            try:
                prom.wait(10)
            except subprocess.TimeoutExpired:
                prom.kill()
        if FAILURES and os.path.exists(os.path.join(work, "server.log")):
            sys.stderr.write("---- server log (tail) ----\n" + c.srv.text()[-4000:] + "\n")
        if not ARGS.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("%d checks, %d failed steps, %.1f s" % (CHECKS, len(FAILURES), time.time() - t_start))
    if FAILURES:
        for name, err in FAILURES:
            print("FAILED %s: %s" % (name, err))
        return 1
    return 0


def run_step(fn, *a):
    t0 = time.time()
    try:
        fn(*a)
        print("ok   %-36s %.2f s" % (fn.__name__, time.time() - t0), flush=True)
    except Exception as e:  # noqa: BLE001 - report and go on with the next step
        FAILURES.append((fn.__name__, str(e)))
        print("FAIL %-36s %s" % (fn.__name__, e), flush=True)
        traceback.print_exc()


def write_tokens(c, names):
    scopes = {"hasher": ["hash"], "matcher": ["hash", "match"], "admin": ["admin"], "late": ["match"]}
    doc = {"tokens": []}
    for n in names:
        if n == "admin":  # stored as its digest, the way a token file need not hold secrets
            doc["tokens"].append({"name": n, "sha256": hashlib.sha256(c.tokens[n].encode()).hexdigest(),
                                  "scopes": scopes[n]})
        else:
            doc["tokens"].append({"name": n, "token": c.tokens[n], "scopes": scopes[n]})
    with open(c.tokens_path, "w") as f:
        yaml.safe_dump(doc, f)
    os.chmod(c.tokens_path, 0o600)


def write_config(c):
    with open(c.config_path, "w") as f:
        yaml.safe_dump(c.config, f)


def start_prometheus(c):
    exe = shutil.which("prometheus")
    check(exe is not None, "the prometheus binary is missing (scripts/install-deps.sh installs it)")
    c.prom_port = free_port()
    cfg = os.path.join(c.work, "prometheus.yml")
    with open(cfg, "w") as f:
        yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "hashmatch",
                                "static_configs": [{"targets": ["127.0.0.1:%d" % c.srv.metrics_port]}]}],
        }, f)
    log = open(os.path.join(c.work, "prometheus.log"), "wb")
    return subprocess.Popen([exe, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(c.work, "tsdb"),
                             "--web.listen-address=127.0.0.1:%d" % c.prom_port, "--log.level=warn"],
                            stdout=log, stderr=subprocess.STDOUT)


# ---------------------------------------------------------------------------------------------
# Steps

def step_health_and_ready(c):
    p = c.srv.port
    call(p, "GET", "/healthz", expect=200)
    r = wait_for(lambda: (lambda r: r if r.status == 200 else None)(request(p, "GET", "/readyz")), 20, "readiness")
    validate(r, "/readyz", "GET")
    check(r.json["ready"] and r.json["lists_loaded"] and not r.json["draining"], repr(r))
    r = request(p, "GET", "/no/such/endpoint")
    check(r.status == 404 and r.json["error"]["code"] == "not_found", repr(r))


def step_print_config(c):
    out = subprocess.run([ARGS.hashmatch, "serve", "--config", c.config_path, "--print-config",
                          "--max-batch-frames", "99"], capture_output=True, text=True,
                         env={**os.environ, "HASHMATCH_MAX_QUEUE_DELAY": "7ms"}, timeout=30)
    check(out.returncode == 0, out.stderr)
    eff = yaml.safe_load(out.stdout)
    check(eff["batching"]["max_batch_frames"] == 99, "flag over file")
    check(eff["batching"]["max_queue_delay"] == "7ms", "environment over file")
    check(eff["db"] == c.db and eff["limits"]["max_hashes_per_request"] == 3000, "file over defaults")
    bad = subprocess.run([ARGS.hashmatch, "serve", "--max-batch-frames", "lots", "--print-config"],
                         capture_output=True, text=True, timeout=30)
    check(bad.returncode == 2 and "--max-batch-frames" in bad.stderr, bad.stderr)


def step_auth(c):
    p = c.srv.port
    img = read("pdq/bridge-mods/aaa-orig.jpg")
    r = call(p, "POST", "/v1/hash", body=img, expect=401)
    check(r.headers.get("www-authenticate", "").startswith("Bearer"), "401 without WWW-Authenticate")
    call(p, "POST", "/v1/hash", body=img, token="not-a-real-token-000000", expect=401)
    r = call(p, "POST", "/v1/hash", body=img, headers={"Authorization": "Basic YTpi"}, expect=401)
    r = call(p, "POST", "/v1/match", body=img, token=c.tokens["hasher"], expect=403)
    check(r.json["error"]["required_scope"] == "match", repr(r))
    call(p, "POST", "/v1/lists/x/entries", template="/v1/lists/{name}/entries",
         body=b'{"entries": []}', headers={"Content-Type": "application/json"},
         token=c.tokens["matcher"], expect=403)
    call(p, "DELETE", "/v1/lists/x/entries/y", template="/v1/lists/{name}/entries/{id}",
         token=c.tokens["hasher"], expect=403)
    call(p, "GET", "/v1/lists", token=c.tokens["hasher"], expect=403)
    call(p, "GET", "/v1/lists", expect=401)
    # Probes need no token.
    call(p, "GET", "/healthz", expect=200)


def step_hash_images(c):
    p = c.srv.port
    exp = expected_pdq()
    c.hashes = {}
    for rel in ["bridge-mods/aaa-orig.jpg", "bridge-mods/blur-a-little.jpg", "bridge-mods/square-256x256.jpg",
                "bridge-mods/high-contrast.jpg"]:
        data = read("pdq/" + rel)
        r = call(p, "POST", "/v1/hash", body=data, token=c.tokens["hasher"], expect=200,
                 headers={"Content-Type": "image/jpeg"})
        quality, pdq = exp[rel]
        check(r.json["pdq"] == pdq, "%s: pdq %s, expected %s" % (rel, r.json["pdq"], pdq))
        check(r.json["pdq_quality"] == quality, rel)
        check(r.json["md5"] == hashlib.md5(data).hexdigest(), rel + " md5")
        check(r.json["sha1"] == hashlib.sha1(data).hexdigest(), rel + " sha1")
        check(r.json["sha256"] == hashlib.sha256(data).hexdigest(), rel + " sha256")
        check(r.json["size"] == len(data) and r.json["format"] == "jpeg", rel)
        c.hashes[rel] = r.json
    # Multipart upload as HMA clients send it; untyped raw body (curl --data-binary) too.
    data = read("pdq/bridge-mods/aaa-orig.jpg")
    body, headers = multipart("photo", "a.jpg", data, "image/jpeg")
    r = call(p, "POST", "/v1/hash?dihedral=true", template="/v1/hash", body=body, headers=headers,
             token=c.tokens["hasher"], expect=200)
    check(r.json["pdq"] == exp["bridge-mods/aaa-orig.jpg"][1], "multipart upload hashed differently")
    check(len(r.json["pdq_dihedral"]) == 8 and r.json["pdq_dihedral"][0] == r.json["pdq"], repr(r))
    c.dihedral = r.json["pdq_dihedral"]
    r = call(p, "POST", "/v1/hash", body=data, headers={"Content-Type": "application/x-www-form-urlencoded"},
             token=c.tokens["hasher"], expect=200)
    check(r.json["pdq"] == exp["bridge-mods/aaa-orig.jpg"][1], "form-typed raw body")
    # A PNG of another kind of content.
    png = next(k for k in exp if k.endswith(".png"))
    r = call(p, "POST", "/v1/hash", body=read("pdq/" + png), token=c.tokens["hasher"], expect=200)
    check(r.json["pdq"] == exp[png][1] and r.json["format"] == "png", png)


def step_bad_media(c):
    p = c.srv.port
    t = c.tokens["matcher"]
    jpeg = read("pdq/bridge-mods/aaa-orig.jpg")
    cases = [
        (b"", None),
        (b"\x00\x01 definitely not an image \x02" * 20, "unsupported"),
        (jpeg[: len(jpeg) // 3], None),  # truncated JPEG
        (b"\x89PNG\r\n\x1a\n" + os.urandom(200), None),  # broken PNG
    ]
    for body, reason in cases:
        for ep in ("/v1/hash", "/v1/match"):
            r = call(p, "POST", ep, body=body, token=t, expect=400)
            check(r.json["error"]["code"] in ("bad_media", "bad_request"), repr(r))
            check(r.json["error"]["message"], "an empty message")
            if reason:
                check(r.json["error"].get("reason") == reason, repr(r))
    # The server is still fine.
    call(p, "POST", "/v1/hash", body=jpeg, token=t, expect=200)


def step_oversized(c):
    p = c.srv.port
    big = os.urandom(3 * 1024 * 1024 + 1)
    r = call(p, "POST", "/v1/hash", body=big, token=c.tokens["hasher"], expect=413)
    check(r.json["error"]["code"] == "payload_too_large", repr(r))
    # Chunked upload (no Content-Length) over the limit: stopped at the limit, 413 too.
    def chunks():
        for _ in range(4):
            yield os.urandom(1024 * 1024)
    conn = http.client.HTTPConnection("127.0.0.1", p, timeout=30)
    try:
        conn.request("POST", "/v1/hash", body=chunks(), encode_chunked=True,
                     headers={"Authorization": "Bearer " + c.tokens["hasher"], "Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        r = Response(resp.status, resp.getheaders(), resp.read())
    except (ConnectionError, http.client.HTTPException):
        r = None  # the server may close the connection before the whole body is sent
    finally:
        conn.close()
    if r is not None:
        validate(r, "/v1/hash", "POST")
        check(r.status == 413, "chunked oversized body: %r" % r)
    call(p, "GET", "/healthz", expect=200)
    # A client that asks first (Expect: 100-continue) gets its 413 before sending any of an
    # oversized body, and the connection is closed; one under the limit is told to go on.
    def ask(length):
        s = socket.create_connection(("127.0.0.1", p), timeout=10)
        s.sendall(("POST /v1/hash HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n"
                   "Expect: 100-continue\r\n\r\n" % (c.tokens["hasher"], length)).encode())
        return s
    s = ask(64 * 1024 * 1024)
    try:
        raw = b""
        while True:  # up to the close: the body is never sent
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
    finally:
        s.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 413 "), "Expect with an oversized body: %r" % raw[:200])
    check(json.loads(body)["error"]["code"] == "payload_too_large", repr(raw[:300]))
    jpeg = read("pdq/bridge-mods/aaa-orig.jpg")
    s = ask(len(jpeg))
    try:
        check(s.recv(65536).startswith(b"HTTP/1.1 100 Continue"), "100 Continue under the limit")
        s.sendall(jpeg)
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(65536)
        check(got.startswith(b"HTTP/1.1 200 "), "body sent after 100 Continue: %r" % got[:200])
    finally:
        s.close()
    many = {"hashes": ["%032x" % i for i in range(3001)]}
    r = call(p, "POST", "/v1/match/hashes", body=json.dumps(many), token=c.tokens["matcher"], expect=413,
             headers={"Content-Type": "application/json"})
    check(r.json["error"]["code"] == "too_many_hashes", repr(r))


def step_lists_admin(c):
    p = c.srv.port
    t = c.tokens["admin"]
    orig = c.hashes["bridge-mods/aaa-orig.jpg"]
    square = c.hashes["bridge-mods/square-256x256.jpg"]
    doc = {"entries": [
        {"id": "bridge-1", "pdq": orig["pdq"], "labels": {"category": "test", "source": "it", "tags": ["a", "b"]}},
        {"id": "square-md5", "md5": square["md5"], "sha1": square["sha1"]},
        {"id": "rot90-of-bridge", "pdq": c.dihedral[1]},
    ]}
    r = call(p, "POST", "/v1/lists/known/entries", template="/v1/lists/{name}/entries", body=json.dumps(doc),
             headers={"Content-Type": "application/json"}, token=t, expect=201)
    check(r.json["created"] and r.json["imported"] == 4 and r.json["records"] == 3, repr(r))
    # An import format (ThreatExchange lines) into another list.
    te = "pdq %s\nmd5 %s\n" % ("%064x" % random.getrandbits(256), "%032x" % random.getrandbits(128))
    r = call(p, "POST", "/v1/lists/other/entries?format=te", template="/v1/lists/{name}/entries",
             body=te, headers={"Content-Type": "text/plain"}, token=t, expect=201)
    check(r.json["format"] == "te" and r.json["imported"] == 2, repr(r))
    # A broken record rolls everything back and names it.
    bad = {"entries": [{"id": "ok", "pdq": "%064x" % 5}, {"id": "broken", "pdq": "xyz"}]}
    r = call(p, "POST", "/v1/lists/known/entries", template="/v1/lists/{name}/entries", body=json.dumps(bad),
             headers={"Content-Type": "application/json"}, token=t, expect=400)
    check("entries[1]" in r.json["error"]["message"], repr(r))
    call(p, "POST", "/v1/lists/bad%20name/entries", template="/v1/lists/{name}/entries", body=json.dumps(doc),
         headers={"Content-Type": "application/json"}, token=t, expect=400)
    r = call(p, "GET", "/v1/lists", token=c.tokens["matcher"], expect=200)
    names = {l["name"]: l for l in r.json["lists"]}
    check(set(names) == {"known", "other"}, repr(r))
    check(names["known"]["entries"] == 4 and names["known"]["by_algo"]["pdq"] == 2, repr(names["known"]))
    check(names["known"]["loaded"], "list not loaded after the change")
    r = call(p, "GET", "/v1/lists/known", template="/v1/lists/{name}", token=c.tokens["matcher"], expect=200)
    check(r.json["records"] == 3, repr(r))
    call(p, "GET", "/v1/lists/nothing", template="/v1/lists/{name}", token=c.tokens["matcher"], expect=404)


def step_match_media(c):
    p = c.srv.port
    t = c.tokens["matcher"]
    r = call(p, "POST", "/v1/match", body=read("pdq/bridge-mods/blur-a-little.jpg"), token=t, expect=200)
    near = [m for m in r.json["matches"] if m["id"] == "bridge-1"]
    check(r.json["matched"] and len(near) == 1, repr(r))
    m = near[0]
    d = hamming(c.hashes["bridge-mods/blur-a-little.jpg"]["pdq"], c.hashes["bridge-mods/aaa-orig.jpg"]["pdq"])
    check(m["distance"] == d and 0 < d <= 31, "distance %s, expected %d" % (m["distance"], d))
    check(m["list"] == "known" and m["algo"] == "pdq" and m["variant"] == "original" and m["threshold"] == 31, repr(m))
    check(m["labels"] == {"category": "test", "source": "it", "tags": ["a", "b"]}, repr(m))
    check(sorted(r.json["lists"]) == ["known", "other"], repr(r.json["lists"]))
    # Exact digests.
    r = call(p, "POST", "/v1/match", body=read("pdq/bridge-mods/square-256x256.jpg"), token=t, expect=200)
    algos = sorted(m["algo"] for m in r.json["matches"] if m["id"] == "square-md5")
    check(algos == ["md5", "sha1"], repr(r))
    # Restricting the lists, a stricter threshold, an unknown list.
    r = call(p, "POST", "/v1/match?lists=other", template="/v1/match",
             body=read("pdq/bridge-mods/blur-a-little.jpg"), token=t, expect=200)
    check(not r.json["matched"] and r.json["lists"] == ["other"], repr(r))
    check("seen_before" not in r.json, "seen_before without the memory (triage.memory): %r" % r)
    r = call(p, "POST", "/v1/match?threshold=%d" % (d - 1), template="/v1/match",
             body=read("pdq/bridge-mods/blur-a-little.jpg"), token=t, expect=200)
    check(not any(m["id"] == "bridge-1" for m in r.json["matches"]), "threshold not applied")
    r = call(p, "POST", "/v1/match?lists=nope", template="/v1/match",
             body=read("pdq/bridge-mods/blur-a-little.jpg"), token=t, expect=400)
    check(r.json["error"]["code"] == "unknown_list" and r.json["error"]["list"] == "nope", repr(r))


def step_match_dihedral(c):
    # The list holds the rot90 hash of the bridge image: the image itself matches it through its
    # rot90 variant at distance 0, and not at all with dihedral=false.
    p = c.srv.port
    t = c.tokens["matcher"]
    data = read("pdq/bridge-mods/aaa-orig.jpg")
    r = call(p, "POST", "/v1/match", body=data, token=t, expect=200)
    rot = [m for m in r.json["matches"] if m["id"] == "rot90-of-bridge"]
    check(len(rot) == 1 and rot[0]["variant"] == "rot90" and rot[0]["distance"] == 0, repr(r))
    r = call(p, "POST", "/v1/match?dihedral=false", template="/v1/match", body=data, token=t, expect=200)
    check(not any(m["id"] == "rot90-of-bridge" for m in r.json["matches"]), repr(r))
    check(r.json["dihedral"] is False, repr(r))


def step_match_hashes(c):
    p = c.srv.port
    t = c.tokens["matcher"]
    orig = c.hashes["bridge-mods/aaa-orig.jpg"]
    square = c.hashes["bridge-mods/square-256x256.jpg"]
    rng = random.Random(7)
    items = ["%064x" % rng.getrandbits(256) for _ in range(2500)]
    items[17] = {"pdq": orig["pdq"], "ref": "needle"}
    items[1234] = square["md5"]
    items[2001] = {"sha1": square["sha1"].upper()}
    items[2002] = {"pdq": orig["pdq"], "quality": 10}
    r = call(p, "POST", "/v1/match/hashes", body=json.dumps({"hashes": items}), token=t, expect=200)
    res = r.json["results"]
    check(len(res) == 2500 and [x["index"] for x in res] == list(range(2500)), "order")
    check(res[17]["ref"] == "needle" and any(m["id"] == "bridge-1" and m["distance"] == 0 for m in res[17]["matches"]), repr(res[17]))
    check(res[1234]["algo"] == "md5" and res[1234]["matches"][0]["id"] == "square-md5", repr(res[1234]))
    check(res[2001]["algo"] == "sha1" and res[2001]["matches"], repr(res[2001]))
    check("skipped" in res[2002] and not res[2002]["matches"], repr(res[2002]))
    check(r.json["matched"] == 3, "matched %s" % r.json["matched"])
    # Lists and threshold in the body.
    body = {"hashes": [orig["pdq"]], "lists": ["other"]}
    r = call(p, "POST", "/v1/match/hashes", body=json.dumps(body), token=t, expect=200)
    check(not r.json["results"][0]["matches"], repr(r))
    # Bad items name their index.
    for bad, idx in [({"hashes": [orig["pdq"], "zz"]}, 1), ({"hashes": [{"pdq": "g" * 64}]}, 0),
                     ({"hashes": [{"md5": square["md5"], "sha1": square["sha1"]}]}, 0)]:
        r = call(p, "POST", "/v1/match/hashes", body=json.dumps(bad), token=t, expect=400)
        check(r.json["error"]["code"] == "bad_hash" and r.json["error"]["index"] == idx, repr(r))
    r = call(p, "POST", "/v1/match/hashes", body="{not json", token=t, expect=400)
    r = call(p, "POST", "/v1/match/hashes", body=json.dumps({"hashes": [], "colour": 1}), token=t, expect=400)


def step_list_change_visible(c):
    p = c.srv.port
    data = read("pdq/bridge-mods/blur-a-little.jpg")
    r = call(p, "DELETE", "/v1/lists/known/entries/bridge-1", template="/v1/lists/{name}/entries/{id}",
             token=c.tokens["admin"], expect=200)
    check(r.json["removed"] == 1, repr(r))
    r = call(p, "POST", "/v1/match", body=data, token=c.tokens["matcher"], expect=200)
    check(not any(m["id"] == "bridge-1" for m in r.json["matches"]), "deleted entry still matches")
    call(p, "DELETE", "/v1/lists/known/entries/bridge-1", template="/v1/lists/{name}/entries/{id}",
         token=c.tokens["admin"], expect=404)
    call(p, "DELETE", "/v1/lists/nope/entries/x", template="/v1/lists/{name}/entries/{id}",
         token=c.tokens["admin"], expect=404)
    doc = {"entries": [{"id": "bridge-2", "pdq": c.hashes["bridge-mods/aaa-orig.jpg"]["pdq"]}]}
    call(p, "POST", "/v1/lists/known/entries", template="/v1/lists/{name}/entries", body=json.dumps(doc),
         headers={"Content-Type": "application/json"}, token=c.tokens["admin"], expect=200)
    r = call(p, "POST", "/v1/match", body=data, token=c.tokens["matcher"], expect=200)
    check(any(m["id"] == "bridge-2" for m in r.json["matches"]), "added entry does not match")


def step_other_process_change(c):
    # Another process imports into the same database; the server sees it within reload_interval.
    p = c.srv.port
    h = c.hashes["bridge-mods/high-contrast.jpg"]["pdq"]
    path = os.path.join(c.work, "import.txt")
    with open(path, "w") as f:
        f.write("pdq %s\n" % h)
    out = subprocess.run([ARGS.hashmatch, "list", "import", "--db", c.db, "--list", "cli", "--format", "te", path],
                         capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, out.stderr)
    data = read("pdq/bridge-mods/high-contrast.jpg")

    def seen():
        r = request(p, "POST", "/v1/match", body=data, token=c.tokens["matcher"])
        return r.status == 200 and any(m["list"] == "cli" for m in r.json["matches"])
    wait_for(seen, 15, "the server to pick up the list imported by another process", interval=0.2)


def step_video(c):
    p = c.srv.port
    name = "test-padded-dimensions"
    data = read("vpdq/videos/%s.mp4" % name)
    r = call(p, "POST", "/v1/hash", body=data, token=c.tokens["hasher"])
    if r.status == 400 and r.json["error"].get("reason") == "unsupported":
        print("     (video not supported by this build: skipped)")
        return
    check(r.status == 200, repr(r))
    # Frames 1080 pixels wide: several requests in a row (a decoder buffer overrun once corrupted the
    # heap on the second one).
    for _ in range(2):
        again = call(p, "POST", "/v1/hash", body=data, token=c.tokens["hasher"], expect=200)
        check(again.json["vpdq"] == r.json["vpdq"], "the same video hashed differently")
    frames = r.json["vpdq"]
    check(len(frames) >= 2 and r.json["video"]["frames_hashed"] == len(frames), repr(r.json.get("video")))
    ref = {}
    with open(os.path.join(ARGS.testdata, "vpdq", "sample-hashes", name + ".txt")) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) == 4:
                ref[int(parts[0])] = parts[2]
    for fr in frames:
        check(fr["frame"] in ref and hamming(fr["pdq"], ref[fr["frame"]]) < 31,
              "frame %d differs from the reference vPDQ" % fr["frame"])
    # Match the video against a list holding one of its frames.
    doc = {"entries": [{"id": "video-frame", "pdq": frames[1]["pdq"]}]}
    call(p, "POST", "/v1/lists/videos/entries", template="/v1/lists/{name}/entries", body=json.dumps(doc),
         headers={"Content-Type": "application/json"}, token=c.tokens["admin"], expect=201)
    r = call(p, "POST", "/v1/match?lists=videos", template="/v1/match", body=data, token=c.tokens["matcher"], expect=200)
    m = [x for x in r.json["matches"] if x["id"] == "video-frame"]
    check(len(m) == 1 and m[0]["video"]["frames_matched"] >= 1, repr(r))
    q = m[0]["video"]
    check(abs(q["query_match_percent"] - 100.0 * q["frames_matched"] / q["query_frames"]) < 1e-9, repr(q))
    # The same video listed as a video (vPDQ frames in the database, by another process): matched by
    # vPDQ's video-level rule, every frame on both sides.
    path = os.path.join(ARGS.testdata, "vpdq", "videos", name + ".mp4")
    out = subprocess.run([ARGS.hashmatch, "video", "add", "--db", c.db, "--list", "videos", "--id", "listed-video",
                          "--category", "v", path], capture_output=True, text=True, timeout=120)
    check(out.returncode == 0, out.stderr)

    def listed():
        r = request(p, "POST", "/v1/match?lists=videos", body=data, token=c.tokens["matcher"])
        return r if r.status == 200 and any(x["algo"] == "vpdq" for x in r.json["matches"]) else None
    r = wait_for(listed, 20, "the listed video to be matched", interval=0.2)
    validate(r, "/v1/match", "POST")
    v = [x for x in r.json["matches"] if x["algo"] == "vpdq"]
    check(len(v) == 1 and v[0]["id"] == "listed-video" and v[0]["labels"]["category"] == "v", repr(v))
    check(v[0]["vpdq"]["query_match_percent"] == 100 and v[0]["vpdq"]["compared_match_percent"] == 100, repr(v))
    check(r.json["vpdq_match"]["videos_matched"] == 1, repr(r.json["vpdq_match"]))
    # A listed file that does not decode (cut before its index) is still found by its exact hash:
    # the matches come in the bad_media error's body.
    broken = data[: len(data) // 2]
    doc = {"entries": [{"id": "broken-file", "md5": hashlib.md5(broken).hexdigest()}]}
    call(p, "POST", "/v1/lists/videos/entries", template="/v1/lists/{name}/entries", body=json.dumps(doc),
         headers={"Content-Type": "application/json"}, token=c.tokens["admin"], expect=200)  # list exists

    def broken_listed():
        r = request(p, "POST", "/v1/match?lists=videos", body=broken, token=c.tokens["matcher"])
        return r if r.status == 400 and any(
            x["id"] == "broken-file" for x in r.json["error"].get("matches", [])) else None
    r = wait_for(broken_listed, 20, "the broken file's md5 match", interval=0.2)
    validate(r, "/v1/match", "POST")
    check(r.json["error"]["code"] == "bad_media" and r.json["error"]["reason"] != "", repr(r))
    # A truncated copy that keeps some frames (the video in Matroska, cut at 70 %): the error, and
    # the frames hashed before the cut still match the listed video.
    ffmpeg = shutil.which("ffmpeg")
    check(ffmpeg is not None, "ffmpeg CLI missing")
    mkv = os.path.join(c.work, "listed.mkv")
    out = subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-i", path, "-map", "0:v", "-c", "copy",
                          mkv], capture_output=True, timeout=120)
    check(out.returncode == 0, out.stderr.decode())
    with open(mkv, "rb") as f:
        whole = f.read()
    r = call(p, "POST", "/v1/match?lists=videos", template="/v1/match", body=whole[: len(whole) * 7 // 10],
             token=c.tokens["matcher"], expect=400)
    e = r.json["error"]
    check(e["code"] == "bad_media" and e["reason"] == "truncated", repr(e))
    v = [x for x in e.get("matches", []) if x["algo"] == "vpdq" and x["id"] == "listed-video"]
    check(len(v) == 1 and v[0]["vpdq"]["query_match_percent"] == 100
          and 0 < v[0]["vpdq"]["query_frames"] < v[0]["vpdq"]["compared_frames"], repr(e))
    check(e["vpdq_match"]["videos_matched"] == 1, repr(e.get("vpdq_match")))
    # The percentage thresholds are applied per request from the running configuration: a SIGHUP
    # that asks for every listed frame (c% = 100) turns the cut copy's match away, and back.
    for percent, matched in ((100, 0), (0, 1)):
        c.config.setdefault("video", {})["compared_match_percent"] = percent
        write_config(c)
        c.srv.reload()
        r = call(p, "POST", "/v1/match?lists=videos", template="/v1/match", body=whole[: len(whole) * 7 // 10],
                 token=c.tokens["matcher"], expect=400)
        check(r.json["error"]["vpdq_match"]["videos_matched"] == matched,
              "c%% %d: %r" % (percent, r.json["error"].get("vpdq_match")))


def step_audit_log(c):
    with open(c.audit) as f:
        recs = [json.loads(l) for l in f if l.strip()]
    adds = [r for r in recs if r["action"] == "add_entries"]
    dels = [r for r in recs if r["action"] == "delete_entry"]
    check(len(dels) == 1 and dels[0]["id"] == "bridge-1" and dels[0]["list"] == "known", repr(dels))
    check(all(r["who"] == "admin" for r in recs), "who: %r" % {r["who"] for r in recs})
    check(all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", r["time"]) for r in recs), "time format")
    check(any(r["list"] == "other" and r["format"] == "te" for r in adds), repr(adds))
    check(all(r["remote"] == "127.0.0.1" and r["request_id"] for r in recs), "remote/request id")
    check(oct(os.stat(c.audit).st_mode & 0o777) == "0o600", "audit log mode")


def step_listed_videos(c):
    # Listed videos under the request's options: `threshold` (as `hashmatch match` and `scan` apply
    # it to vPDQ frames; any value served exactly), a match.min_quality changed by SIGHUP on both
    # sides of one answer; then DELETE removes them by id, one added from a vPDQ file (no entries,
    # once a 404) too, and they stop matching.
    p = c.srv.port
    ffmpeg = shutil.which("ffmpeg")
    check(ffmpeg is not None, "ffmpeg CLI missing")

    def run(args, stdout=None):
        out = subprocess.run(args, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        check(out.returncode == 0, "%s: %s" % (args[:3], out.stderr.decode()[-2000:]))
        return out
    src = "testsrc2=size=320x240:rate=25"
    enc = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    ff = [ffmpeg, "-nostdin", "-loglevel", "error", "-y"]
    plain, recoded, faded = (os.path.join(c.work, n + ".mp4") for n in ("plain", "recoded", "faded"))
    run(ff + ["-f", "lavfi", "-i", src, "-t", "10"] + enc + [plain])
    run(ff + ["-i", plain, "-crf", "30", "-vf", "scale=288:216"] + enc + [recoded])
    run(ff + ["-f", "lavfi", "-i", src, "-t", "10", "-vf", "fade=in:st=0:d=10"] + enc + [faded])
    faded_vpdq = os.path.join(c.work, "faded.txt")
    with open(faded_vpdq, "wb") as f:
        run([ARGS.hashmatch, "hash", "--format", "vpdq", faded], stdout=f)
    run([ARGS.hashmatch, "video", "add", "--db", c.db, "--list", "gen", "--id", "plain", plain])
    run([ARGS.hashmatch, "video", "add", "--db", c.db, "--list", "gen", "--id", "faded", faded_vpdq])
    data = {}
    for path in (plain, recoded, faded):
        with open(path, "rb") as f:
            data[path] = f.read()

    def vpdq_matches(path, query=""):
        r = call(p, "POST", "/v1/match?lists=gen" + query, template="/v1/match", body=data[path],
                 token=c.tokens["matcher"], expect=200)
        return r, {x["id"]: x for x in r.json["matches"] if x["algo"] == "vpdq"}

    def listed():
        r = request(p, "POST", "/v1/match?lists=gen", body=data[faded], token=c.tokens["matcher"])
        return r.status == 200 and any(x["id"] == "faded" for x in r.json["matches"])
    wait_for(listed, 20, "the listed videos to be loaded", interval=0.2)

    # The summary counts the listed videos of the lists searched (here gen's 2, not those of every
    # list), and a video is never matched by dihedral variants (match.dihedral is on).
    r, _ = vpdq_matches(faded)
    check(r.json["vpdq_match"]["listed_videos"] == 2, repr(r.json["vpdq_match"]))
    check(r.json["dihedral"] is False, "a video answered dihedral: %r" % r.json["dihedral"])
    r = call(p, "POST", "/v1/match", body=data[faded], token=c.tokens["matcher"], expect=200)
    listed_everywhere = r.json["vpdq_match"]["listed_videos"]
    check(listed_everywhere >= 2, repr(r.json["vpdq_match"]))
    # The threshold: the re-encode matches at the default 31, not at 0, and at 64 (above the
    # default) with 64 reported.
    _, m = vpdq_matches(recoded)
    check("plain" in m and m["plain"]["threshold"] == 31, repr(m))
    _, m = vpdq_matches(recoded, "&threshold=0")
    check("plain" not in m, "threshold=0 ignored for listed videos: %r" % m)
    _, m = vpdq_matches(recoded, "&threshold=64")
    check("plain" in m and m["plain"]["threshold"] == 64, repr(m))

    # match.min_quality reloaded: the frames (vpdq_match.query_frames) and the listed video (both
    # sides) use the new limit in the same answer.
    r, m = vpdq_matches(faded)
    before = r.json["vpdq_match"]["query_frames"]
    check(m["faded"]["vpdq"]["query_frames"] == before == m["faded"]["vpdq"]["compared_frames"], repr(r.json))
    with open(faded_vpdq) as f:
        qualities = sorted({int(l.split(",")[1]) for l in f if l.strip()})
    above = [q for q in qualities if q > 50]
    check(len(above) >= 2, "the faded clip has too few qualities above 50: %r" % qualities)
    c.config["match"] = {"min_quality": above[len(above) // 2]}
    write_config(c)
    try:
        c.srv.reload()
        r, m = vpdq_matches(faded)
        after = r.json["vpdq_match"]["query_frames"]
        check(0 < after < before, "min_quality %d: %d query frames, %d before" % (c.config["match"]["min_quality"], after, before))
        check("faded" in m and m["faded"]["vpdq"]["query_frames"] == after == m["faded"]["vpdq"]["compared_frames"],
              "two quality limits in one answer: %r" % r.json)
    finally:
        del c.config["match"]
        write_config(c)
        c.srv.reload()

    # A listed video deleted while a request decodes still answers that request (its matches come
    # from the lists as they were when it started), and the next request no longer matches it. The
    # clip is long enough (2 minutes of 1080p to decode) for the DELETE to land during the decode.
    bars = os.path.join(c.work, "bars.mp4")
    run(ff + ["-f", "lavfi", "-i", "smptebars=size=1920x1080:rate=30", "-t", "120", "-c:v", "libx264",
              "-preset", "ultrafast", "-pix_fmt", "yuv420p", bars])
    run([ARGS.hashmatch, "video", "add", "--db", c.db, "--list", "gen", "--id", "bars", bars])
    c.srv.reload()  # SIGHUP re-reads the lists
    with open(bars, "rb") as f:
        data[bars] = f.read()
    answer = {}

    def in_flight():
        answer["r"] = request(p, "POST", "/v1/match?lists=gen", body=data[bars], token=c.tokens["matcher"],
                              timeout=120)
        answer["done"] = time.time()
    t = threading.Thread(target=in_flight)
    t.start()
    time.sleep(0.3)
    r = call(p, "DELETE", "/v1/lists/gen/entries/bars", template="/v1/lists/{name}/entries/{id}",
             token=c.tokens["admin"], expect=200)
    deleted = time.time()
    t.join()
    r = answer["r"]
    check(r.status == 200, repr(r))
    if answer["done"] <= deleted:
        print("     (the request ended before the DELETE: nothing in flight was tested)")
    check(any(x["algo"] == "vpdq" and x["id"] == "bars" for x in r.json["matches"]),
          "a video deleted while the request decoded was not matched: %r" % r.json["matches"])
    r, m = vpdq_matches(bars)
    check("bars" not in m, "a deleted video still matches: %r" % m)

    # DELETE by id: the video file's digests and frames (4 removed), the vPDQ file's frames (1).
    r = call(p, "DELETE", "/v1/lists/gen/entries/plain", template="/v1/lists/{name}/entries/{id}",
             token=c.tokens["admin"], expect=200)
    check(r.json["removed"] == 4, repr(r.json))
    r = call(p, "DELETE", "/v1/lists/gen/entries/faded", template="/v1/lists/{name}/entries/{id}",
             token=c.tokens["admin"], expect=200)
    check(r.json["removed"] == 1, repr(r.json))
    for path in (plain, faded):
        r, m = vpdq_matches(path)
        check(not r.json["matches"], "a deleted video still matches: %r" % r.json["matches"])


def metrics_text(c):
    conn = http.client.HTTPConnection("127.0.0.1", c.srv.metrics_port, timeout=10)
    conn.request("GET", "/metrics")
    r = conn.getresponse()
    body = r.read().decode()
    conn.close()
    check(r.status == 200, "metrics %d" % r.status)
    return body


def metric_value(text, name, labels=None):
    total = None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$", line)
        if not m or m.group(1) != name:
            continue
        if labels and not all('%s="%s"' % kv in (m.group(2) or "") for kv in labels.items()):
            continue
        total = (total or 0) + float(m.group(3))
    return total


def step_metrics_and_prometheus(c):
    text = metrics_text(c)
    frames = metric_value(text, "hashmatch_frames_hashed_total")
    check(frames and frames >= 20, "frames hashed: %s" % frames)
    for name, labels in [("hashmatch_http_requests_total", {"endpoint": "/v1/hash", "code": "200"}),
                         ("hashmatch_http_requests_total", {"endpoint": "/v1/hash", "code": "401"}),
                         ("hashmatch_http_requests_total", {"endpoint": "/v1/hash", "code": "413"}),
                         ("hashmatch_http_request_duration_seconds_count", {"endpoint": "/v1/match"}),
                         ("hashmatch_queue_wait_seconds_count", {}), ("hashmatch_batch_items_count", {}),
                         ("hashmatch_comparisons_total", {}), ("hashmatch_matches_total", {"list": "known"}),
                         ("hashmatch_list_entries", {"list": "known"}), ("hashmatch_decode_errors_total", {}),
                         ("hashmatch_build_info", {}), ("hashmatch_ready", {}),
                         ("hashmatch_audit_events_total", {"action": "add_entries"})]:
        v = metric_value(text, name, labels)
        check(v is not None and v > 0, "metric %s%s missing or zero" % (name, labels))
    check(metric_value(text, "hashmatch_queue_depth", {"queue": "match"}) is not None, "queue depth")
    check(metric_value(text, "hashmatch_list_entries", {"list": "known"}) == 4, "list size")
    # Prometheus scrapes /metrics every second; its HTTP API answers the throughput query.
    q = urllib.parse.quote("sum(hashmatch_frames_hashed_total)")

    def answered():
        try:
            r = request(c.prom_port, "GET", "/api/v1/query?query=" + q, timeout=5)
        except OSError:
            return None
        if r.status != 200 or not r.json or r.json.get("status") != "success":
            return None
        res = r.json["data"]["result"]
        if not res:
            return None
        return float(res[0]["value"][1]) >= frames
    wait_for(answered, 30, "Prometheus to report sum(hashmatch_frames_hashed_total) >= %d" % frames, interval=0.25)
    r = request(c.prom_port, "GET", "/api/v1/query?query=" +
                urllib.parse.quote('sum(rate(hashmatch_http_requests_total{endpoint="/v1/hash"}[1m]))'))
    check(r.status == 200 and r.json["status"] == "success", repr(r))
    # The Grafana dashboard: every series it plots exists (GPU series only with a GPU), and every
    # expression is valid PromQL for this Prometheus.
    dash_path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(ARGS.openapi))),
                             "monitoring", "grafana-dashboard.json")
    with open(dash_path) as f:
        dash = json.load(f)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    check(len(exprs) >= 20, "dashboard has %d expressions" % len(exprs))
    gpu_names = {"hashmatch_gpu_utilization_ratio", "hashmatch_gpu_memory_used_bytes",
                 "hashmatch_gpu_memory_total_bytes", "hashmatch_gpu_temperature_celsius", "hashmatch_gpu_power_watts"}
    exposed = set(re.findall(r"^# TYPE (hashmatch_\w+) ", text, re.M))
    for e in exprs:
        for name in re.findall(r"hashmatch_\w+", e):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            check(base in exposed or name in exposed or base in gpu_names,
                  "dashboard series %s is not exposed by the server" % name)
        q = e.replace("$__rate_interval", "5s").replace("$job", ".*")
        r = request(c.prom_port, "GET", "/api/v1/query?query=" + urllib.parse.quote(q))
        check(r.status == 200 and r.json.get("status") == "success", "dashboard expression rejected: %s: %r" % (e, r))


def step_sighup_reload(c):
    p = c.srv.port
    late = c.tokens["late"]
    call(p, "GET", "/v1/lists", token=late, expect=401)
    write_tokens(c, ["hasher", "matcher", "admin", "late"])
    c.config["limits"]["max_hashes_per_request"] = 5
    write_config(c)
    c.srv.reload()
    call(p, "GET", "/v1/lists", token=late, expect=200)
    r = call(p, "POST", "/v1/match/hashes", body=json.dumps({"hashes": ["%032x" % i for i in range(6)]}),
             token=late, expect=413)
    # A broken configuration is refused and the running one stays.
    with open(c.config_path, "a") as f:
        f.write("batching: [broken\n")
    rejected = c.srv.count("reload: configuration rejected")
    c.srv.signal(signal.SIGHUP)
    wait_for(lambda: c.srv.count("reload: configuration rejected") > rejected, 10, "the rejection")
    call(p, "GET", "/v1/lists", token=late, expect=200)
    c.config["limits"]["max_hashes_per_request"] = 3000
    write_config(c)
    # Reloads while requests are in flight drop none of them.
    data = read("pdq/bridge-mods/blur-a-little.jpg")
    results = []
    lock = threading.Lock()

    def client():
        for _ in range(4):
            r = request(p, "POST", "/v1/match", body=data, token=c.tokens["matcher"])
            with lock:
                results.append(r.status)
    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(2):
        c.srv.reload()
    for t in threads:
        t.join(60)
    check(len(results) == 16 and set(results) == {200}, "statuses during SIGHUP: %s" % results)


def step_overload(c):
    # A queue of one frame whose batch waits 1.5 s: concurrent requests beyond it get 429 at once,
    # with Retry-After; the queued one completes.
    p = c.srv.port
    c.config["batching"].update({"max_queue_frames": 1, "max_batch_frames": 64, "max_queue_delay": "1500ms"})
    c.config["http"]["retry_after"] = 2
    write_config(c)
    c.srv.reload()
    data = read("pdq/bridge-mods/aaa-orig.jpg")
    results = []
    lock = threading.Lock()

    def one():
        r = request(p, "POST", "/v1/hash", body=data, token=c.tokens["hasher"])
        with lock:
            results.append(r)
    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    codes = sorted(r.status for r in results)
    check(codes.count(200) >= 1 and codes.count(429) >= 1 and set(codes) <= {200, 429}, "codes %s" % codes)
    for r in results:
        validate(r, "/v1/hash", "POST")
        if r.status == 429:
            check(r.headers.get("retry-after") == "2", "Retry-After %r" % r.headers.get("retry-after"))
            check(r.json["error"]["code"] == "overloaded", repr(r))
    text = metrics_text(c)
    check(metric_value(text, "hashmatch_queue_rejections_total") >= codes.count(429), "rejections not counted")
    check(metric_value(text, "hashmatch_http_requests_total", {"code": "429"}) >= codes.count(429), "429 not counted")


def step_sigterm_drain(c):
    # Requests in flight when SIGTERM arrives all complete (their batch waits 1.5 s in the queue);
    # new connections are refused at once; the process exits 0 within the grace period.
    p = c.srv.port
    c.config["batching"].update({"max_queue_frames": 64, "max_batch_frames": 64, "max_queue_delay": "1500ms"})
    write_config(c)
    c.srv.reload()
    data = read("pdq/bridge-mods/aaa-orig.jpg")
    exp = expected_pdq()["bridge-mods/aaa-orig.jpg"][1]
    results = []
    lock = threading.Lock()

    def one():
        try:
            r = request(p, "POST", "/v1/hash", body=data, token=c.tokens["hasher"], timeout=30)
        except Exception as e:  # noqa: BLE001
            r = e
        with lock:
            results.append(r)
    n = 8
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    # Wait until they are queued (the PDQ queue depth shows them), then SIGTERM.
    wait_for(lambda: (metric_value(metrics_text(c), "hashmatch_queue_depth", {"queue": "pdq-cpu"}) or 0) +
             (metric_value(metrics_text(c), "hashmatch_queue_depth", {"queue": "pdq-cuda0"}) or 0) >= n,
             15, "the requests to be queued")
    t0 = time.time()
    c.srv.signal(signal.SIGTERM)
    wait_for(lambda: "draining" in c.srv.text(), 10, "the drain to start")
    refused = False
    try:
        request(p, "GET", "/healthz", timeout=2)
    except OSError:
        refused = True
    check(refused, "a new connection was accepted after SIGTERM")
    for t in threads:
        t.join(30)
    rc = c.srv.proc.wait(30)
    elapsed = time.time() - t0
    check(rc == 0, "exit status %s" % rc)
    check(elapsed < 20, "drain took %.1f s (grace 20 s)" % elapsed)
    ok = [r for r in results if isinstance(r, Response) and r.status == 200]
    check(len(ok) == n, "requests lost in the drain: %r" % [r for r in results if r not in ok])
    check(all(r.json["pdq"] == exp for r in ok), "wrong hash after drain")
    check("drained; exiting" in c.srv.text(), "no drain message")


def step_seen_before(c, servers):
    # The seen-before memory (triage.memory): /v1/match answers for media that matched no list carry
    # seen_before (null the first time, then the earlier arrivals), counted once per request even
    # when requests race, near-duplicates (PDQ within the threshold) counted together, kept across a
    # restart, read-only when asked; absent without the memory (the main server) and for media
    # that matched a list.
    d = os.path.join(c.work, "seen")
    os.makedirs(d)
    mem = os.path.join(d, "memory.db")
    db = os.path.join(d, "lists.db")
    out = subprocess.run([ARGS.hashmatch, "list", "create", "--db", db, "--list", "seen"], capture_output=True,
                         timeout=30)
    check(out.returncode == 0, out.stderr.decode())

    def start(name, extra, env=None):
        s = Server(d, ["--db", db, "--listen", "127.0.0.1:0", "--metrics-listen", "off",
                       "--reload-interval", "0"] + extra, env=env, name=name)
        servers.append(s)
        wait_for(lambda: request(s.port, "GET", "/readyz").status == 200, 20, "readiness")
        return s

    def match(s, rel):
        return call(s.port, "POST", "/v1/match", body=read(rel), expect=200)

    s = start("seen1", ["--triage-memory", mem])
    check("seen-before memory" in s.text(), "no memory log line")
    doc = {"entries": [{"id": "square", "md5": c.hashes["bridge-mods/square-256x256.jpg"]["md5"]}]}
    call(s.port, "POST", "/v1/lists/seen/entries", template="/v1/lists/{name}/entries", body=json.dumps(doc),
         headers={"Content-Type": "application/json"}, expect=200)
    pen = "pdq/reg-test-input/pen-and-coaster.png"
    r = match(s, pen)
    check(not r.json["matched"] and "seen_before" in r.json and r.json["seen_before"] is None, repr(r))
    r = match(s, pen)
    sb = r.json["seen_before"]
    check(sb is not None and sb["count"] == 1, repr(r))
    check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", sb["first_seen"]) and sb["last_seen"] >= sb["first_seen"],
          repr(sb))
    pen_cluster = sb["cluster"]
    r = match(s, pen)
    check(r.json["seen_before"]["count"] == 2 and r.json["seen_before"]["cluster"] == pen_cluster, repr(r))
    # Media that matched a list: no seen_before (and not recorded).
    for _ in range(2):
        r = match(s, "pdq/bridge-mods/square-256x256.jpg")
        check(r.json["matched"] and "seen_before" not in r.json, repr(r))
    # Near-duplicates (different bytes, PDQ within 31) are one remembered picture.
    hashes = {}
    for f in sorted(os.listdir(os.path.join(ARGS.testdata, "pdq", "misc-images", "modes"))):
        rel = "pdq/misc-images/modes/" + f
        h = request(s.port, "POST", "/v1/hash", body=read(rel))
        if h.status == 200 and h.json.get("pdq") and h.json["pdq_quality"] >= 50:
            hashes[rel] = h.json
    pair = None
    for a in sorted(hashes):
        for b in sorted(hashes):
            if a < b and hashes[a]["md5"] != hashes[b]["md5"] and 0 < hamming(hashes[a]["pdq"], hashes[b]["pdq"]) <= 31:
                pair = pair or (a, b)
    check(pair is not None, "no near-duplicate pair among the mode images: %r" % {k: v["pdq"] for k, v in hashes.items()})
    r1 = match(s, pair[0])
    check("seen_before" in r1.json and r1.json["seen_before"] is None, repr(r1))
    r2 = match(s, pair[1])
    check(r2.json["seen_before"] is not None and r2.json["seen_before"]["count"] == 1, "%s then %s: %r" % (pair[0], pair[1], r2))
    check(r2.json["seen_before"]["cluster"] != pen_cluster, repr(r2))
    # Racing requests for one new picture: each arrival counted once (counts 0..n-1, each once).
    data = read("pdq/misc-images/c.png")
    counts = []
    lock = threading.Lock()

    def one():
        resp = request(s.port, "POST", "/v1/match", body=data)
        validate(resp, "/v1/match", "POST")
        with lock:
            counts.append(resp.json["seen_before"]["count"] if resp.json["seen_before"] else 0)
    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(sorted(counts) == list(range(8)), "racing arrivals counted %r" % sorted(counts))
    s.stop()
    # In the database: three pictures (pen 3 arrivals, the pair 2, c.png 8); the listed one not recorded.
    import sqlite3
    con = sqlite3.connect(mem)
    rows = con.execute("SELECT count(*), sum(arrivals) FROM seen_clusters").fetchone()
    con.close()
    check(rows == (3, 13), "seen_clusters holds %r" % (rows,))
    # After a restart (memory from the environment this time): the counts go on.
    s = start("seen2", [], env={"HASHMATCH_TRIAGE_MEMORY": mem})
    r = match(s, pen)
    check(r.json["seen_before"]["count"] == 3 and r.json["seen_before"]["cluster"] == pen_cluster, repr(r))
    s.stop()
    # Read-only: looked up, never recorded.
    s = start("seen3", ["--triage-memory", mem, "--triage-memory-read-only=true"])
    for _ in range(2):
        r = match(s, pen)
        check(r.json["seen_before"]["count"] == 4, repr(r))
    r = match(s, "pdq/misc-images/small.jpg")
    check(r.json["seen_before"] is None, repr(r))
    r = match(s, "pdq/misc-images/small.jpg")
    check(r.json["seen_before"] is None, "read-only memory recorded an arrival: %r" % r)
    s.stop()


def step_video_small_queue(c, servers):
    # A video's frames go through the PDQ queue in chunks bounded by frames and by bytes: with a
    # queue of 8 MiB, the 5 frames of a 1080 x 1080 clip (3.5 MB each, 17.5 MB together) are
    # hashed, as by a server with the default limits (a chunk of all 5 was refused as too large).
    name = "test-padded-dimensions"
    path = os.path.join(ARGS.testdata, "vpdq", "videos", name + ".mp4")
    if not os.path.exists(path):
        print("     (no test video: skipped)")
        return
    data = read("vpdq/videos/%s.mp4" % name)
    # The reference: the command line's frames (the main server is gone by now).
    out = subprocess.run([ARGS.hashmatch, "hash", path], capture_output=True, text=True, timeout=120)
    ref = json.loads(out.stdout.splitlines()[0]) if out.stdout else {}
    if ref.get("error_reason") == "unsupported":
        print("     (video not supported by this build: skipped)")
        return
    check("vpdq" in ref and "error" not in ref, out.stdout[:300] + out.stderr[:300])
    d = os.path.join(c.work, "smallq")
    os.makedirs(d)
    db = os.path.join(d, "lists.db")
    out = subprocess.run([ARGS.hashmatch, "list", "create", "--db", db, "--list", "l"], capture_output=True,
                         timeout=30)
    check(out.returncode == 0, out.stderr.decode())
    s = Server(d, ["--db", db, "--listen", "127.0.0.1:0", "--metrics-listen", "off", "--reload-interval", "0",
                   "--max-queue-bytes", str(8 * 1024 * 1024)], name="smallq")
    servers.append(s)
    wait_for(lambda: request(s.port, "GET", "/readyz").status == 200, 20, "readiness")
    r = call(s.port, "POST", "/v1/hash", body=data, expect=200)
    check(len(r.json["vpdq"]) == 5 and r.json["vpdq"] == ref["vpdq"], repr(r.json.get("vpdq")))


def step_tls_loopback_and_readiness(c, servers):
    # TLS with a self-signed certificate; no token file and a wildcard address: loopback only, said
    # so; a list that does not exist yet keeps readiness false until it appears (SIGHUP).
    openssl = shutil.which("openssl")
    check(openssl is not None, "openssl CLI missing")
    d = os.path.join(c.work, "tls")
    os.makedirs(d)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    out = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                          "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                         capture_output=True, timeout=60)
    check(out.returncode == 0, out.stderr.decode())
    db = os.path.join(d, "tls.db")
    out = subprocess.run([ARGS.hashmatch, "list", "create", "--db", db, "--list", "present"], capture_output=True,
                         timeout=30)
    check(out.returncode == 0, out.stderr.decode())
    port = free_port()
    s = Server(d, ["--db", db, "--listen", "0.0.0.0:%d" % port, "--metrics-listen", "off", "--tls-cert", cert,
                   "--tls-key", key, "--lists", "present,later", "--reload-interval", "0"], name="tls")
    servers.append(s)
    check(s.scheme == "https" and s.host == "127.0.0.1" and s.port == port, "listening on %s://%s:%s" % (s.scheme, s.host, s.port))
    check("serving on loopback only" in s.text(), "no loopback-only notice")
    ctx = ssl.create_default_context(cafile=cert)
    r = request(s.port, "GET", "/healthz", tls_ctx=ctx)
    validate(r, "/healthz", "GET")
    check(r.status == 200, repr(r))
    wait_for(lambda: "not ready" in s.text(), 15, "the failed list load")
    r = request(s.port, "GET", "/readyz", tls_ctx=ctx)
    validate(r, "/readyz", "GET")
    check(r.status == 503 and not r.json["ready"] and "later" in r.json.get("reason", ""), repr(r))
    r = request(s.port, "POST", "/v1/match/hashes", body=json.dumps({"hashes": ["%032x" % 1]}), tls_ctx=ctx)
    validate(r, "/v1/match/hashes", "POST")
    check(r.status == 503 and r.json["error"]["code"] == "not_ready", repr(r))
    out = subprocess.run([ARGS.hashmatch, "list", "create", "--db", db, "--list", "later"], capture_output=True,
                         timeout=30)
    check(out.returncode == 0, out.stderr.decode())
    s.reload()
    r = request(s.port, "GET", "/readyz", tls_ctx=ctx)
    check(r.status == 200 and r.json["ready"], repr(r))
    # Plain HTTP to the TLS port gets nowhere.
    failed = False
    try:
        r = request(s.port, "GET", "/healthz", timeout=3)
        failed = r.status != 200
    except (OSError, http.client.HTTPException):
        failed = True
    check(failed, "plain HTTP accepted on the TLS port")
    s.stop()
    check(s.proc.returncode == 0, "TLS server exit status %s" % s.proc.returncode)


if __name__ == "__main__":
    sys.exit(main())
