#!/usr/bin/env python3
"""report.py: the arithmetic of bench/run and bench/drills, one subcommand each.

  step --name N --work DIR --rate R --seconds S
        a load step's SIPp side and CPU, key=value lines (shell-sourceable):
        offered, ok (the UAC log's "ok" lines), shed (503s), uac_failed,
        uas_failed, retrans, issue_s (time to offer every call), rate_kept, and
        cpu='{JSON}': CPU ms per completed call of each process tree between the
        step's two bf_cpu_snap files; dialerd's threads as dialerd.main,
        dialerd.sip (the busiest other thread) and dialerd.other; with a
        NAME.sys file (perf stat --per-thread -x, of raw_syscalls:sys_enter),
        sysc='{JSON}': system calls per completed call of the same threads
  drills --records FILE --out JSON
        bench/drills' results file and table
  final --records FILE --out JSON [--quick]
        the results JSON (bench/results/<date>.json) and the markdown table
"""
import csv
import json
import os
import statistics
import sys

HZ = os.sysconf("SC_CLK_TCK")


def read_snap(path):
    snap, threads = {}, {}
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "thread" and len(f) == 3:
            threads[f[1]] = int(f[2] or 0)
        elif len(f) == 2:
            snap[f[0]] = float(f[1])
    snap["threads"] = threads
    return snap


def thread_roles(a, b):
    """dialerd's thread IDs as main, sip (the busiest other thread by CPU) and the rest"""
    if not b["threads"]:
        return None, None
    pid = str(int(b["dialerd.pid"]))
    d = {t: v - a["threads"].get(t, 0) for t, v in b["threads"].items() if t != pid}
    return pid, (max(d, key=d.get) if d else None)


def syscalls(path, a, b, calls):
    """system calls per call of dialerd's threads from a perf stat --per-thread -x, file"""
    pid, sip = thread_roles(read_snap(a), read_snap(b))
    if not pid or calls <= 0:
        return {}
    out = {"dialerd.main": 0, "dialerd.sip": 0, "dialerd.other": 0}
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return {}
    for line in lines:
        f = line.split(",")
        if len(f) < 4 or "sys_enter" not in f[3] or not f[1].isdigit():
            continue
        tid = f[0].rsplit("-", 1)[-1]
        role = "main" if tid == pid else "sip" if tid == sip else "other"
        out["dialerd." + role] += int(f[1])
    out = {k: round(v / calls, 1) for k, v in out.items()}
    out["dialerd"] = round(sum(out.values()), 1)
    return out


def cpu_diff(a, b, calls):
    """CPU ms per call of each label between two bf_cpu_snap files"""
    a, b = read_snap(a), read_snap(b)
    out = {}
    if calls <= 0:
        return out
    for k, v in b.items():
        if k in ("t", "threads", "dialerd.pid"):
            continue
        out[k] = round((v - a.get(k, 0)) * 1000.0 / HZ / calls, 4)
    if b["threads"]:
        pid, sip = thread_roles(a, b)
        d = {t: v - a["threads"].get(t, 0) for t, v in b["threads"].items()}
        main = d.pop(pid, 0)
        out["dialerd.main"] = round(main * 1000.0 / HZ / calls, 4)
        out["dialerd.sip"] = round((d.pop(sip) if sip else 0) * 1000.0 / HZ / calls, 4)
        out["dialerd.other"] = round(sum(d.values()) * 1000.0 / HZ / calls, 4)
    out["seconds"] = round(b["t"] - a["t"], 2)
    return out


def sipp_rows(path):
    try:
        rows = list(csv.reader(open(path), delimiter=";"))
    except OSError:
        return None, []
    if len(rows) < 2:
        return None, []
    return rows[0], rows[1:]


def last(path, col):
    h, rows = sipp_rows(path)
    if not h or col not in h:
        return 0
    try:
        return int(rows[-1][h.index(col)])
    except (ValueError, IndexError):
        return 0


