#!/usr/bin/env python3
"""Schema evolution check (schemas/README.md): records written by the current
schema are read with the previous released one, and records written by the
previous one with the current, by an independent Avro implementation with
schema resolution (python3-avro).

usage: schema_evolution.py CURRENT.avsc PREVIOUS.avsc RECORD.avro...
Each RECORD file holds one bare Avro record written by dagprof with the current
schema. Prints one line per record and per direction; exits 1 on the first
failure, with the reason."""
import io
import json
import sys

import avro.io
import avro.schema


def read(data, writer, reader):
    return avro.io.DatumReader(writer, reader).read(avro.io.BinaryDecoder(io.BytesIO(data)))


def write(datum, schema):
    out = io.BytesIO()
    avro.io.DatumWriter(schema).write(datum, avro.io.BinaryEncoder(out))
    return out.getvalue()


def same(newer, older):
    """older's values are in newer: nested records may have gained fields."""
    if isinstance(older, dict):
        return isinstance(newer, dict) and all(k in newer and same(newer[k], v) for k, v in older.items())
    if isinstance(older, list):
        return isinstance(newer, list) and len(newer) == len(older) and all(map(same, newer, older))
    return newer == older


def nested_record(t):
    """a record type, or an array, map or union holding one: checked by resolution"""
    if isinstance(t, dict):
        return t.get("type") == "record" or nested_record(t.get("items")) or nested_record(t.get("values"))
    if isinstance(t, list):
        return any(nested_record(x) for x in t)
    return False


def field_types(schema_json):
    return {f["name"]: f for f in schema_json["fields"]}


def main():
    current_text, previous_text = open(sys.argv[1]).read(), open(sys.argv[2]).read()
    current, previous = avro.schema.parse(current_text), avro.schema.parse(previous_text)
    cur_json, prev_json = json.loads(current_text), json.loads(previous_text)
    # the rule: nothing renamed, removed or retyped; every new field has a default
    cur_fields, prev_fields = field_types(cur_json), field_types(prev_json)
    for name, field in prev_fields.items():
        if name not in cur_fields:
            sys.exit("field %s of the previous schema is gone (renamed or removed)" % name)
        if not nested_record(field["type"]) and \
                json.dumps(cur_fields[name]["type"], sort_keys=True) != json.dumps(field["type"], sort_keys=True):
            sys.exit("field %s changed its type" % name)
    for name, field in cur_fields.items():
        if name not in prev_fields and "default" not in field:
            sys.exit("new field %s has no default" % name)
    for path in sys.argv[3:]:
        data = open(path, "rb").read()
        as_current = read(data, current, current)
        # new data, old reader
        as_previous = read(data, current, previous)
        for name in prev_fields:
            if not same(as_current[name], as_previous[name]):
                sys.exit("%s: field %s reads differently with the previous schema" % (path, name))
        print("%s: current -> previous: %d fields equal" % (cur_json["name"], len(prev_fields)))
        # old data, new reader
        old_bytes = write(as_previous, previous)
        back = read(old_bytes, previous, current)
        for name in prev_fields:
            if not same(as_current[name], back[name]):
                sys.exit("%s: field %s of a previous-schema record reads differently" % (path, name))
        for name in cur_fields:
            if name not in prev_fields and back[name] != cur_fields[name]["default"]:
                sys.exit("%s: new field %s does not take its default" % (path, name))
        print("%s: previous -> current: %d fields equal, %d defaulted"
              % (cur_json["name"], len(prev_fields), len(cur_fields) - len(prev_fields)))


if __name__ == "__main__":
    main()
