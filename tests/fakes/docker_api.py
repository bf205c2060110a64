"""A fake Docker Engine API (the calls the docker SDK makes) on loopback: ping, version, info, images."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse


@dataclass
class FakeDocker:
    log_path: Path
    images: set[str] = field(default_factory=set)
    mem_total: int = 8 * 1024**3
    ncpu: int = 4
    server_version: str = "20.10.12"
    cgroup_version: str = "1"
    kernel: str = "5.10.0-21-amd64"
    images_file: Path | None = None  # where the fake kind reads which images `kind load` can find

    def sync(self) -> None:
        if self.images_file:
            self.images_file.write_text(json.dumps(sorted(self.images)))


def make_handler(fake: FakeDocker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def reply(self, code: int, body: Any) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def handle_any(self, method: str) -> None:
            url = urlparse(self.path)
            path = url.path
            if path.startswith("/v1."):
                path = "/" + path.split("/", 2)[2]
            query = parse_qs(url.query)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            with open(fake.log_path, "a") as fh:
                fh.write(
                    json.dumps(
                        {
                            "t": time.time(),
                            "src": "docker",
                            "method": method,
                            "path": unquote(path),
                            "query": {k: v[0] for k, v in sorted(query.items())},
                        }
                    )
                    + "\n"
                )
            if path == "/_ping":
                return self.reply(200, b"OK")
            if path == "/version":
                return self.reply(
                    200,
                    {
                        "Version": "20.10.12",
                        "ApiVersion": "1.41",
                        "MinAPIVersion": "1.12",
                        "Os": "linux",
                        "Arch": "amd64",
                    },
                )
            if path == "/info":
                return self.reply(
                    200,
                    {
                        "MemTotal": fake.mem_total,
                        "NCPU": fake.ncpu,
                        "ServerVersion": fake.server_version,
                        "CgroupVersion": fake.cgroup_version,
                        "KernelVersion": fake.kernel,
                    },
                )
            if path == "/images/create" and method == "POST":
                image = query["fromImage"][0] + (f":{query['tag'][0]}" if query.get("tag") else "")
                if "@sha256:" in image and ":" in image.split("@")[0].rsplit("/", 1)[-1]:
                    image = image  # digest pulls keep their reference
                fake.images.add(image.replace(":sha256:", "@sha256:"))
                fake.sync()
                return self.reply(200, b'{"status":"Pulling"}\r\n{"status":"Downloaded newer image"}\r\n')
            if path.startswith("/images/") and path.endswith("/json"):
                name = unquote(path[len("/images/") : -len("/json")])
                if name in fake.images:
                    return self.reply(200, {"Id": "sha256:" + "0" * 64, "RepoTags": [name]})
                return self.reply(404, {"message": f"No such image: {name}"})
            return self.reply(404, {"message": f"page not found: {path}"})

        def do_GET(self) -> None:
            self.handle_any("GET")

        def do_POST(self) -> None:
            self.handle_any("POST")

        def do_HEAD(self) -> None:
            self.handle_any("HEAD")

    return Handler


def serve(fake: FakeDocker) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"tcp://127.0.0.1:{server.server_address[1]}"
