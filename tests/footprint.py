#!/usr/bin/env python3
"""tests/footprint.py - what `make size` runs: mtlsd's footprint per target.

For the native target, musl, arm64 and armhf (TARGETS="native arm64" for
fewer): builds mtlsd from scratch, dynamic and fully static (musl: `make
MUSL=1`, the native machine, fully static only), and prints the
stripped sizes, size(1)'s text/data/bss, the bytes per connection slot
(the start-up banner), the BearSSL implementations in use, and the memory
of the static binary after start-up and with 16 and 256 idle
authenticated connections (each did a full handshake with a client
certificate and one GET, then stays open).

Memory under qemu-user is the emulator's process, so it is reported three
ways: the native binary's own RSS (the real thing, for the build machine's
architecture), the ARM guest's pages (qemu's resident pages that lie in the
guest's own mappings, found from qemu's `-d page` layout: what the program
itself touched, in 4 KiB pages), and the whole qemu process, emulator
included, which a real board would not pay.

Then issue 17's case, on each target in MANY_TARGETS (all four unless
set): MANY (10,000; 0 leaves it out) idle authenticated connections on
one mtlsd. mtlsd is asked for MANY + 2 slots (--keepalive-timeout and
--session-timeout 3600, so that none expires meanwhile); where the open
file limit makes it allocate fewer, as many as it allocated less two are
held, and its start-up warning is printed as the reason. This script
first raises its own open file limit, the hard one too where it may
(root), and passes it on. bench/idle_clients.py --resume holds them over
4 or more client processes: each does one full handshake with the client
certificate and resumes that session for its other connections (checked
resumed; each connection gets a 200 for its GET, so the resumed session
kept the client's identity); MANY_FULL=1 makes every one a full
handshake instead. Printed: RSS after start-up and with all of them open
(after 1 s: an idle connection gives its buffers back after 200 ms), RSS
per idle connection, a new client's time meanwhile (Python ssl, full
handshake with the client certificate and one GET: the slowest of 5),
that a client without a certificate still gets 400, the seconds until
one more request on each of them is answered, and whether the issue's
targets are met: MANY held, RSS at most 100 MiB, a new client in under
100 ms, all answered. Under qemu, RSS is the guest's pages (the qemu
process beside it), and the times are emulated ones, not a board's.
"""
import os
import re
import resource
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'bench'))
import idle_clients  # noqa: E402  (bench/idle_clients.py holds the many clients)

TARGETS = {
    # name: (CROSS prefix, emulator)
    'native': ('', None),
    'musl': ('', None),
    'arm64': ('aarch64-linux-gnu-', 'qemu-aarch64-static'),
    'armhf': ('arm-linux-gnueabihf-', 'qemu-arm-static'),
}
CONNS = (16, 256)
SMALL = 16            # the "smallest useful configuration": --max-conns 16
DEFAULT_SLOTS = 1024
# Issue 17's case: MANY idle connections (0 leaves it out) on MANY_TARGETS,
# and what it asks of them.
MANY = int(os.environ.get('MANY', '10000'))
MANY_TARGETS = os.environ.get('MANY_TARGETS', 'native musl arm64 armhf').split()
MANY_FULL = os.environ.get('MANY_FULL') == '1'  # full handshakes, not resumed ones
MANY_PROCS = 4        # client processes, at least
MANY_PROBES = 5       # new clients timed while they are open; the slowest counts
MAX_RSS_MIB = 100
MAX_NEW_MS = 100
CIPHER = 'ECDHE-RSA-AES128-GCM-SHA256'


def run(cmd, **kw):
    return subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kw).stdout


def kib(n):
    return '%d KiB' % round(n / 1024)


def build(name, cross):
    """Builds dynamic and static from scratch; returns their directories
    (musl: the static one only)."""
    if name == 'musl':
        d = 'build/musl'
        shutil.rmtree(os.path.join(ROOT, d), ignore_errors=True)
        run(['make', '-s', 'MUSL=1', d + '/mtlsd', d + '/unit'])
        return {True: d}
    dirs = {}
    for static in (False, True):
        if cross:
            d = 'build/%s%s' % (name, '-static' if static else '')
            args = ['CROSS=' + cross]
        else:
            d = 'build/native%s' % ('-static' if static else '')
            args = ['BUILDDIR=' + d]
        shutil.rmtree(os.path.join(ROOT, d), ignore_errors=True)
        if static:
            args.append('STATIC=1')
        run(['make', '-s'] + args + [d + '/mtlsd', d + '/unit'])
        dirs[static] = d
    return dirs