def cmd_step(o):
    w, n = o["work"], o["name"]
    rate, secs = int(o["rate"]), int(o["seconds"])
    offered = rate * secs
    ok = shed = 0
    try:
        for line in open(os.path.join(w, n + ".uac.log")):
            if line.startswith("ok "):
                ok += 1
            elif line.startswith("shed "):
                shed += 1
    except OSError:
        pass
    uac = os.path.join(w, n + ".uac.csv")
    uas = os.path.join(w, n + ".uas.csv")
    # time to offer every call: the first stat row at the full count
    issue = -1.0
    h, rows = sipp_rows(uac)
    if h:
        ti, oi = h.index("CurrentTime"), h.index("OutgoingCall(C)")
        t0 = float(rows[0][ti].split("\t")[-1])
        for r in rows:
            if int(r[oi]) >= offered:
                issue = float(r[ti].split("\t")[-1]) - t0
                break
    res = {
        "offered": offered, "ok": ok, "shed": shed,
        "uac_failed": last(uac, "FailedCall(C)"), "uas_failed": last(uas, "FailedCall(C)"),
        "retrans": last(uac, "Retransmissions(C)") + last(uas, "Retransmissions(C)"),
        "uas_calls": last(uas, "SuccessfulCall(C)"),
        "issue_s": round(issue, 2),
        # the generator kept the rate: every call offered within 10 % (+1 s) of the step
        "rate_kept": 1 if 0 <= issue <= secs * 1.1 + 1 else 0,
    }
    for k, v in res.items():
        print("%s=%s" % (k, v))
    c0, c1 = os.path.join(w, n + ".cpu0"), os.path.join(w, n + ".cpu1")
    cpu = cpu_diff(c0, c1, ok)
    print("cpu='%s'" % json.dumps(cpu, separators=(",", ":")))
    sysf = os.path.join(w, n + ".sys")
    sysc = syscalls(sysf, c0, c1, ok) if os.path.exists(sysf) else {}
    print("sysc='%s'" % (json.dumps(sysc, separators=(",", ":")) if sysc else ""))


def parse_val(v):
    for f in (int, float):
        try:
            return f(v)
        except ValueError:
            pass
    if v.startswith("{") or v.startswith("["):
        try:
            return json.loads(v)
        except ValueError:
            pass
    return v


def med_spread(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)


