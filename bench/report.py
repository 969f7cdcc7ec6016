#!/usr/bin/env python3
"""report.py - turns bench/run.sh's samples into bench/results.md and the
data file bench/chart.gp plots (CHART.DAT, and CHART.DAT.gp: the settings
chart.gp loads).

    report.py RESULTS.TSV META.TSV RESULTS.MD CHART.DAT [BEFORE.TSV BEFORE-META.TSV [BY-HAND.MD]]

BEFORE.TSV and BEFORE-META.TSV (default: bench/before-issue17.tsv and
bench/before-issue17-meta.tsv, the make bench run of b27f33c, before issue
17) are compared with this run in "Before and after issue 17"; BY-HAND.MD
(default: bench/results-by-hand.md), measurements made by hand, is copied
verbatim at the end, so that a new run keeps them.

Values are medians over the rounds. A ratio is the median of the per-round
ratios (each round measures the servers back to back, so a ratio within a
round is less disturbed by whatever else the machine is doing than a ratio
of two medians).
"""
import collections
import copy
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BEFORE_TSV = os.path.join(HERE, "before-issue17.tsv")
BEFORE_META = os.path.join(HERE, "before-issue17-meta.tsv")
BY_HAND = os.path.join(HERE, "results-by-hand.md")

SERVERS = ["mtlsd", "nginx", "lighttpd"]
KEYSET_NAMES = {"rsa": "RSA-2048", "ec": "ECDSA P-256"}
# The rows of the idle-memory table: the servers, then these.
MEMORY_EXTRA = [("mtlsd-musl", "mtlsd, `make MUSL=1` (static, musl)"),
                ("sleep", "baseline: an idle `sleep 60` (glibc, dynamic)")]

# metric, label, unit, better ("low"/"high"), digits
ROWS = [
    ("full_rps", "full handshakes", "req/s", "high", 0),
    ("full_cpu_us", "server CPU per full handshake, user+sys", "µs", "low", 0),
    ("full_user_us", "– user", "µs", "low", 0),
    ("full_sys_us", "– sys (in the kernel)", "µs", "low", 0),
    ("resumed_cps", "resumed handshakes (s_time -reuse)", "conn/s", "high", 0),
    ("resumed_cpu_us", "server CPU per resumed connection, user+sys", "µs", "low", 0),
    ("resumed_user_us", "– user", "µs", "low", 0),
    ("resumed_sys_us", "– sys (in the kernel)", "µs", "low", 0),
    ("resumed_share", "connections really resumed", "%", "high", 0),
    ("ka_rps", "keep-alive, 8 connections, 1 KiB", "req/s", "high", 0),
    ("ka_cpu_us", "server CPU per keep-alive request, user+sys", "µs", "low", 2),
    ("ka_user_us", "– user", "µs", "low", 2),
    ("ka_sys_us", "– sys (in the kernel)", "µs", "low", 2),
    ("bulk_mbps", "bulk, 64 MiB over one connection", "MB/s", "high", 0),
    ("bulk_cpu_ms", "server CPU per 64 MiB, user+sys", "ms", "low", 0),
    ("bulk_user_ms", "– user", "ms", "low", 0),
    ("bulk_sys_ms", "– sys (in the kernel)", "ms", "low", 0),
    ("rss_idle_kb", "RSS idle", "KiB", "low", 0),
    ("rss_conns_kb", "RSS, the idle authenticated connections open", "KiB", "low", 0),
    ("conn_kb", "RSS added per idle connection", "KiB", "low", 1),
    ("conn_noshm_kb", "– less the session cache's shared pages (a fixed cost)", "KiB", "low", 1),
    ("pss_idle_kb", "PSS idle", "KiB", "low", 0),
    ("pss_conns_kb", "PSS, idle authenticated connections open", "KiB", "low", 0),
]

FLOOR_OPS = [
    ("floor_sign", "server signature (ServerKeyExchange)"),
    ("floor_ecdhe_gen", "ECDHE key share (mulgen)"),
    ("floor_ca_verify", "client certificate's signature, by the CA key"),
    ("floor_cv_verify", "client's CertificateVerify"),
    ("floor_ecdhe_mul", "ECDHE shared secret (mul)"),
    ("floor_total", "total"),
]


def load(path, idle_conns):
    """samples[keyset][server][metric] = {round: value}; conn_kb from
    rss_conns_kb and rss_idle_kb with idle_conns connections."""
    samples = collections.defaultdict(
        lambda: collections.defaultdict(lambda: collections.defaultdict(dict)))
    with open(path) as f:
        next(f)
        for line in f:
            keyset, rnd, server, metric, value = line.rstrip("\n").split("\t")
            samples[keyset][server][metric][int(rnd)] = float(value)
    for keyset in samples:
        for server in samples[keyset]:
            m = samples[keyset][server]
            if "rss_conns_kb" in m and "rss_idle_kb" in m:
                for r in m["rss_conns_kb"]:
                    if r in m["rss_idle_kb"]:
                        m["conn_kb"][r] = (m["rss_conns_kb"][r]
                                           - m["rss_idle_kb"][r]) / idle_conns
                    if r in m.get("shm_conns_kb", {}) and r in m.get("shm_idle_kb", {}):
                        m["conn_noshm_kb"][r] = m["conn_kb"][r] - (
                            m["shm_conns_kb"][r] - m["shm_idle_kb"][r]) / idle_conns
            if "idle_bin_kb" in m and "idle_anon_kb" in m:
                for r in m["idle_bin_kb"]:
                    if r in m["idle_anon_kb"]:
                        m["idle_own_kb"][r] = m["idle_bin_kb"][r] + m["idle_anon_kb"][r]
            if "resumed_share" in m:
                m["resumed_share"] = {r: v * 100 for r, v in m["resumed_share"].items()}
    return samples


def median(values):
    values = list(values)
    return statistics.median(values) if values else None


def value(samples, keyset, server, metric):
    return median(samples[keyset][server].get(metric, {}).values())


def ratio(samples, keyset, server, metric, base_server="nginx", base_metric=None):
    """Median over rounds of server's metric / the base's in the same round."""
    a = samples[keyset][server].get(metric, {})
    b = samples[keyset][base_server].get(base_metric or metric, {})
    per_round = [a[r] / b[r] for r in a if r in b and b[r]]
    return median(per_round)