def tool(cross, name):
    return (cross + name) if cross else name


def stripped_size(cross, binary):
    with tempfile.TemporaryDirectory() as t:
        out = os.path.join(t, 'mtlsd')
        run([tool(cross, 'strip'), '-o', out, binary])
        return os.path.getsize(out)


def berkeley(cross, binary):
    """text, data, bss as size(1) counts them (text includes rodata)."""
    lines = run([tool(cross, 'size'), binary]).splitlines()
    text, data, bss = lines[1].split()[:3]
    return int(text), int(data), int(bss)


def prefix(emulator, log=None):
    if not emulator:
        return []
    return [emulator] + (['-d', 'page', '-D', log] if log else [])


def implementations(emulator, unit):
    out = run(prefix(emulator) + [unit, '--implementations'])
    m = re.search(r'BearSSL implementations: (.*)', out)
    return m.group(1) if m else '?'


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def smaps(pid):
    """[(start, end, rss_bytes, anon_bytes)] of a process."""
    out, cur = [], None
    with open('/proc/%d/smaps' % pid) as f:
        for line in f:
            m = re.match(r'^([0-9a-f]+)-([0-9a-f]+) ', line)
            if m:
                cur = [int(m.group(1), 16), int(m.group(2), 16), 0, 0]
                out.append(cur)
            elif line.startswith('Rss:'):
                cur[2] = int(line.split()[1]) * 1024
            elif line.startswith('Anonymous:'):
                cur[3] = int(line.split()[1]) * 1024
    return out


def guest_ranges(log):
    """Host address ranges of the guest's mappings, from qemu's -d page log:
    guest_base, then the last page layout printed (after the last mmap)."""
    with open(log) as f:
        text = f.read()
    base = int(re.findall(r'Locating guest address space @ (0x[0-9a-f]+)', text)[-1], 16)
    layout = text.rsplit('start ', 1)[1].splitlines()[1:]
    ranges = []
    for line in layout:
        m = re.match(r'^([0-9a-f]+)-([0-9a-f]+) +[0-9a-f]+ +(\S+)$', line.strip())
        if not m:
            break
        if m.group(3) != '---':
            ranges.append((base + int(m.group(1), 16), base + int(m.group(2), 16)))
    return ranges


def memory(pid, log):
    """(rss, anonymous) of the program itself, and the whole process's rss."""
    maps = smaps(pid)
    total = sum(m[2] for m in maps)
    if not log:
        return sum(m[2] for m in maps), sum(m[3] for m in maps), total
    guest = guest_ranges(log)
    inside = [m for m in maps if any(m[0] < e and s < m[1] for s, e in guest)]
    return sum(m[2] for m in inside), sum(m[3] for m in inside), total


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def idle_client(ctx, port):
    """A connection that did a full handshake with a client certificate and
    one GET, read to its end, and now stays open (keep-alive)."""
    raw = socket.create_connection(('127.0.0.1', port), timeout=60)
    s = ctx.wrap_socket(raw, server_hostname='server2')
    s.sendall(b'GET /index.html HTTP/1.1\r\nHost: server2\r\n\r\n')
    status = idle_clients.read_response(s)
    if status != 200:
        raise RuntimeError('expected 200, got %d' % status)
    return s