def cmd_final(o):
    recs = read_records(o["records"])
    meta = next((r for r in recs if r.get("kind") == "meta"), {})
    res = {"date": meta.get("date"), "mode": meta.get("mode"), "machine": meta.get("machine"),
           "load_average": {"start": str(meta.get("load", "")).split(),
                            "end": open("/proc/loadavg").read().split()[:3]},
           "settings": meta.get("settings", {})}
    systems = [("sipp_direct", "SIPp UAC → SIPp UAS (direct)"),
               ("kamailio_acc", "Kamailio 5.6 tm+rr+acc → PostgreSQL"),
               ("dialerd", "dialerd, full flow (webhooks, call log)")]

    def complete(reps):
        # a search the time budget stopped while its rate still rose gave a lower bound, not
        # a highest rate: the median takes the complete searches when there are any
        done = [r for r in reps if not r.get("cut")]
        return done or reps

    for key, _ in systems:
        best = [r for r in recs if r.get("kind") == "best" and r.get("system") == key]
        if key == "kamailio_acc" and best:
            # per children setting the median of its repetitions; the better setting counts
            groups = {}
            for r in best:
                groups.setdefault(r.get("children"), []).append(r)
            best = max(groups.values(), key=lambda g: statistics.median(r["cps"] for r in complete(g)))
        cut = [r["cps"] for r in best if r.get("cut")]
        lower_bound = bool(best) and len(cut) == len(best)
        best = complete(best)
        m, lo, hi = med_spread([r["cps"] for r in best])
        # the repetition that gave the median: its CPU per call
        rep = min(best, key=lambda r: abs(r["cps"] - m)) if best else {}
        res[key] = {"cps": m, "cps_min": lo, "cps_max": hi, "reps": [r["cps"] for r in best],
                    "reps_cut": cut, "lower_bound": lower_bound,
                    "cpu_ms_per_call": rep.get("cpu", {}), "at_rate": rep.get("rate"),
                    "load": rep.get("load"), "failed_at_best": rep.get("failed")}
        if key == "dialerd":
            res[key]["postgres_writes_per_call"] = rep.get("pg")
            res[key]["syscalls_per_call"] = rep.get("syscalls") or None
        if key == "kamailio_acc":
            res[key]["children"] = rep.get("children")
            res[key]["by_children"] = {}
            for r in recs:
                if r.get("kind") == "best" and r.get("system") == key:
                    res[key]["by_children"].setdefault(str(r.get("children")), []).append(r["cps"])
    steps = [r for r in recs if r.get("kind") == "step"]
    res["steps"] = steps
    k, d = res["kamailio_acc"]["cps"], res["dialerd"]["cps"]
    s = res["sipp_direct"]["cps"]
    res["ratios"] = {"dialerd_vs_kamailio_acc": round(d / k, 3) if k and d is not None else None,
                     "dialerd_vs_sipp_direct": round(d / s, 3) if s and d is not None else None,
                     "kamailio_acc_vs_sipp_direct": round(k / s, 3) if s and k is not None else None}
    for kind in ("latency", "rss", "hooks_alone"):
        r = [x for x in recs if x.get("kind") == kind]
        res[kind] = r[-1] if r else None
    res["drills"] = [x for x in recs if x.get("kind") == "drill"] or None
    with open(o["out"], "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")

    def fmt(v, f="%.0f"):
        return "–" if v is None else f % v

    def cpu_str(c, keys):
        return ", ".join("%s %.3f" % (k.split(".")[-1] if k.startswith("dialerd.") else k, c[k])
                         for k in keys if k in c)
    print()
    la = meta.get("load") or ""
    la = la.split() if isinstance(la, str) else la
    print("| %s (%s, %s cores, load %s) | calls/s (median of %d) | spread | CPU ms per call |" % (
        "full-flow bench", res["mode"], (res["machine"] or {}).get("cores", "?"), " ".join(la),
        max(len(res[k]["reps"]) for k, _ in systems) or 0))
    print("|---|---:|---:|---|")
    cpu_keys = {"sipp_direct": ["uac", "uas"],
                "kamailio_acc": ["kamailio", "postgres", "uac", "uas"],
                "dialerd": ["dialerd", "dialerd.main", "dialerd.sip", "dialerd.other",
                            "postgres", "hooks", "uac", "uas"]}
    for key, name in systems:
        r = res[key]
        extra = " (children=%s, the better of 1 and 8)" % r.get("children") \
            if key == "kamailio_acc" and r.get("children") else ""
        if r.get("reps_cut"):
            # searches the time budget stopped while the rate still rose: lower bounds
            extra += " (searches cut short by the time budget: %s; %s)" % (
                ", ".join("≥ %s" % fmt(c) for c in r["reps_cut"]),
                "the median is a lower bound" if r["lower_bound"] else "left out of the median")
        spread = "–" if r["cps_min"] is None else "%s–%s" % (fmt(r["cps_min"]), fmt(r["cps_max"]))
        print("| %s%s | %s | %s | %s |" % (name, extra, fmt(r["cps"]), spread,
                                        cpu_str(r["cpu_ms_per_call"], cpu_keys[key])))
    print("| dialerd / Kamailio+acc | %s | | |" % fmt(res["ratios"]["dialerd_vs_kamailio_acc"], "%.2f×"))
    lat = res["latency"]
    if lat:
        print("| dialerd post-dial delay at %s calls/s, webhook time subtracted | p50 %s ms, p99 %s ms | | webhook p50 %s ms |" % (
            lat.get("rate"), fmt(lat.get("p50_ms"), "%.2f"), fmt(lat.get("p99_ms"), "%.2f"), fmt(lat.get("hook_p50_ms"), "%.2f")))
    rss = res["rss"]
    if rss:
        def alloc(lv):
            v = lv.get("alloc_kib_per_call")
            return "" if v is None else "allocated %.1f KiB" % v
        for lv in rss.get("levels", []):
            print("| dialerd RSS per held relayed call at %s calls | %s KiB | | %s |" % (
                lv["calls"], fmt(lv.get("kib_per_call"), "%.1f"),
                "; ".join(x for x in (alloc(lv), lv.get("note", "")) if x)))
        a = rss.get("after_ring")
        if isinstance(a, dict):
            print("| ... at %s calls once the call log's failover ring (last 30 s of batches) expired and the set-up's SIP transactions (32 s) ended | %s KiB | | %s |" % (
                a["calls"], fmt(a.get("kib_per_call"), "%.1f"), alloc(a)))
    h = res["hooks_alone"]
    if h:
        print("| webhook server alone (wrk, /voice) | %s req/s | | |" % fmt(h.get("req_per_s")))
    print()
    if res["drills"]:
        drill_table(res["drills"])
        print()
    print("bench: sipp_direct_cps=%s kamailio_acc_cps=%s dialerd_cps=%s ratio=%s results=%s" % (
        fmt(s), fmt(k), fmt(d), res["ratios"]["dialerd_vs_kamailio_acc"], o["out"]))


