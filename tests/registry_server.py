#!/usr/bin/env python3
"""A small Schema Registry for the tests: the part of Confluent's REST API
dagprof uses, with the registry's status codes and error bodies.

usage: registry_server.py PORT [--first-id N] [--incompatible SUBJECT]...
                               [--reject-register SUBJECT]...
  POST /subjects/<s>/versions                       -> {"id": N} (same schema: same id)
  POST /compatibility/subjects/<s>/versions/latest  -> {"is_compatible": bool}, 404 40401
                                                       when the subject has no version
  GET  /subjects                                    -> the subjects
  GET  /schemas/ids/<id>                            -> {"schema": "..."}
--incompatible: the subject has a version and every new schema is incompatible.
--reject-register: registration answers 422 42201 "Invalid schema".
Every request is logged on stdout as `METHOD PATH -> STATUS`."""
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = sys.argv[1:]
port = int(args.pop(0))
next_id = [1]
incompatible, reject = set(), set()
while args:
    flag, value = args.pop(0), args.pop(0)
    if flag == "--first-id":
        next_id[0] = int(value)
    elif flag == "--incompatible":
        incompatible.add(value)
    elif flag == "--reject-register":
        reject.add(value)
subjects = {s: ['"string"'] for s in incompatible}  # subject -> schemas, in version order
ids = {}  # schema text -> id


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        # logged before answering, so a client that has its answer finds the line
        print("%s %s -> %d %s" % (self.command, self.path, status, json.dumps(body)), flush=True)
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path == "/subjects":
            return self.answer(200, sorted(subjects))
        if self.path.startswith("/schemas/ids/"):
            wanted = int(self.path.rsplit("/", 1)[1])
            for schema, schema_id in ids.items():
                if schema_id == wanted:
                    return self.answer(200, {"schema": schema})
            return self.answer(404, {"error_code": 40403, "message": "Schema %d not found" % wanted})
        self.answer(404, {"error_code": 404, "message": "HTTP 404 Not Found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        try:
            schema = json.loads(self.rfile.read(length))["schema"]
            json.loads(schema)
        except (ValueError, KeyError, TypeError):
            return self.answer(422, {"error_code": 42201, "message": "Invalid schema"})
        parts = [urllib.parse.unquote(p) for p in self.path.strip("/").split("/")]
        if len(parts) == 5 and parts[0] == "compatibility" and parts[1] == "subjects" \
                and parts[3] == "versions" and parts[4] == "latest":
            subject = parts[2]
            if subject not in subjects:
                return self.answer(404, {"error_code": 40401, "message": "Subject '%s' not found." % subject})
            return self.answer(200, {"is_compatible": subject not in incompatible})
        if len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
            subject = parts[1]
            if subject in reject:
                return self.answer(422, {"error_code": 42201, "message": "Invalid schema"})
            if subject in incompatible:
                return self.answer(409, {"error_code": 409, "message": "Schema being registered is incompatible with an earlier schema"})
            if schema not in ids:
                ids[schema] = next_id[0]
                next_id[0] += 1
            subjects.setdefault(subject, [])
            if schema not in subjects[subject]:
                subjects[subject].append(schema)
            return self.answer(200, {"id": ids[schema]})
        self.answer(404, {"error_code": 404, "message": "HTTP 404 Not Found"})


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("listening %d" % port, flush=True)
server.serve_forever()