def fmt(v, digits=0):
    if v is None:
        return "–"
    if digits == 0:
        return "{:,.0f}".format(v).replace(",", " ")
    return "{:.{d}f}".format(v, d=digits)


def fmt_ratio(v):
    return "–" if v is None else "{:.2f}×".format(v)


def libraries(samples, keyset, server):
    """[(file name, median Rss KiB)] of the shared libraries, largest first."""
    m = samples[keyset][server]
    libs = [(metric.split(":", 1)[1], median(m[metric].values()))
            for metric in m if metric.startswith("idle_lib_kb:")]
    return sorted(libs, key=lambda kv: -kv[1])


def library(samples, keyset, server, name):
    return dict(libraries(samples, keyset, server)).get(name)


def join(parts):
    return "; ".join(p for p in parts if p)


def many_per_conn(samples, keyset, server):
    """RSS per connection of the many-idle case, KiB, or None."""
    a = value(samples, keyset, server, "many_rss_kb")
    b = value(samples, keyset, server, "many_rss_idle_kb")
    n = value(samples, keyset, server, "many_conns")
    return (a - b) / n if a is not None and b is not None and n else None


def fmt_change(before, after):
    """'+1.2 %' for after against before, or '–'."""
    if before is None or after is None or not before:
        return "–"
    return "{:+.1f} %".format((after / before - 1) * 100).replace("-", "−")


def run_label(meta):
    return "%s, %s (%s, %s cores; load average at start %s; %s)" % (
        meta.get("version_mtlsd", "?"), meta.get("date", "?"), meta.get("machine_cpu", "?"),
        meta.get("machine_nproc", "?"), meta.get("machine_load", "?"), meta.get("settings", "?"))


# Issue 17's "no regression elsewhere": each figure's ratio to nginx in the
# same run, before against after. metric, label, unit, better, digits.
NO_REGRESSION = [
    ("ka_cpu_us", "server CPU per keep-alive request", "µs", "low", 2),
    ("bulk_mbps", "bulk throughput, 64 MiB over one connection", "MB/s", "high", 0),
    ("full_cpu_us", "server CPU per full handshake", "µs", "low", 0),
]
# callgrind's counts, for reference: absolute, they do not move with the load.
INSTRUCTIONS = [
    ("prof_ka_ir", "instructions per keep-alive request (callgrind, mtlsd alone)"),
    ("prof_hs_ir", "instructions per full handshake (callgrind, mtlsd alone)"),
]


def same_run(w, after, meta, keysets):
    """The before build (mtlsd-before, BENCH_BEFORE) measured in this run's
    rounds beside this one: the check that does not depend on the machine's
    drift between runs."""
    if not any("mtlsd-before" in after[k] for k in keysets):
        w("This run did not measure the before build beside this one (BENCH_BEFORE=0, or it "
          "could not be built): only the comparison with the before run below.")
        w("")
        return
    w("**In this run, side by side**: %s, built from this checkout's history, ran as "
      "`mtlsd-before` in every round, in turn with mtlsd, nginx and lighttpd, with the same "
      "clients and settings. The change is the median of the per-round ratios mtlsd / "
      "mtlsd-before; the figures are medians of the rounds. This is the check of \"within "
      "5 %%\": both builds see the same machine and load." % meta.get(
          "version_mtlsd_before", "the before build"))
    w("")
    w("| figure | key set | mtlsd-before | mtlsd | change | within 5%? | each / nginx |")
    w("|---|---|---:|---:|---:|---|---|")
    worse = []
    for metric, label, unit, better, digits in NO_REGRESSION + [
            ("conn_kb", "RSS added per idle connection", "KiB", "low", 1),
            ("prof_ka_ir", "instructions per keep-alive request (callgrind)", "", "low", 0),
            ("prof_hs_ir", "instructions per full handshake (callgrind)", "", "low", 0)]:
        for keyset in keysets:
            b = value(after, keyset, "mtlsd-before", metric)
            a = value(after, keyset, "mtlsd", metric)
            if a is None or b is None:
                continue
            r = ratio(after, keyset, "mtlsd", metric, base_server="mtlsd-before")
            change = (r - 1) * 100 if r is not None else None
            if metric not in dict((m[0], 1) for m in NO_REGRESSION):
                verdict = "–"
            elif (change > 5) if better == "low" else (change < -5):
                verdict = "**no**: worse by %.1f %%" % abs(change)
                worse.append("%s (%s)" % (label, KEYSET_NAMES.get(keyset, keyset)))
            elif (change < -5) if better == "low" else (change > 5):
                verdict = "yes (better by %.1f %%)" % abs(change)
            else:
                verdict = "yes"
            vs = [ratio(after, keyset, srv, metric) for srv in ("mtlsd-before", "mtlsd")]
            w("| %s%s | %s | %s | %s | %s | %s | %s |" % (
                label, " (%s is better)" % ("lower" if better == "low" else "higher")
                if unit else "", KEYSET_NAMES.get(keyset, keyset),
                fmt(b, digits) + (" " + unit if unit else ""),
                fmt(a, digits) + (" " + unit if unit else ""),
                "–" if change is None else ("%+.1f %%" % change).replace("-", "−"),
                verdict, "–" if None in vs else "%s → %s" % tuple(fmt_ratio(v) for v in vs)))
    w("")
    w("**Regression beyond 5%%, side by side**: %s." % ("; ".join(worse) if worse else "none"))
    w("")


