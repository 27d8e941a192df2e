#!/usr/bin/env python3
"""A registry for pull.bats that serves one image (from an OCI layout directory) as repository test/img, tag
latest, on 127.0.0.1, behind a Bearer token flow, and misbehaves as MODE asks:

  ok              serves it right
  wrong-digest    a layer's bytes are changed (same length)
  truncated       a layer's body stops halfway (Content-Length says the whole)
  long-blob       a layer's body goes on past its size
  huge-manifest   the manifest is 5 MiB
  not-manifest    the manifest is JSON, but not a manifest
  schema1         a schema 1 manifest
  no-platform     the tag is an index with a linux/arm64 image only
  stall           the manifest's headers come, then nothing
  redirect-loop   blob requests redirect to themselves forever
  redirect-host   blob requests redirect to the same server under the name "localhost" (another host: no
                  credentials may follow)
  deny            the token service gives a token that the registry then refuses (401 after the token flow)
  basic           Basic authentication with user "u" password "p" instead of tokens
  flaky           the first request for the manifest answers 429, the first for each layer 503; and for a push,
                  the first upload POST and PUT and the first manifest PUT
  reset-once      the first request for each layer sends half of it and closes the connection; Range requests
                  get the rest (206)
  blob-503        layer requests always answer 503
  identity        the token service wants user "u" password "p" (no anonymous tokens); asked with offline_token=true
                  it adds refresh_token "refresh-1", which POST /token (grant_type=refresh_token, OAuth2) trades
                  for the access token; the form is logged
  no-monolithic   a push's blob PUT with a body answers 413 (as a proxy bounding request bodies): only chunks
                  (PATCH with Content-Range, then a PUT without a body) get a blob in

Pushes go to any other repository (blobs kept in memory, HEAD finds them).

Requests in a proxy's absolute form (GET http://HOST/PATH) are served as GET /PATH (the log names HOST): the
server is its own HTTP proxy, for the proxy tests; CONNECT is refused.

Usage: fake_registry.py LAYOUT MODE PORTFILE LOGFILE.  Writes the port it listens on to PORTFILE; logs one line per
request (host, method, path, authorization) to LOGFILE."""
import base64
import hashlib
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAYOUT, MODE, PORTFILE, LOGFILE = sys.argv[1:5]
REPO = "test/img"
TOKEN = "good-token"
LOG_LOCK = threading.Lock()
SEEN = {}  # path -> requests so far (flaky, reset-once)
PUSHED = {}  # "repo/digest" -> bytes
UPLOADS = {}  # upload path -> the chunks so far (bytearray)


def seen(path):
    with LOG_LOCK:
        SEEN[path] = SEEN.get(path, 0) + 1
        return SEEN[path]


def blob(hexd):
    with open(os.path.join(LAYOUT, "blobs", "sha256", hexd), "rb") as f:
        return f.read()


def sha(b):
    return hashlib.sha256(b).hexdigest()


INDEX = json.load(open(os.path.join(LAYOUT, "index.json")))
MANIFEST_DIGEST = INDEX["manifests"][0]["digest"]
MANIFEST = blob(MANIFEST_DIGEST[7:])
MANIFEST_TYPE = json.loads(MANIFEST).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
LAYERS = [l["digest"] for l in json.loads(MANIFEST)["layers"]]