class Server:
    """mtlsd (under the emulator, if any) on a free port with `slots` slots
    and `extra` options, started and waited for; .banner is its start-up
    lines, .slots and .per_slot what it allocated, .log qemu's page log."""

    def __init__(self, emulator, binary, pki, www, slots, work, extra=()):
        self.log = os.path.join(work, 'qemu.log') if emulator else None
        self.port = free_port()
        self.err = open(os.path.join(work, 'server.err'), 'w+')
        cmd = prefix(emulator, self.log) + [
            binary, '-l', '127.0.0.1:%d' % self.port, '-r', www, '--access-log', 'off',
            '-c', pki + '/server2.crt', '-k', pki + '/server2.key', '-C', pki + '/ca.crt',
            '--max-conns', str(slots)] + list(extra)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=self.err, stdin=subprocess.DEVNULL,
                                     preexec_fn=raise_nofile)
        self.pid = self.proc.pid
        try:
            self.banner = self.wait_banner()
        except BaseException:
            self.stop()
            raise
        m = re.search(r'(\d+) connection slots x (\d+) bytes', self.banner)
        self.slots, self.per_slot = int(m.group(1)), int(m.group(2))

    def wait_banner(self):
        deadline = time.time() + 60
        while 'listening on' not in open(self.err.name).read():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError('server did not start: ' + open(self.err.name).read())
            time.sleep(0.05)
        return open(self.err.name).read()

    def memory(self):
        return memory(self.pid, self.log)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


def measure(emulator, binary, pki, www, slots, conns, work):
    """Starts the server with `slots` slots; returns the banner's bytes per
    slot and memory() after start-up and after each count in `conns`."""
    server = Server(emulator, binary, pki, www, slots, work)
    port = server.port
    clients = []
    try:
        if server.slots != slots:
            raise RuntimeError('slots lowered: ' + server.banner.strip())
        time.sleep(0.5)
        results = [('after start-up', server.memory())]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(pki + '/ca.crt')
        ctx.load_cert_chain(pki + '/server1.crt', pki + '/server1.key')
        ctx.check_hostname = False
        for n in conns:
            while len(clients) < n:
                clients.append(idle_client(ctx, port))
            time.sleep(0.5)
            results.append(('%d idle connections' % n, server.memory()))
        return server.per_slot, results
    finally:
        for c in clients:
            c.close()
        server.stop()


def raise_nofile_for(n):
    """Raises the open file limit, hard one included where that is allowed
    (root, as in CI), to what n connections need at both ends; else the soft
    limit to the hard one. mtlsd and the clients inherit it."""
    want = 2 * n + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return
        except (ValueError, OSError):
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY
                                                else max(soft, want), hard))


def lowered(server, asked):
    """mtlsd's own words when it allocated fewer slots than asked, or None."""
    if server.slots >= asked:
        return None
    m = re.search(r'^mtlsd: (--max-conns .*lowered.*)$', server.banner, re.M)
    return m.group(1) if m else 'no reason given: ' + server.banner.strip()


