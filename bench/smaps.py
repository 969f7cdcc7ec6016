#!/usr/bin/env python3
"""smaps.py - where processes' resident memory is, from /proc/PID/smaps.

    smaps.py [--own PREFIX]... PID...

Sums Rss and Pss over all the mappings of all the PIDs (nginx: master and
worker), per mapping path, and prints one line of NAME=KiB pairs that
bench/run.sh records:

  rss pss      the totals (the sum of every mapping's Rss, Pss)
  bin          the program's own executable (/proc/PID/exe), and any file
               under an --own prefix (lighttpd's modules, which are its
               code as much as /usr/sbin/lighttpd is)
  anon         anonymous memory: [heap], [stack], unnamed and [anon:...]
               mappings, and shared anonymous memory (/dev/zero, SysV:
               nginx's shared zones)
  lib          shared libraries: every other file whose name has ".so"
  lib_pss      the same libraries' Pss (their pages divided among every
               process that maps them, on the whole machine)
  other        the rest: other files (locale archive, ...) and the kernel's
               [vdso], [vvar]
  lib:NAME     each shared library's Rss, NAME its file name (libc.so.6)

Exits 1 if no PID could be read.
"""
import os
import re
import sys

HEADER = re.compile(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$")


def kind(path, exe, own):
    if not path or path in ("[heap]", "[stack]") or path.startswith("[anon:") \
            or path.startswith("[stack:") or path.startswith("/dev/zero") \
            or path.startswith("/SYSV") or path.startswith("/memfd:"):
        return "anon"
    if path == exe or any(path.startswith(p) for p in own):
        return "bin"
    if path.startswith("/") and ".so" in os.path.basename(path):
        return "lib"
    return "other"


def main():
    args = sys.argv[1:]
    own = []
    while args and args[0] == "--own":
        own.append(args[1])
        args = args[2:]
    totals = {"rss": 0, "pss": 0, "bin": 0, "anon": 0, "lib": 0, "lib_pss": 0, "other": 0}
    libs = {}
    read = 0
    for pid in args:
        try:
            exe = os.readlink("/proc/%s/exe" % pid)
            with open("/proc/%s/smaps" % pid) as f:
                lines = f.readlines()
        except OSError:
            continue
        read += 1
        what = None
        path = ""
        for line in lines:
            m = HEADER.match(line)
            if m:
                path = m.group(1).strip()
                what = kind(path, exe, own)
                continue
            if line.startswith("Rss:"):
                kb = int(line.split()[1])
                totals["rss"] += kb
                totals[what] += kb
                if what == "lib":
                    name = os.path.basename(path)
                    libs[name] = libs.get(name, 0) + kb
            elif line.startswith("Pss:"):
                kb = int(line.split()[1])
                totals["pss"] += kb
                if what == "lib":
                    totals["lib_pss"] += kb
    if not read:
        sys.exit(1)
    out = ["%s=%d" % kv for kv in totals.items()]
    out += ["lib:%s=%d" % (name, kb) for name, kb in sorted(libs.items(), key=lambda kv: -kv[1])]
    print(" ".join(out))


if __name__ == "__main__":
    main()