def before_after(w, after, meta, before, bmeta, keysets, idle_after, idle_before):
    """The section 'Before and after issue 17': this run (after) against
    the run kept in bench/before-issue17.tsv (before)."""
    settings = dict(kv.split("=") for kv in meta.get("settings", "").split())
    bsettings = dict(kv.split("=") for kv in bmeta.get("settings", "").split())
    w("## Before and after issue 17")
    w("")
    w("Issue 17 (10 000 idle authenticated connections in under 100 MiB) asks for its "
      "numbers before and after, and for no regression elsewhere: \"Keep-alive CPU per "
      "request, bulk throughput and full-handshake CPU stay within 5% of today's, measured "
      "in the same `make bench` run against nginx.\"")
    w("")
    w("- **before**: the `make bench` run of %s; its samples are kept in "
      "`bench/before-issue17.tsv` and `bench/before-issue17-meta.tsv`." % run_label(bmeta))
    w("- **after**: this run, %s." % run_label(meta))
    w("")
    if (meta.get("date") == bmeta.get("date")
            and meta.get("version_mtlsd") == bmeta.get("version_mtlsd")):
        w("This run is the before run itself, so nothing can have changed here.")
        w("")
    differ = [k for k in ("rounds", "handshakes", "keepalive_requests", "bulk_downloads")
              if bsettings.get(k) != settings.get(k)]
    if differ:
        w("This run's settings differ from the before run's (%s): with fewer rounds or "
          "samples its ratios are noisier, and the 5%% check is meant for a full `make bench` "
          "on a quiet machine." % "; ".join(
              "%s %s (before: %s)" % (k, settings.get(k, "?"), bsettings.get(k, "?"))
              for k in differ))
        w("")
    same_run(w, after, meta, keysets)
    w("Against the before run itself, days apart: absolute numbers move with the machine and "
      "its load, so what is compared is each "
      "figure's ratio to nginx measured in the same run (the median of the per-round "
      "ratios, as above); the absolute figures of both runs are in brackets, mtlsd / nginx. "
      "A regression is a change of more than 5% in the worse direction: more CPU, less "
      "throughput.")
    w("")
    w("| figure | key set | before: mtlsd / nginx | after: mtlsd / nginx | change | within 5%? |")
    w("|---|---|---:|---:|---:|---|")
    worse, checked, missing = [], 0, []
    for metric, label, unit, better, digits in NO_REGRESSION:
        for keyset in keysets:
            cells = []
            for s in (before, after):
                r = ratio(s, keyset, "mtlsd", metric)
                cells.append((r, "%s (%s / %s %s)" % (
                    fmt_ratio(r), fmt(value(s, keyset, "mtlsd", metric), digits),
                    fmt(value(s, keyset, "nginx", metric), digits), unit)
                    if r is not None else "not measured"))
            (rb, cb), (ra, ca) = cells
            if rb is None or ra is None:
                verdict = "–"
                missing.append("%s (%s)" % (label, KEYSET_NAMES.get(keyset, keyset)))
            else:
                checked += 1
                change = (ra / rb - 1) * 100
                if (change > 5) if better == "low" else (change < -5):
                    verdict = "**no**: worse by %.1f %%" % abs(change)
                    worse.append("%s (%s, %s)" % (label, KEYSET_NAMES.get(keyset, keyset),
                                                  fmt_change(rb, ra)))
                elif (change < -5) if better == "low" else (change > 5):
                    verdict = "yes (better by %.1f %%)" % abs(change)
                else:
                    verdict = "yes"
            w("| %s (%s is better) | %s | %s | %s | %s | %s |" % (
                label, "lower" if better == "low" else "higher",
                KEYSET_NAMES.get(keyset, keyset), cb, ca, fmt_change(rb, ra), verdict))
    for metric, label in INSTRUCTIONS:
        for keyset in keysets:
            b, a = value(before, keyset, "mtlsd", metric), value(after, keyset, "mtlsd", metric)
            if b is None and a is None:
                continue
            w("| %s, for reference | %s | %s | %s | %s | – |" % (
                label, KEYSET_NAMES.get(keyset, keyset),
                fmt(b) if b is not None else "not counted",
                fmt(a) if a is not None else "not counted", fmt_change(b, a)))
    w("")
    if worse:
        w("**Regression beyond 5%%**: %s." % "; ".join(worse))
    elif checked:
        w("**No regression beyond 5%%**: %d of %d figures compared, each within 5%% of its "
          "ratio to nginx before or better." % (checked, checked))
    if missing:
        w("Not compared (missing from one of the runs): %s." % "; ".join(missing))
    w("")

    w("Memory per idle authenticated connection (the issue's first goal), before and after:")
    w("")
    w("| | key set | before | after | change | issue 17's target |")
    w("|---|---|---:|---:|---:|---|")

    def per_conn_cell(s, keyset, server, idle):
        a = value(s, keyset, server, "conn_kb")
        if a is None:
            return a, "not measured"
        n = value(s, keyset, "nginx", "conn_kb")
        notes = ["%d open" % idle] if idle != idle_after else []
        if n is not None:
            notes.append("nginx %s KiB, %s" % (fmt(n, 1), fmt_ratio(a / n)))
        return a, "%s KiB%s" % (fmt(a, 1), " (%s)" % "; ".join(notes) if notes else "")

    for keyset in keysets:
        ks = KEYSET_NAMES.get(keyset, keyset)
        for server, name in (("mtlsd", "mtlsd"), ("mtlsd-musl", "mtlsd `MUSL=1`")):
            (b, cb), (a, ca) = (per_conn_cell(before, keyset, server, idle_before),
                                per_conn_cell(after, keyset, server, idle_after))
            if b is None and a is None:
                continue
            # The session cache's pages are a fixed cost (at most
            # --session-cache entries), spread here over few connections.
            noshm = value(after, keyset, server, "conn_noshm_kb")
            if a is None:
                goal = "–"
            elif noshm is not None and noshm < a:
                goal = "≤ 8 KiB: %s (%s KiB less the session cache's fixed pages)" % (
                    "met" if noshm <= 8 else "**not met**", fmt(noshm, 1))
            else:
                goal = "≤ 8 KiB: %s" % ("met" if a <= 8 else "**not met**")
            w("| RSS added per idle connection, %d open, %s | %s | %s | %s | %s | %s |" % (
                idle_after, name, ks, cb, ca, fmt_change(b, a), goal))
        cells = []
        for s, idle in ((before, idle_before), (after, idle_after)):
            r = ratio(s, keyset, "mtlsd", "rss_conns_kb")
            cells.append((r, "%s (%s / %s KiB%s)" % (
                fmt_ratio(r), fmt(value(s, keyset, "mtlsd", "rss_conns_kb")),
                fmt(value(s, keyset, "nginx", "rss_conns_kb")),
                "; %d open" % idle if idle != idle_after else "") if r is not None
                else "not measured"))
        if cells[0][0] is not None or cells[1][0] is not None:
            w("| RSS with %d idle connections, mtlsd / nginx | %s | %s | %s | %s | – |" % (
                idle_after, ks, cells[0][1], cells[1][1], fmt_change(cells[0][0], cells[1][0])))
        many_after = "many_rss_kb" in after[keyset].get("mtlsd", {})
        many_before = "many_rss_kb" in before[keyset].get("mtlsd", {})
        if not (many_after or many_before):
            continue

        def many(s, has, what):
            if not has:
                return None, "none: the before run had no many-idle case"
            n = value(s, keyset, "mtlsd", "many_conns")
            per = many_per_conn(s, keyset, "mtlsd")
            nper = many_per_conn(s, keyset, "nginx")
            if what == "per":
                return per, "%s KiB with %s open%s" % (
                    fmt(per, 2), fmt(n), " (nginx %s KiB)" % fmt(nper, 2) if nper is not None else "")
            if what == "10k":
                at = value(s, keyset, "mtlsd", "many_rss_idle_kb") + per * 10000
                total = value(s, keyset, "mtlsd", "many_rss_kb")
                return at, "%s MiB%s" % (fmt(at / 1024, 1), "" if n == 10000 else
                                         " (measured: %s MiB with %s open)" % (fmt(total / 1024, 1), fmt(n)))
            metric, unit, digits = {"new": ("many_new_ms", "ms", 1),
                                    "answer": ("many_answer_s", "s", 2)}[what]
            x, nx = value(s, keyset, "mtlsd", metric), value(s, keyset, "nginx", metric)
            return x, "%s %s%s" % (fmt(x, digits), unit, " (nginx %s %s)" % (
                fmt(nx, digits), unit) if nx is not None else "")

        rows = (("per", "RSS per idle connection, many open, mtlsd", "≤ 8 KiB",
                 lambda x: x <= 8),
                ("10k", "RSS for 10 000 idle connections, mtlsd (idle RSS + 10 000 × the above)",
                 "≤ 100 MiB", lambda x: x <= 100 * 1024),
                ("new", "a new client while they are open (curl, slowest of 5)", "< 100 ms",
                 lambda x: x < 100),
                ("answer", "one more request on each: all answered in",
                 "all answered (run.sh stops otherwise)", None))
        for what, label, tgt, ok in rows:
            b, cb = many(before, many_before, what)
            a, ca = many(after, many_after, what) if many_after else (None, "not measured")
            w("| %s | %s | %s | %s | %s | %s |" % (
                label, ks, cb, ca, fmt_change(b, a),
                "–" if a is None else tgt if ok is None
                else "%s: %s" % (tgt, "met" if ok(a) else "**not met**")))
    w("")
    many_before = any("many_rss_kb" in before[k].get("mtlsd", {}) for k in keysets)
    many_after = any("many_rss_kb" in after[k].get("mtlsd", {}) for k in keysets)
    if many_after and not many_before:
        w("The before run had no many-idle case: `make bench` gained it with issue 17 (once, "
          "in the first key set). The many-idle figures measured by hand before the change "
          "are in \"Measured by hand\" at the end of this file.")
    elif not many_after:
        w("Neither run has the many-idle case (the before run predates it; `BENCH_MANY=0` "
          "leaves it out); the figures measured by hand before and after the change are in "
          "\"Measured by hand\" at the end of this file.")
    w("")