def new_client(pki, port, cert=True):
    """A new client: connection, full handshake (with the client certificate,
    or with none) and one GET. Returns the status and its milliseconds."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki + '/ca.crt')
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(pki + '/server1.crt', pki + '/server1.key')
    t0 = time.monotonic()
    with socket.create_connection(('127.0.0.1', port), timeout=60) as raw:
        with ctx.wrap_socket(raw, server_hostname='server2') as s:
            s.sendall(b'GET /index.html HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n')
            status = idle_clients.read_response(s)
    return status, (time.monotonic() - t0) * 1000.0


def expect(clients, word, timeout):
    """The next line from bench/idle_clients.py, which must start with word."""
    ready, _, _ = select.select([clients.stdout], [], [], timeout)
    line = clients.stdout.readline().split() if ready else []
    if not line or line[0] != word:
        raise RuntimeError('bench/idle_clients.py: expected "%s", got %r' % (word, line))
    return line


def tell(clients, line):
    clients.stdin.write(line + '\n')
    clients.stdin.flush()


def hold(port, pki, n):
    """bench/idle_clients.py holding n connections over several processes,
    each with one full handshake and then resumed sessions, and one more
    request on each when told; no process needs more descriptors than its
    soft limit."""
    each = max(1, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 64)
    procs = max(MANY_PROCS, (n + each - 1) // each)
    cmd = [sys.executable, os.path.join(ROOT, 'bench/idle_clients.py'), '--procs', str(procs)]
    if not MANY_FULL:
        cmd.append('--resume')
    cmd += ['127.0.0.1', str(port), pki + '/server1.crt', pki + '/server1.key', CIPHER,
            str(n), '/index.html', str(n)]
    return subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True), procs


def finish(clients):
    """Lets the client processes close their connections and end."""
    try:
        tell(clients, 'close')
        clients.stdin.close()
    except OSError:
        pass
    try:
        clients.wait(timeout=120)
    except subprocess.TimeoutExpired:
        clients.kill()
        clients.wait()


def measure_many(emulator, binary, pki, www, work):
    """MANY connections (or as many as the slots mtlsd could allocate, less
    two for the new clients) held idle: memory before and with them open, a
    new client's time meanwhile, then one more request on each."""
    server = Server(emulator, binary, pki, www, MANY + 2, work,
                    ('--keepalive-timeout', '3600', '--session-timeout', '3600'))
    clients = None
    try:
        r = {'asked': MANY + 2, 'slots': server.slots, 'reason': lowered(server, MANY + 2),
             'held': min(MANY, server.slots - 2)}
        time.sleep(1)
        r['idle'] = server.memory()
        t0 = time.monotonic()
        clients, r['procs'] = hold(server.port, pki, r['held'])
        expect(clients, 'ready', 1800)
        r['open_s'] = time.monotonic() - t0
        time.sleep(1)  # an idle connection gives its buffers back after 200 ms
        r['open'] = server.memory()
        probes = [new_client(pki, server.port) for _ in range(MANY_PROBES)]
        if any(status != 200 for status, _ in probes):
            raise RuntimeError('a new client with a certificate got %r' % (probes,))
        r['new_ms'] = max(ms for _, ms in probes)
        r['no_cert'] = new_client(pki, server.port, cert=False)[0]
        if r['no_cert'] != 400:
            raise RuntimeError('a client without a certificate got %d, not 400' % r['no_cert'])
        tell(clients, 'go')
        done = expect(clients, 'done', 1800)
        r['answered'], r['answer_s'] = int(done[1]), float(done[2])
        time.sleep(1)
        r['after'] = server.memory()
        return r
    finally:
        if clients:
            finish(clients)
        server.stop()


def verdict(ok):
    return 'met' if ok else 'NOT MET'


def report_many(emulator, r):
    """Prints measure_many()'s figures, then report_targets()."""
    held, (rss0, _, whole0), (rss, anon, whole) = r['held'], r['idle'], r['open']

    def qemu(n):
        return '; qemu process %s' % n if emulator else ''

    print('  %d idle connections: --max-conns %d asked, %d slots allocated' % (
        MANY, r['asked'], r['slots']))
    if r['reason']:
        print('    (mtlsd: %s)' % r['reason'])
    how = ('each connection a full handshake with the client certificate (MANY_FULL=1)'
           if MANY_FULL else 'each one full handshake with the client certificate, then'
           ' resumed sessions (each checked resumed)')
    print(textwrap.fill('%d held by %d client processes, %s, and one GET answered 200 on'
                        ' each; all open after %.1f s' % (held, r['procs'], how, r['open_s']),
                        width=88, initial_indent='    ', subsequent_indent='    '))
    print('    RSS after start-up       %s%s' % (kib(rss0), qemu(kib(whole0))))
    print('    %-24s %s (anonymous %s)%s' % (
        'RSS with %d open' % held, kib(rss), kib(anon), qemu(kib(whole))))
    print('    RSS per idle connection  %.1f KiB%s' % (
        (rss - rss0) / 1024.0 / held, qemu('%.1f KiB' % ((whole - whole0) / 1024.0 / held))))
    print('    a new client meanwhile   %.1f ms, the slowest of %d (full handshake with the'
          ' client' % (r['new_ms'], MANY_PROBES))
    print('                             certificate and one GET)')
    if emulator:
        print('                             under qemu\'s TCG emulation: not a board\'s time')
    print('    no client certificate    %d, as it must' % r['no_cert'])
    print('    one more request each    %d of %d answered in %.2f s%s' % (
        r['answered'], held, r['answer_s'], ' (emulated)' if emulator else ''))
    print('    RSS 1 s after that       %s (anonymous %s)%s' % (
        kib(r['after'][0]), kib(r['after'][1]), qemu(kib(r['after'][2]))))
    report_targets(emulator, r)


