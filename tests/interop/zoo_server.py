"""A local HTTP server on 127.0.0.1 for the pretrained-zoo tests: serves byte strings by path, honours
`Range: bytes=N-` (206), can cut the next response after a number of bytes, and logs every request."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ZooServer:
    files: dict[str, bytes] = field(default_factory=dict)
    cut_next: int | None = None  # send only this many bytes of the next response, then drop the connection
    log: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        zoo = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # seconds per socket operation: a stuck client cannot hang the test

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                data = zoo.files.get(self.path)
                rng = self.headers.get("Range")
                entry = {"path": self.path, "range": rng, "sent": 0}
                zoo.log.append(entry)
                if data is None:
                    self.send_error(404)
                    return
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.end_headers()
                    return
                body = data[start:]
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if zoo.cut_next is not None:
                    body, zoo.cut_next = body[:zoo.cut_next], None
                    self.close_connection = True
                self.wfile.write(body)
                entry["sent"] = len(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