def load_meta(path):
    """meta[key] = value (the last of a repeated key), settings: its dict."""
    meta = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            meta[k] = v
    settings = dict(kv.split("=") for kv in meta.get("settings", "").split())
    return meta, settings


def main():
    global IDLE_CONNS
    tsv, meta_path, md_path, dat_path = sys.argv[1:5]
    before_tsv = sys.argv[5] if len(sys.argv) > 5 else BEFORE_TSV
    before_meta_path = sys.argv[6] if len(sys.argv) > 6 else BEFORE_META
    by_hand_path = sys.argv[7] if len(sys.argv) > 7 else BY_HAND
    meta, settings = load_meta(meta_path)
    IDLE_CONNS = int(settings.get("idle_conns", "500"))
    samples = load(tsv, IDLE_CONNS)
    keysets = [k for k in ("rsa", "ec") if k in samples]
    servers = [s for s in SERVERS if any(s in samples[k] for k in keysets)]
    samples_servers = {s for k in keysets for s in samples[k]}
    rounds = settings.get("rounds", "?")

    out = []
    w = out.append

    def v(keyset, server, metric):
        return value(samples, keyset, server, metric)

    w("# mtlsd benchmark results")
    w("")
    w("Written by `make bench` (bench/run.sh); do not edit by hand. "
      "The raw samples are in `bench/results.tsv`.")
    w("")
    w("![mtlsd against nginx and lighttpd](results.png)")
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    w("| CPU | %s, %s cores (nproc) |" % (meta.get("machine_cpu"), meta.get("machine_nproc")))
    w("| memory | %s |" % meta.get("machine_mem"))
    w("| system | %s, %s |" % (meta.get("machine_os"), meta.get("machine_kernel")))
    w("| date | %s (load average at start: %s; run took %s s) |"
      % (meta.get("date"), meta.get("machine_load"), meta.get("duration_s")))
    w("| servers | %s, %s, %s |" % (meta.get("version_mtlsd"), meta.get("version_nginx"),
                                   meta.get("version_lighttpd")))
    w("| TLS | mtlsd: BearSSL %s (static); nginx and lighttpd: %s |"
      % (meta.get("version_bearssl"), meta.get("version_openssl")))
    w("| settings | %s |" % meta.get("settings"))
    w("")
    w("Every server: loopback only, 1 process serving (nginx: master + 1 worker), "
      "TLS 1.2 with ECDHE-{RSA,ECDSA}-AES128-GCM-SHA256 (forced by the clients), "
      "client certificates required and verified against the same CA, access logs "
      "off, %s requests per keep-alive connection, the same document root. The "
      "servers share the machine's cores with the load generators (ab, openssl, "
      "curl, python) and with whatever else runs on it, so absolute numbers move "
      "from run to run; the servers are measured in alternation, %s rounds, and "
      "the ratios are medians of per-round ratios." % ("65535", rounds))
    w("")
    kex = ", ".join("%s: %s" % (k.split("-", 1)[1], v) for k, v in sorted(meta.items())
                    if k.startswith("kex-"))
    if kex:
        w("Key exchange negotiated (ab's report): %s." % kex)
        w("")

    for keyset in keysets:
        w("## %s" % KEYSET_NAMES.get(keyset, keyset))
        w("")
        head = "| | " + " | ".join(servers) + " | " + " | ".join(
            "%s / nginx" % s for s in servers if s != "nginx") + " |"
        w(head)
        w("|---|" + "---:|" * (len(servers) * 2 - 1))
        for metric, label, unit, better, digits in ROWS:
            vals = [value(samples, keyset, s, metric) for s in servers]
            if all(v is None for v in vals):
                continue
            ratios = [ratio(samples, keyset, s, metric) if metric != "resumed_share" else None
                      for s in servers if s != "nginx"]
            w("| %s (%s, %s is better) | %s | %s |" % (
                label, unit, "lower" if better == "low" else "higher",
                " | ".join(fmt(v, digits) for v in vals),
                " | ".join(fmt_ratio(r) for r in ratios)))
        w("")
        floor = samples[keyset].get("floor", {})
        if floor:
            w("BearSSL's floor for one full handshake with these keys (bench/floor, "
              "median CPU µs over 200 runs of each operation, default implementations):")
            w("")
            w("| operation | µs |")
            w("|---|---:|")
            for metric, label in FLOOR_OPS:
                if metric in floor:
                    w("| %s | %s |" % (label, fmt(median(floor[metric].values()), 1)))
            r = ratio(samples, keyset, "mtlsd", "full_cpu_us", "floor", "floor_total")
            ru = ratio(samples, keyset, "mtlsd", "full_user_us", "floor", "floor_total")
            sys_us = value(samples, keyset, "mtlsd", "full_sys_us")
            w("")
            line = ("mtlsd's server CPU per full handshake is **%s** BearSSL's floor "
                    "(kernel time for the connection included)" % fmt_ratio(r))
            if ru is not None and sys_us is not None:
                line += ("; its user CPU alone is **%s** the floor, and its kernel (sys) "
                         "time %s µs per handshake" % (fmt_ratio(ru), fmt(sys_us)))
            w(line + ".")
            w("")
        hs_ir = value(samples, keyset, "mtlsd", "prof_hs_ir")
        floor_ir = value(samples, keyset, "floor", "prof_floor_ir")
        ka_ir = value(samples, keyset, "mtlsd", "prof_ka_ir")
        if hs_ir and floor_ir:
            prof = dict(kv.split("=") for kv in
                        meta.get("profile_settings-" + keyset, "").split() if "=" in kv)
            w("Counted in instructions by callgrind instead (bench/profile.sh %s, once: "
              "%s full handshakes with `ab -c 1`, %s keep-alive requests over 8 "
              "connections; user space only, so it does not move with the machine's "
              "load): %s instructions per full handshake against %s for the floor's "
              "operations, **%s** the floor; %s instructions per keep-alive request."
              % (keyset, prof.get("handshakes", "?"), prof.get("keepalive_requests", "?"),
                 fmt(hs_ir), fmt(floor_ir), fmt_ratio(hs_ir / floor_ir),
                 fmt(ka_ir) if ka_ir else "–"))
            w("")
        mem_rows = [(srv, srv) for srv in servers] + [
            (srv, label) for srv, label in MEMORY_EXTRA if srv in samples[keyset]]
        mem_rows = [(srv, label) for srv, label in mem_rows
                    if "idle_rss_kb" in samples[keyset][srv]]
        if mem_rows:
            w("Where the idle RSS is (KiB, medians over the rounds; /proc/PID/smaps of "
              "a freshly started server, all its processes, summed per mapping):")
            w("")
            w("| idle | RSS | own binary | anonymous (heap, stack, anon) | "
              "own binary + anonymous | shared libraries | their PSS | other | "
              "largest shared libraries | RSS with %d idle connections |" % IDLE_CONNS)
            w("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
            for srv, label in mem_rows:
                libs = libraries(samples, keyset, srv)
                w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    label,
                    fmt(value(samples, keyset, srv, "idle_rss_kb")),
                    fmt(value(samples, keyset, srv, "idle_bin_kb")),
                    fmt(value(samples, keyset, srv, "idle_anon_kb")),
                    fmt(value(samples, keyset, srv, "idle_own_kb")),
                    fmt(value(samples, keyset, srv, "idle_lib_kb")),
                    fmt(value(samples, keyset, srv, "idle_lib_pss_kb")),
                    fmt(value(samples, keyset, srv, "idle_other_kb")),
                    ", ".join("%s %s" % (name, fmt(kb)) for name, kb in libs[:3]) or "none",
                    fmt(value(samples, keyset, srv, "rss_conns_kb"))))
            w("")
        many_rows = [srv for srv in servers if "many_rss_kb" in samples[keyset][srv]]
        if many_rows:
            w("Many idle authenticated connections held open at once (once, on fresh "
              "servers; bench/idle_clients.py --procs: each connection made one "
              "keep-alive request, then stayed idle)%s:" % (
                  "; " + meta["many_limited"] if meta.get("many_limited") else ""))
            w("")
            w("| server | connections | RSS idle (KiB) | RSS, all open (KiB) | "
              "RSS per idle connection (KiB) | a new client meanwhile, slowest of 5 (ms) | "
              "one more request on each: all answered in (s) | RSS just after (KiB) |")
            w("|---|---:|---:|---:|---:|---:|---:|---:|")
            for srv in many_rows:
                w("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    srv, fmt(v(keyset, srv, "many_conns")),
                    fmt(v(keyset, srv, "many_rss_idle_kb")), fmt(v(keyset, srv, "many_rss_kb")),
                    fmt(many_per_conn(samples, keyset, srv), 2), fmt(v(keyset, srv, "many_new_ms"), 1),
                    fmt(v(keyset, srv, "many_answer_s"), 2),
                    fmt(v(keyset, srv, "many_rss_after_kb"))))
            w("")

    # ---- targets ----
    w("## Targets")
    w("")
    w("The last column is computed from this run's numbers above (medians, ratios "
      "of the same round): where the measured cost or memory is.")
    w("")
    w("| target | key set | measured | met? | why not / measured explanation |")
    w("|---|---|---:|---|---|")

    def target(label, keyset, measured, ok, note="", why=""):
        w("| %s | %s | %s | %s%s | %s |" % (label, KEYSET_NAMES.get(keyset, keyset), measured,
                                            "yes" if ok else "**no**", note, why or "–"))

    def v(keyset, server, metric):
        return value(samples, keyset, server, metric)

    def split_vs_nginx(keyset, prefix, unit, digits):
        """'user U unit (R× nginx's user), sys S unit (R× nginx's sys)'."""
        u, t = v(keyset, "mtlsd", prefix + "_user_" + unit), v(keyset, "mtlsd", prefix + "_sys_" + unit)
        if u is None or t is None:
            return ""
        sym = "µs" if unit == "us" else unit
        return ("user %s %s (%s nginx's user), sys %s %s (%s nginx's sys)"
                % (fmt(u, digits), sym, fmt_ratio(ratio(samples, keyset, "mtlsd", prefix + "_user_" + unit)),
                   fmt(t, digits), sym, fmt_ratio(ratio(samples, keyset, "mtlsd", prefix + "_sys_" + unit))))

    for keyset in keysets:
        if "mtlsd" not in samples[keyset] or "nginx" not in samples[keyset]:
            continue
        r = ratio(samples, keyset, "mtlsd", "ka_cpu_us")
        if r is not None:
            why = []
            u, t, tot = (v(keyset, "mtlsd", "ka_user_us"), v(keyset, "mtlsd", "ka_sys_us"),
                         v(keyset, "mtlsd", "ka_cpu_us"))
            if u is not None and t is not None:
                why.append("user %s µs = %s nginx's user" % (
                    fmt(u, 2), fmt_ratio(ratio(samples, keyset, "mtlsd", "ka_user_us"))))
                why.append("kernel (sys) %s µs of %s µs = %s nginx's sys, so even with "
                           "no user CPU at all it would be %s nginx's user+sys" % (
                               fmt(t, 2), fmt(tot, 2),
                               fmt_ratio(ratio(samples, keyset, "mtlsd", "ka_sys_us")),
                               fmt_ratio(ratio(samples, keyset, "mtlsd", "ka_sys_us",
                                               "nginx", "ka_cpu_us"))))
            ir = v(keyset, "mtlsd", "prof_ka_ir")
            if ir:
                why.append("callgrind: %s instructions per request" % fmt(ir))
            target("keep-alive server CPU per request ≤ 0.4× nginx", keyset,
                   fmt_ratio(r), r <= 0.4, why=join(why))
        r = ratio(samples, keyset, "mtlsd", "full_cpu_us", "floor", "floor_total")
        if r is not None:
            why = []
            hs_ir, floor_ir = v(keyset, "mtlsd", "prof_hs_ir"), v(keyset, "floor", "prof_floor_ir")
            if hs_ir and floor_ir:
                why.append("instructions (callgrind) %s the floor's" % fmt_ratio(hs_ir / floor_ir))
            ru = ratio(samples, keyset, "mtlsd", "full_user_us", "floor", "floor_total")
            if ru is not None:
                why.append("user CPU %s the floor" % fmt_ratio(ru))
            t, tot = v(keyset, "mtlsd", "full_sys_us"), v(keyset, "mtlsd", "full_cpu_us")
            if t is not None and tot:
                why.append("sys %s µs per handshake (%.0f%% of its %s µs)" % (
                    fmt(t), 100 * t / tot, fmt(tot)))
            target("full-handshake server CPU ≤ 1.15× BearSSL's floor", keyset,
                   fmt_ratio(r), r <= 1.15, why=join(why))
        r = ratio(samples, keyset, "mtlsd", "resumed_cpu_us")
        share = value(samples, keyset, "mtlsd", "resumed_share")
        if r is not None:
            note = ""
            if share is not None and share < 1:
                note = " (no resumption yet: every connection was a full handshake)"
            target("resumed-handshake server CPU ≤ nginx", keyset, fmt_ratio(r), r <= 1.0, note,
                   why=split_vs_nginx(keyset, "resumed", "us", 0))
        r = ratio(samples, keyset, "mtlsd", "bulk_mbps")
        if r is not None:
            why = split_vs_nginx(keyset, "bulk", "ms", 0)
            target("bulk throughput ≥ 0.9× nginx", keyset, fmt_ratio(r), r >= 0.9,
                   why=("server CPU per 64 MiB %s nginx's: %s" % (
                       fmt_ratio(ratio(samples, keyset, "mtlsd", "bulk_cpu_ms")), why))
                   if why else "")
        rss = value(samples, keyset, "mtlsd", "rss_idle_kb")
        if rss is not None:
            why = []
            own, lib = v(keyset, "mtlsd", "idle_own_kb"), v(keyset, "mtlsd", "idle_lib_kb")
            if own is not None and lib is not None:
                part = "own binary + anonymous %s KiB, shared libraries %s KiB" % (fmt(own), fmt(lib))
                libs = libraries(samples, keyset, "mtlsd")
                if libs:
                    part += " (%s alone %s KiB)" % (libs[0][0], fmt(libs[0][1]))
                why.append(part)
            base = v(keyset, "sleep", "idle_rss_kb")
            if base is not None:
                libc = library(samples, keyset, "sleep", "libc.so.6")
                why.append("an idle `sleep` (glibc, dynamic) has %s KiB resident%s" % (
                    fmt(base), ", %s of them libc.so.6" % fmt(libc) if libc is not None else ""))
            musl = v(keyset, "mtlsd-musl", "rss_idle_kb")
            if musl is not None:
                why.append("MUSL=1 build: %s KiB" % fmt(musl))
            target("idle RSS ≤ 1 MiB", keyset, "%s KiB" % fmt(rss), rss <= 1024, why=join(why))
        r = ratio(samples, keyset, "mtlsd", "rss_conns_kb")
        if r is not None:
            rm = ratio(samples, keyset, "mtlsd-musl", "rss_conns_kb")
            target("RSS with %d idle connections ≤ 0.8× nginx" % IDLE_CONNS, keyset,
                   fmt_ratio(r), r <= 0.8,
                   why="MUSL=1 build: %s nginx" % fmt_ratio(rm) if rm is not None else "")
        per, n = many_per_conn(samples, keyset, "mtlsd"), v(keyset, "mtlsd", "many_conns")
        if per is not None:
            nper = many_per_conn(samples, keyset, "nginx")
            target("RSS per idle authenticated connection ≤ 8 KiB (%s open)" % fmt(n), keyset,
                   "%s KiB" % fmt(per, 2), per <= 8,
                   why="nginx: %s KiB" % fmt(nper, 2) if nper is not None else "")
            total = v(keyset, "mtlsd", "many_rss_kb")
            at10k = v(keyset, "mtlsd", "many_rss_idle_kb") + per * 10000
            target("10 000 idle connections in ≤ 100 MiB RSS", keyset,
                   "%s MiB" % fmt(at10k / 1024, 1), at10k <= 100 * 1024,
                   why=("measured with %s open: %s MiB; the figure is idle RSS + 10 000 × "
                        "the RSS per connection" % (fmt(n), fmt(total / 1024, 1)))
                   if n != 10000 else "")
            t = v(keyset, "mtlsd", "many_new_ms")
            target("a new client served in < 100 ms while they are open", keyset,
                   "%s ms" % fmt(t, 1), t is not None and t < 100)
    size = int(meta.get("size_mtlsd", "0"))
    size_musl = int(meta.get("size_mtlsd_musl", "0"))
    w("| stripped binary ≤ 256 KiB with BearSSL | – | %s KiB | %s | %s |"
      % (fmt(size / 1024, 1), "yes" if size <= 256 * 1024 else "**no**",
         "MUSL=1 build, static, musl inside: %s KiB" % fmt(size_musl / 1024, 1)
         if size_musl else "–"))
    w("")
    if os.path.exists(before_tsv) and os.path.exists(before_meta_path):
        bmeta, bsettings = load_meta(before_meta_path)
        before_idle = int(bsettings.get("idle_conns", "500"))
        # On a copy: a look-up in the defaultdicts adds the server it asks
        # for, and the chart below takes the servers present as measured.
        before_after(w, copy.deepcopy(samples), meta, load(before_tsv, before_idle), bmeta,
                     keysets, IDLE_CONNS, before_idle)
    else:
        w("## Before and after issue 17")
        w("")
        w("Not compared: no %s and %s." % (before_tsv, before_meta_path))
        w("")
    w("## Size")
    w("")
    w("| | on disk | links dynamically |")
    w("|---|---:|---|")
    w("| mtlsd (stripped, BearSSL inside) | %s KiB | %s |"
      % (fmt(size / 1024, 1), meta.get("links_mtlsd", "").strip()))
    if size_musl:
        w("| mtlsd, `make MUSL=1` (stripped, static: musl and BearSSL inside) | %s KiB | %s |"
          % (fmt(size_musl / 1024, 1), meta.get("links_mtlsd_musl", "").strip()))
    w("| nginx (Debian's, without its libraries) | %s KiB | %s |"
      % (fmt(int(meta.get("size_nginx", "0")) / 1024, 1), meta.get("links_nginx", "").strip()))
    w("| lighttpd + mod_openssl (Debian's) | %s KiB | %s |"
      % (fmt(int(meta.get("size_lighttpd", "0")) / 1024, 1),
         meta.get("links_lighttpd", "").strip()))
    w("")
    w("## How each number is taken")
    def measured(server, metric):
        return any(metric in samples[k].get(server, {}) for k in keysets)
    split = ""
    if any(measured(srv, "idle_bin_kb") for srv in samples_servers):
        split = (" The idle RSS is then split by mapping: bench/smaps.py sums Rss per "
                 "mapping path in /proc/PID/smaps (all the server's processes) into the "
                 "program's own executable (for lighttpd with its modules in "
                 "/usr/lib/lighttpd/), anonymous memory (heap, stacks, unnamed mappings, "
                 "shared anonymous memory), shared libraries (each file whose name has "
                 "`.so`; their PSS alongside) and the rest (other files, the kernel's vdso).")
    extras = []
    if measured("mtlsd-musl", "rss_idle_kb"):
        extras.append("mtlsd built with `make MUSL=1` (fully static against musl; idle and "
                      "with the connections)")
    if measured("sleep", "rss_idle_kb"):
        extras.append("an idle `sleep 60`, as a baseline for what a process linked "
                      "dynamically against glibc keeps resident")
    w("")
    w("- **full handshakes**: `ab -E client.pem -f TLS1.2 -Z CIPHER -c 4`, a new connection "
      "per request for `/small.html` (1 KiB); server CPU is the change in utime+stime "
      "(from /proc/PID/stat, all the server's processes) divided by the requests.")
    acct = meta.get("cpu_accounting", "")
    user_sys = measured("mtlsd", "full_user_us")
    if user_sys:
        w("- **user and sys**: every server CPU number is also given as its two parts, utime "
          "(user) and stime (sys, in the kernel), each divided the same way and each with its "
          "own ratio to nginx. The kernel counts the total exactly but splits it by sampling "
          "what the process is doing at each timer tick%s, and /proc reports both parts in "
          "1/%s s: a small part, such as the tens of µs of sys in a full handshake, rests on "
          "few samples and moves from round to round. Sys includes the kernel's processing of "
          "what the server sends over loopback up to the client's socket (done in the sender's "
          "context), so each side pays part of the other's receive path%s."
          % (" (this kernel: %s)" % acct if acct else "", meta.get("hz", "100"),
             "; without IRQ_TIME_ACCOUNTING, interrupts that arrive while the server runs "
             "count as its sys too" if acct and "IRQ_TIME_ACCOUNTING" not in acct else ""))
    w("- **resumed**: `openssl s_time -reuse -tls1_2 -cert -key -www /small.html`, one "
      "connection after the other; the rate is connections over wall time, and the share "
      "of connections that really resumed is counted from s_time's marks (`r`).")
    w("- **keep-alive**: `ab -k -c 8` for `/small.html`; the server CPU of the 8 "
      "handshakes (8 × that server's full-handshake CPU of the same round%s) is taken out "
      "before dividing by the requests." % (", user and sys each from its own part"
                                            if user_sys else ""))
    w("- **bulk**: `curl` fetches a 64 MiB file of random bytes; MB/s = 10^6 bytes per "
      "second of transfer after the handshake; server CPU per file alongside.")
    w("- **memory**: a freshly started server, after the start-up check (one verified "
      "request, one refused): VmRSS summed over its processes, then again with %d TLS "
      "connections that each completed one authenticated keep-alive request and then "
      "stayed idle (bench/idle_clients.py). PSS (proportional set size, shared pages "
      "divided among the processes that share them) is shown too because nginx's two "
      "processes share their libraries.%s%s"
      % (IDLE_CONNS, split, " Measured the same way in each round: " + " and ".join(extras)
         + "." if extras else ""))
    if measured("mtlsd", "many_rss_kb") or measured("nginx", "many_rss_kb"):
        w("- **many idle connections**: once, in the first key set, on fresh servers (nginx: "
          "one worker, worker_connections twice the count so that it does not close idle "
          "keep-alive connections to make room; both servers' keep-alive timeout 600 s): "
          "bench/idle_clients.py --procs 4 opens the connections (each one authenticated "
          "keep-alive request, then idle); 1 s later VmRSS, summed over the server's "
          "processes, less its idle VmRSS, divided by the count, is the RSS per idle "
          "connection; then 5 new clients one after the other (curl, time_total: connect, "
          "handshake, request, response), the slowest counted; then one more request on "
          "each open connection, all sent before any answer is read, and the seconds until "
          "the last answer. `BENCH_MANY` sets the count (10 000; 0 leaves it out); "
          "bench/run.sh raises the hard descriptor limit if it can (as root) and otherwise "
          "cuts the count down to what the limit allows mtlsd (a descriptor for each "
          "connection's socket, and enough for the open-file cache and for one in eight "
          "connections to have a file open) and nginx.")
    w("- **floor**: bench/floor times exactly the public-key operations one full "
      "handshake needs (server signature, the CA's signature on the client certificate, "
      "the client's CertificateVerify, ECDHE key share and shared secret on the curve "
      "negotiated) with the same keys and BearSSL's default implementations.")
    if measured("mtlsd", "prof_hs_ir"):
        w("- **instructions**: bench/profile.sh, once per key set after the rounds, runs "
          "mtlsd under callgrind and counts the instructions of `ab -c 1` full handshakes "
          "(each with one request) and of keep-alive requests over 8 open connections "
          "(bench/idle_clients.py), and bench/floor's operations once each; user space "
          "only, so the ratio does not move with the machine's load, and kernel time is "
          "not in it. `BENCH_PROFILE=0` leaves it out.")
    else:
        w("- **instructions**: not counted in this run (bench/profile.sh, callgrind: "
          "`BENCH_PROFILE=0`, or no valgrind).")
    w("")
    if os.path.exists(by_hand_path):
        w("## Measured by hand")
        w("")
        w("Not measured by `make bench`: measurements made by hand, kept in "
          "`bench/results-by-hand.md` and copied here verbatim by bench/report.py, so that "
          "each run keeps them. Their dates, builds and machine load are given with each.")
        w("")
        with open(by_hand_path) as f:
            w(f.read().rstrip("\n"))
        w("")
    with open(md_path, "w") as f:
        f.write("\n".join(out))

    # ---- chart data: two blocks, costs then rates; ratios to nginx ----
    cost_rows = [("full_cpu_us", "CPU per\\nfull handshake", None),
                 ("resumed_cpu_us", "CPU per\\nresumed conn", 1.0),
                 ("ka_cpu_us", "CPU per\\nkeep-alive req", 0.4),
                 ("bulk_cpu_ms", "CPU per\\n64 MiB", None),
                 ("rss_idle_kb", "RSS idle", None),
                 ("rss_conns_kb", "RSS with %d\\nidle conns" % IDLE_CONNS, 0.8)]
    rate_rows = [("full_rps", "full\\nhandshakes/s", None),
                 ("resumed_cps", "resumed\\nconns/s", None),
                 ("ka_rps", "keep-alive\\nreq/s", None),
                 ("bulk_mbps", "bulk MB/s", 0.9)]
    # Only the series this run measured: gnuplot refuses a column of NaN.
    colors = {("mtlsd", "rsa"): "#1f5fa8", ("mtlsd", "ec"): "#6fa8dc",
              ("lighttpd", "rsa"): "#c0504d", ("lighttpd", "ec"): "#e6a09e"}
    series = [(server, keyset) for server in ("mtlsd", "lighttpd") for keyset in keysets
              if server in samples[keyset] and "nginx" in samples[keyset]]
    with open(dat_path, "w") as f:
        for block in (cost_rows, rate_rows):
            f.write("label %s target\n" % " ".join(
                '"%s %s"' % (server, KEYSET_NAMES[keyset].split("-")[0].split()[0])
                for server, keyset in series))
            for metric, label, tgt in block:
                cols = []
                for server, keyset in series:
                    r = ratio(samples, keyset, server, metric)
                    cols.append("%.4f" % r if r else "NaN")
                f.write('"%s" %s %s\n' % (label, " ".join(cols),
                                           "%.2f" % tgt if tgt else "NaN"))
            f.write("\n\n")
    with open(dat_path + ".gp", "w") as f:
        f.write('series = %d\n' % len(series))
        f.write('mtlsd_series = %d\n' % sum(1 for s, _ in series if s == "mtlsd"))
        f.write('colors = "%s"\n' % " ".join(colors[s] for s in series))
        f.write('charttitle = "%s, %s cores, %s, %s"\n'
                % (meta.get("machine_cpu"), meta.get("machine_nproc"),
                   meta.get("machine_kernel"), meta.get("date")))


if __name__ == "__main__":
    main()