def report_targets(emulator, r):
    """Whether issue 17's targets are met (RSS: the larger of with them open
    and after their second request)."""
    held = r['held']
    rss, whole = max(r['open'][0], r['after'][0]), max(r['open'][2], r['after'][2])
    print('    issue 17\'s targets:      %d held: %s%s' % (
        MANY, verdict(held >= MANY), ' (%d: fewer slots, above)' % held if held < MANY else ''))
    print('                             RSS <= %d MiB: %s (%.1f MiB%s)' % (
        MAX_RSS_MIB, verdict(rss <= MAX_RSS_MIB << 20), rss / 1048576.0,
        ', the guest\'s pages; qemu process %.1f MiB' % (whole / 1048576.0) if emulator else ''))
    print('                             a new client < %d ms: %s (%.1f ms%s)' % (
        MAX_NEW_MS, verdict(r['new_ms'] < MAX_NEW_MS), r['new_ms'],
        ', emulated' if emulator else ''))
    print('                             all answered: %s' % verdict(r['answered'] == held))


def main():
    raise_nofile()
    if MANY:
        raise_nofile_for(MANY + 2)
    names = os.environ.get('TARGETS', 'native musl arm64 armhf').split()
    work = tempfile.mkdtemp(prefix='mtlsd-size.')
    try:
        pki = os.path.join(work, 'pki')
        run(['sh', 'tests/mkpki.sh', pki])
        www = os.path.join(ROOT, 'www')
        machine = run(['cc', '-dumpmachine']).strip().split('-')[0]
        print('mtlsd footprint: gcc -O2, stripped; BearSSL linked statically in both builds.')
        print('Memory: the fully static binary, RSA-2048 PKI (tests/mkpki.sh), --access-log off;')
        print('an idle connection did a full handshake with a client certificate and one GET.')
        print('RSS: the program\'s resident pages (native: the process; ARM: the guest\'s own')
        print('mappings inside qemu, 4 KiB pages); anonymous: the part not backed by the binary;')
        print('qemu process: the emulator included, which a real board does not pay.')
        for name in names:
            cross, emulator = TARGETS[name]
            label = '%s (%s)' % (name, machine) if name in ('native', 'musl') else name
            dirs = build(name, cross)
            static = dirs[True] + '/mtlsd'
            builds = [('static', static)]
            print()
            print('== %s%s' % (label, ', run under ' + emulator if emulator else ''))
            if False in dirs:
                dyn = dirs[False] + '/mtlsd'
                builds.insert(0, ('dynamic', dyn))
                print('  stripped binary:   dynamic libc %s (%d B), fully static %s (%d B)' % (
                    kib(stripped_size(cross, dyn)), stripped_size(cross, dyn),
                    kib(stripped_size(cross, static)), stripped_size(cross, static)))
            else:
                print('  stripped binary:   fully static %s (%d B)' % (
                    kib(stripped_size(cross, static)), stripped_size(cross, static)))
            for what, b in builds:
                t, d, z = berkeley(cross, b)
                print('  size(1), %-8s  text %d  data %d  bss %d' % (what + ':', t, d, z))
            print('  BearSSL:           %s' % implementations(emulator, dirs[True] + '/unit'))
            for slots, conns in ((DEFAULT_SLOTS, CONNS), (SMALL, (SMALL,))):
                per_slot, rows = measure(emulator, static, pki, www, slots, conns, work)
                print('  --max-conns %d: %d bytes per slot, %.1f MiB reserved' % (
                    slots, per_slot, per_slot * slots / 1048576.0))
                for what, (rss, anon, whole) in rows:
                    line = '    %-22s RSS %-9s (anonymous %s)' % (what, kib(rss), kib(anon))
                    if emulator:
                        line += '; qemu process %s' % kib(whole)
                    print(line)
            sys.stdout.flush()
            if MANY and name in MANY_TARGETS:
                report_many(emulator, measure_many(emulator, static, pki, www, work))
                sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
