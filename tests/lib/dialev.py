#!/usr/bin/env python3
# dialev.py: queries dialtool's JSON event lines: count, first or all matches of a condition
import json
import sys


def hdr(e, name):
    for n, v in e.get("headers", []):
        if n.lower() == name.lower():
            return v
    return None


def hdrs(e, name):
    return [v for n, v in e.get("headers", []) if n.lower() == name.lower()]


def main():
    if len(sys.argv) < 4:
        print("usage: dialev.py FILE count|first|all COND [EXPR]",
              file=sys.stderr)
        return 2
    path, mode, cond = sys.argv[1:4]
    expr = sys.argv[4] if len(sys.argv) > 4 else "e"
    events = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                events.append(json.loads(line))
    hits = [e for e in events if eval(cond, {"hdr": hdr, "hdrs": hdrs},
                                      {"e": e})]
    if mode == "count":
        print(len(hits))
    elif mode == "first":
        if hits:
            print(eval(expr, {"hdr": hdr, "hdrs": hdrs}, {"e": hits[0]}))
    else:
        for e in hits:
            print(eval(expr, {"hdr": hdr, "hdrs": hdrs}, {"e": e}))
    return 0


sys.exit(main())
