#!/usr/bin/env python3
"""A stand-in OpenTelemetry Collector for the tests, and a validator of OTLP/JSON logs.

    otlp_receiver.py serve DIR [ok | busy N | blackhole]
        Listens on 127.0.0.1 (a free port, printed as the first line of stdout) for OTLP/HTTP.
        ok: each POST is parsed as an ExportLogsServiceRequest with the OpenTelemetry proto
        definitions (opentelemetry-proto, strict: unknown fields are errors, as the Collector's
        decoder for the same mapping), saved as DIR/request-N.json with DIR/request-N.txt holding
        "METHOD PATH CONTENT-TYPE valid|invalid: reason", and answered 200 {}.
        busy N: the first N requests are answered 503 (recorded as "... refused"), then as ok.
        blackhole: accepts connections and never answers.
    otlp_receiver.py validate FILE
        Each line of FILE must parse as an ExportLogsServiceRequest; prints "valid N".
"""
import http.server
import os
import socket
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2


def check(text):
    """None when `text` is a valid ExportLogsServiceRequest in OTLP/JSON, else the reason."""
    try:
        message = json_format.Parse(text, logs_service_pb2.ExportLogsServiceRequest(), ignore_unknown_fields=False)
    except Exception as error:  # json_format.ParseError and JSON errors alike
        return str(error)
    if not message.resource_logs or not message.resource_logs[0].scope_logs:
        return "no resource logs"
    return None


def serve(directory, mode, busy):
    if mode == "blackhole":
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        print(listener.getsockname()[1], flush=True)
        held = []
        while True:
            connection, _ = listener.accept()
            held.append(connection)  # never read, never answered

    counter = {"n": 0, "refused": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            counter["n"] += 1
            n = counter["n"]
            kind = self.headers.get("Content-Type", "")
            if counter["refused"] < busy:
                counter["refused"] += 1
                verdict = "refused"
                status = 503
            else:
                problem = check(body.decode("utf-8", "replace"))
                verdict = "valid" if problem is None else "invalid: " + problem
                status = 200
            with open(os.path.join(directory, "request-%d.json" % n), "wb") as out:
                out.write(body)
            with open(os.path.join(directory, "request-%d.txt" % n), "w") as out:
                out.write("%s %s %s %s\n" % (self.command, self.path, kind, verdict))
            answer = b"{}"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def validate(path):
    count = 0
    with open(path) as lines:
        for number, line in enumerate(lines, 1):
            problem = check(line)
            if problem is not None:
                print("line %d invalid: %s" % (number, problem))
                return 1
            count += 1
    print("valid %d" % count)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "validate":
        sys.exit(validate(sys.argv[2]))
    mode = sys.argv[3] if len(sys.argv) > 3 else "ok"
    busy = int(sys.argv[4]) if mode == "busy" else 0
    serve(sys.argv[2], "ok" if mode == "busy" else mode, busy)
