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
"""
import os
import re
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
    got = b''
    while b'\r\n\r\n' not in got:
        got += s.recv(4096)
    head, body = got.split(b'\r\n\r\n', 1)
    if not head.startswith(b'HTTP/1.1 200 '):
        raise RuntimeError('expected 200, got %r' % head[:40])
    length = int(re.search(rb'(?i)\r\ncontent-length: *(\d+)', head).group(1))
    while len(body) < length:
        body += s.recv(4096)
    return s


def measure(emulator, binary, pki, www, slots, conns, work):
    """Starts the server with `slots` slots; returns the banner's bytes per
    slot and memory() after start-up and after each count in `conns`."""
    log = os.path.join(work, 'qemu.log') if emulator else None
    port = free_port()
    err = open(os.path.join(work, 'server.err'), 'w+')
    cmd = prefix(emulator, log) + [
        binary, '-l', '127.0.0.1:%d' % port, '-r', www, '--access-log', 'off',
        '-c', pki + '/server2.crt', '-k', pki + '/server2.key', '-C', pki + '/ca.crt',
        '--max-conns', str(slots)]
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
                              stdin=subprocess.DEVNULL, preexec_fn=raise_nofile)
    clients = []
    try:
        deadline = time.time() + 60
        while 'listening on' not in open(err.name).read():
            if server.poll() is not None or time.time() > deadline:
                raise RuntimeError('server did not start: ' + open(err.name).read())
            time.sleep(0.05)
        banner = open(err.name).read()
        m = re.search(r'(\d+) connection slots x (\d+) bytes', banner)
        if int(m.group(1)) != slots:
            raise RuntimeError('slots lowered: ' + banner.strip())
        time.sleep(0.5)
        results = [('after start-up', memory(server.pid, log))]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(pki + '/ca.crt')
        ctx.load_cert_chain(pki + '/server1.crt', pki + '/server1.key')
        ctx.check_hostname = False
        for n in conns:
            while len(clients) < n:
                clients.append(idle_client(ctx, port))
            time.sleep(0.5)
            results.append(('%d idle connections' % n, memory(server.pid, log)))
        return int(m.group(2)), results
    finally:
        for c in clients:
            c.close()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        err.close()


def main():
    raise_nofile()
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
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
