#!/usr/bin/env python3
"""ports.py OWNER [--addr ADDR] [--pair | --block N]: claims local ports for a
test and prints the first one.

  (default)   one port, free for TCP and UDP on ADDR (127.0.0.1)
  --pair      an even port P with P+1 (RTP + RTCP of a media peer)
  --block N   N consecutive ports from an even one (a daemon's RTP range)

Every port is claimed for OWNER, a PID (the shell of the case): no other
claim hands it out while that process lives. Claims of processes that have
gone (or whose PID was reused: the start time is kept) are dropped at the
next claim. Claims live in one file per user under $DIALERD_PORT_DIR
(default ${TMPDIR:-/tmp}/dialerd-ports-UID), read and written under flock,
so concurrent cases, and several tests/run at once by one user, never get
the same port. Other users' runs do not see these claims.

Where the ports come from: 16000-19999 and 10000-11999, never the kernel's
ephemeral range (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by
default; whatever it is here is left out at every claim). The kernel hands
an ephemeral port to every socket that connects or binds without a port
(libcurl, libpq, SIPp's and Python's client sockets, PostgreSQL's
replication): it never hands out one outside that range, so no such socket
can take a claimed port between the check here and the case's bind. The
windows also avoid the media ports: dialerd's and dialtool's default RTP
range 20000-29999, bench_dial's 30000-39999, the ranges the cases and
benchmarks set (12000-15999 and 41000-43999, for instance), SIPp's media and
rtp_stream ports (6000 and 8000 up). Only a process that binds a fixed port
in these windows could still take one; none of the tests does.

A claim also checks the port is free right now (bind without SO_REUSEADDR,
so a port in TIME_WAIT is skipped too). The search starts where the last
one ended, so a port released by a finished case is handed out again only
after the whole windows went round.
"""
import fcntl
import os
import socket
import sys

WINDOWS = [(16000, 19999), (10000, 11999)]


def ephemeral():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = f.read().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def candidates():
    elo, ehi = ephemeral()
    return [p for lo, hi in WINDOWS for p in range(lo, hi + 1)
            if not elo <= p <= ehi]


def started(pid):
    """the start time of process PID (clock ticks since boot), None if gone"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return None


def free(port, addr):
    socks = []
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            socks.append(s)
            s.bind((addr, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def main():
    a = sys.argv[1:]
    if not a or not a[0].isdigit():
        print(__doc__, file=sys.stderr)
        return 2
    owner, addr, n, even = int(a[0]), "127.0.0.1", 1, False
    i = 1
    while i < len(a):
        if a[i] == "--addr" and i + 1 < len(a):
            addr = a[i + 1]
            i += 2
        elif a[i] == "--pair":
            n, even = 2, True
            i += 1
        elif a[i] == "--block" and i + 1 < len(a) and a[i + 1].isdigit():
            n, even = int(a[i + 1]), True
            i += 2
        else:
            print(__doc__, file=sys.stderr)
            return 2
    stamp = started(owner)
    if stamp is None:
        print("ports.py: no process %d to own the port" % owner, file=sys.stderr)
        return 2

    d = os.environ.get("DIALERD_PORT_DIR") or os.path.join(
        os.environ.get("TMPDIR") or "/tmp", "dialerd-ports-%d" % os.getuid())
    os.makedirs(d, mode=0o700, exist_ok=True)
    with open(os.path.join(d, "lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = os.path.join(d, "claims")
        claims, cursor = {}, 0
        try:
            with open(path) as f:
                for line in f:
                    w = line.split()
                    if w[0] == "cursor":
                        cursor = int(w[1])
                    elif started(int(w[1])) == w[2]:
                        claims[int(w[0])] = (w[1], w[2])
        except (OSError, ValueError, IndexError):
            pass
        ports = candidates()
        have = set(ports)
        got = None
        for k in range(len(ports)):
            p = ports[(cursor + k) % len(ports)]
            run = range(p, p + n)
            if (even and p % 2) or any(q not in have or q in claims for q in run):
                continue
            if all(free(q, addr) for q in run):
                got, cursor = p, (cursor + k + n) % len(ports)
                break
        if got is None:
            print("ports.py: no %d free unclaimed port(s) in %s outside the "
                  "ephemeral range %d-%d" % ((n, WINDOWS) + ephemeral()),
                  file=sys.stderr)
            return 1
        for q in range(got, got + n):
            claims[q] = (str(owner), stamp)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("cursor %d\n" % cursor)
            for q, (pid, st) in sorted(claims.items()):
                f.write("%d %s %s\n" % (q, pid, st))
        os.rename(tmp, path)
    print(got)
    return 0


if __name__ == "__main__":
    sys.exit(main())
