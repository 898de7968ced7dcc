# check.py DIALERD CASES DIR LIB: run dialerd check --json on every generated document and
# compare the effective tree with the case's expectations; prints ok/not ok lines, exits 1 on a miss
import json
import os
import subprocess
import sys

dialerd, cases_path, docdir, lib = sys.argv[1:5]
bad = 0


def report(good, msg):
    global bad
    print(("ok - " if good else "not ok - ") + msg)
    if not good:
        bad += 1


def norm(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


for case in json.load(open(cases_path)):
    name = "%s/%s" % (lib, case["name"])
    path = os.path.join(docdir, case["name"] + ".xml")
    p = subprocess.run([dialerd, "check", "--json", path], capture_output=True, text=True)
    if p.returncode != 0:
        report(False, "%s: exit %d: %s %s" % (name, p.returncode, p.stdout[-600:], p.stderr[-300:]))
        continue
    j = json.loads(p.stdout)
    exp = case["expect"]
    warn = sorted(d["code"] for d in j["diagnostics"] if d["severity"] == "warning")
    report(j["valid"] and warn == sorted(exp["warnings"]),
           "%s: valid, warnings %s (got %s)" % (name, sorted(exp["warnings"]), warn))
    dials = [v for v in j["verbs"] if v["verb"] == "Dial"]
    if not dials:
        report(False, "%s: no Dial in the tree" % name)
        continue
    dial = dials[0]
    diffs = ["%s=%r (want %r)" % (k, norm(dial["attributes"].get(k)), w)
             for k, w in exp["dial"].items() if norm(dial["attributes"].get(k)) != w]
    report(not diffs, "%s: Dial attributes (%d checked) %s" % (name, len(exp["dial"]), " ".join(diffs)))
    if "dial_refused" in exp:
        # <Dial sipHeaders> refusals are listed once, on the Dial
        r = [[x["name"], x["code"]] for x in dial.get("refused", [])]
        report(r == exp["dial_refused"],
               "%s: Dial refused %s (want %s)" % (name, r, exp["dial_refused"]))
    if len(dial["nouns"]) != len(exp["nouns"]):
        report(False, "%s: %d nouns, want %d" % (name, len(dial["nouns"]), len(exp["nouns"])))
        continue
    for i, (got, want) in enumerate(zip(dial["nouns"], exp["nouns"])):
        diffs = []
        if got["noun"] != want["noun"]:
            diffs.append("noun %s" % got["noun"])
        for k in ("target", "transport", "number", "srtp"):
            if k in want and got.get(k) != want[k]:
                diffs.append("%s=%r (want %r)" % (k, got.get(k), want[k]))
        for k, w in want.get("attrs", {}).items():
            if norm(got["attributes"].get(k)) != w:
                diffs.append("%s=%r (want %r)" % (k, norm(got["attributes"].get(k)), w))
        if "headers" in want:
            h = [[x["name"], x["value"]] for x in got["headers"]]
            if h != want["headers"]:
                diffs.append("headers %s (want %s)" % (h, want["headers"]))
        if "refused" in want:
            r = [[x["name"], x["code"]] for x in got["refused"]]
            if r != want["refused"]:
                diffs.append("refused %s (want %s)" % (r, want["refused"]))
        report(not diffs, "%s: noun %d (%s) %s" % (name, i + 1, want["noun"], " ".join(diffs)))
sys.exit(1 if bad else 0)