def tag_document():
    """What GET /v2/test/img/manifests/latest answers: (content type, body)."""
    if MODE == "huge-manifest":
        m = json.loads(MANIFEST)
        m["annotations"] = {"pad": "x" * (5 * 1024 * 1024)}
        return MANIFEST_TYPE, json.dumps(m).encode()
    if MODE == "not-manifest":
        return "application/vnd.oci.image.manifest.v1+json", b'{"hello": "world"}'
    if MODE == "schema1":
        return ("application/vnd.docker.distribution.manifest.v1+prettyjws",
                json.dumps({"schemaVersion": 1, "name": REPO, "tag": "latest", "fsLayers": []}).encode())
    if MODE == "no-platform":
        idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
               "manifests": [{"mediaType": MANIFEST_TYPE, "digest": MANIFEST_DIGEST, "size": len(MANIFEST),
                              "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}]}
        return "application/vnd.oci.image.index.v1+json", json.dumps(idx).encode()
    return MANIFEST_TYPE, MANIFEST


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def log_request_line(self):
        with LOG_LOCK, open(LOGFILE, "a") as f:
            f.write("%s %s %s auth=%s%s\n" % (self.headers.get("Host", ""), self.command, self.path,
                                             self.headers.get("Authorization", "-"),
                                             (" range=" + self.headers["Range"] if "Range" in self.headers else "")
                                             + (" content-range=" + self.headers["Content-Range"]
                                                if "Content-Range" in self.headers else "")))

    def send(self, code, body=b"", ctype="application/json", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def port(self):
        return self.server.server_address[1]

    def challenge(self):
        if MODE == "basic":
            return 'Basic realm="fake"'
        return 'Bearer realm="http://127.0.0.1:%d/token",service="fake-registry"' % self.port()

    def authorized(self):
        got = self.headers.get("Authorization", "")
        if MODE == "basic":
            return got == "Basic " + base64.b64encode(b"u:p").decode()
        return got == "Bearer " + TOKEN

    def unauthorized(self):
        body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}).encode()
        self.send(401, body, headers=[("WWW-Authenticate", self.challenge())])

    def do_HEAD(self):
        path = self.path.split("?")[0]
        if "/blobs/" in path and not path.startswith("/v2/%s/" % REPO) and self.authorized():
            self.log_request_line()
            repo, digest = path[len("/v2/"):].split("/blobs/")
            return self.send(200 if repo + "/" + digest in PUSHED else 404)
        self.do_GET()

    def flaky_once(self, key):
        if MODE == "flaky" and seen(self.command + " " + key) == 1:
            self.send(503, json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "try later"}]}).encode())
            return True
        return False

    def do_POST(self):
        if self.path.split("?")[0] == "/token":
            return self.refresh_grant()
        self.log_request_line()
        if not self.authorized():
            return self.unauthorized()
        path = self.path.split("?")[0]
        if not path.endswith("/blobs/uploads/"):
            return self.send(404)
        if self.flaky_once(path):
            return
        repo = path[len("/v2/"):-len("/blobs/uploads/")]
        return self.send(202, headers=[("Location", "/v2/%s/blobs/uploads/u%d" % (repo, seen("uploads")))])

    def do_PUT(self):
        self.log_request_line()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self.authorized():
            return self.unauthorized()
        path, _, query = self.path.partition("?")
        if self.flaky_once(path.rsplit("/", 1)[0]):
            return
        if "/blobs/uploads/" in path:
            if MODE == "no-monolithic" and body:
                return self.send(413, b"<html>413 Request Entity Too Large</html>", ctype="text/html")
            with LOG_LOCK:
                body = bytes(UPLOADS.pop(path, b"")) + body
            digest = query.split("digest=")[1].split("&")[0].replace("%3A", ":")
            if "sha256:" + sha(body) != digest:
                return self.send(400, json.dumps({"errors": [{"code": "DIGEST_INVALID", "message": "digest"}]}).encode())
            PUSHED[path[len("/v2/"):].split("/blobs/")[0] + "/" + digest] = body
            return self.send(201)
        if "/manifests/" in path:
            return self.send(201, headers=[("Docker-Content-Digest", "sha256:" + sha(body))])
        return self.send(404)

    def refresh_grant(self):
        form = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        self.log_request_line()
        with LOG_LOCK, open(LOGFILE, "a") as f:
            f.write("form %s content-type=%s\n" % (form, self.headers.get("Content-Type", "")))
        fields = urllib.parse.parse_qs(form)
        if MODE != "identity" or fields.get("grant_type") != ["refresh_token"] or fields.get("refresh_token") != ["refresh-1"]:
            return self.send(400, json.dumps({"error": "invalid_grant"}).encode())
        return self.send(200, json.dumps({"access_token": TOKEN, "expires_in": 300,
                                          "scope": fields.get("scope", [""])[0]}).encode())

    def do_PATCH(self):
        self.log_request_line()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self.authorized():
            return self.unauthorized()
        path = self.path.split("?")[0]
        if "/blobs/uploads/" not in path:
            return self.send(404)
        start, _, end = self.headers.get("Content-Range", "").partition("-")
        with LOG_LOCK:
            buf = UPLOADS.setdefault(path, bytearray())
            if not start.isdigit() or not end.isdigit() or int(start) != len(buf) or int(end) - int(start) + 1 != len(body):
                return self.send(416, json.dumps({"errors": [{"code": "BLOB_UPLOAD_INVALID", "message": "range"}]}).encode())
            buf += body
            size = len(buf)
        return self.send(202, headers=[("Location", path), ("Range", "0-%d" % (size - 1))])

    def do_CONNECT(self):
        self.log_request_line()
        self.send(405)

    def do_GET(self):
        self.log_request_line()
        if self.path.startswith("http://"):
            self.path = "/" + self.path[len("http://"):].split("/", 1)[1]
        path = self.path.split("?")[0]
        if path == "/token":
            token = "refused-token" if MODE == "deny" else TOKEN
            if MODE != "identity":
                return self.send(200, json.dumps({"token": token}).encode())
            if self.headers.get("Authorization", "") != "Basic " + base64.b64encode(b"u:p").decode():
                return self.send(401, json.dumps({"details": "incorrect username or password"}).encode())
            query = urllib.parse.parse_qs(self.path.partition("?")[2])
            answer = {"token": token}
            if query.get("offline_token") == ["true"] and query.get("client_id"):
                answer["refresh_token"] = "refresh-1"
            return self.send(200, json.dumps(answer).encode())
        if path.startswith("/other/"):  # where redirect-host leads: must come without credentials
            return self.send_blob(path[len("/other/"):])
        if not self.authorized():
            return self.unauthorized()
        if path == "/v2/":
            return self.send(200, b"{}")
        prefix = "/v2/%s/" % REPO
        if not path.startswith(prefix):
            return self.send(404, json.dumps({"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]}).encode())
        rest = path[len(prefix):]
        if rest.startswith("manifests/"):
            ref = rest[len("manifests/"):]
            if MODE == "stall":
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.flush()
                time.sleep(3600)
                return
            if MODE == "flaky" and self.command == "GET" and seen(path) == 1:
                return self.send(429, json.dumps({"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down"}]}).encode())
            if ref == "latest":
                ctype, body = tag_document()
                return self.send(200, body, ctype)
            if ref == MANIFEST_DIGEST:
                return self.send(200, MANIFEST, MANIFEST_TYPE)
            return self.send(404, json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}).encode())
        if rest.startswith("blobs/"):
            digest = rest[len("blobs/"):]
            if MODE == "redirect-loop" and digest in LAYERS:
                n = int(self.path.split("n=")[1]) if "n=" in self.path else 0
                return self.send(302, headers=[("Location", "%s?n=%d" % (path, n + 1))])
            if MODE == "redirect-host" and digest in LAYERS:
                return self.send(307, headers=[("Location", "http://localhost:%d/other/%s" % (self.port(), digest))])
            return self.send_blob(digest)
        return self.send(404)

    def send_blob(self, digest):
        try:
            data = blob(digest[7:])
        except OSError:
            return self.send(404, json.dumps({"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown"}]}).encode())
        is_layer = digest in LAYERS
        if is_layer and self.command == "GET" and (MODE == "blob-503" or (MODE == "flaky" and seen(self.path) == 1)):
            return self.send(503, json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "try later"}]}).encode())
        if MODE == "reset-once" and is_layer and self.command == "GET":
            if seen(self.path) == 1:
                return self.send_cut(data)
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes=") and rng.endswith("-"):
                start = int(rng[len("bytes="):-1])
                return self.send(206, data[start:], "application/octet-stream",
                                 headers=[("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))])
        if MODE == "wrong-digest" and is_layer:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        if MODE == "long-blob" and is_layer:
            data = data + b"\0" * 4096
        if MODE == "truncated" and is_layer:
            return self.send_cut(data)
        self.send(200, data, "application/octet-stream")

    def send_cut(self, data):
        """The headers of the whole blob, half of its bytes, and the connection closed."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(PORTFILE + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(PORTFILE + ".tmp", PORTFILE)
    server.serve_forever()


if __name__ == "__main__":
    main()