def read_records(path):
    recs = []
    for line in open(path):
        line = line.rstrip("\n")
        if line:
            recs.append({k: parse_val(v) for k, v in (f.split("=", 1) for f in line.split("\t") if "=" in f)})
    return recs


def drill_table(drills):
    print("| drill | fault | calls/s | offered | failed | answered then dropped (by a BYE after the restart) | rows lost | callbacks lost (of due) | duplicated (beyond rule) | load | note |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for d in drills:
        print("| %s | %s s | %s | %s | %s | %s (%s) | %s | %s (%s) | %s (%s) | %s | %s |" % (
            d["drill"], d.get("fault_s"), d.get("rate"), d.get("offered"), d.get("calls_failed"),
            d.get("answered_dropped"), d.get("restart_byes", "-"), d.get("rows_lost"), d.get("callbacks_lost"), d.get("callbacks_due"),
            d.get("callbacks_dup"), d.get("callbacks_dup_beyond_rule"), d.get("load"), d.get("note", "")))


def cmd_drills(o):
    drills = [r for r in read_records(o["records"]) if r.get("kind") == "drill"]
    with open(o["out"], "w") as f:
        json.dump({"drills": drills, "machine": {"cores": os.cpu_count()},
                   "load_average_end": open("/proc/loadavg").read().split()[:3]}, f, indent=1)
        f.write("\n")
    print()
    drill_table(drills)
    print()
    print("drills: %d run, rows lost %d, callbacks lost %d, results=%s" % (
        len(drills), sum(d.get("rows_lost") or 0 for d in drills),
        sum(d.get("callbacks_lost") or 0 for d in drills), o["out"]))


def opts(argv):
    o, i = {}, 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--"):
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                o[a[2:]] = argv[i + 1]
                i += 2
                continue
            o[a[2:]] = True
        i += 1
    return o


def main():
    cmd, rest = sys.argv[1], sys.argv[2:]
    if cmd == "step":
        cmd_step(opts(rest))
    elif cmd == "drills":
        cmd_drills(opts(rest))
    elif cmd == "final":
        cmd_final(opts(rest))
    else:
        sys.exit("report.py: unknown command " + cmd)


if __name__ == "__main__":
    main()
