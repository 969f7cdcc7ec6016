#!/usr/bin/env python3
"""tests/assault.py -- hostile clients against a running mtlsd on loopback.

    python3 tests/assault.py NAME PORT PKI [WWW]

Runs one assault (names below) while an authenticated client keeps asking
for /small.txt, and prints one line per check, "ok - ..." or "FAIL - ...",
in the format tests/lib.sh counts. Every assault is bounded in time and in
connections and stops by itself; traffic goes to 127.0.0.1 only.

The server is expected to run with the timeouts tests/robustness.sh gives it
(handshake 2 s, header 2 s, keep-alive 2 s, send 2 s, --max-conns 64); the
environment variables HS_TIMEOUT and SEND_TIMEOUT say otherwise. TF scales
the time limits (slow wrappers such as valgrind).
"""
import os
import select
import socket
import ssl
import struct
import sys
import threading
import time

TF = float(os.environ.get('TF', '1'))
HS_TIMEOUT = float(os.environ.get('HS_TIMEOUT', '2'))
SEND_TIMEOUT = float(os.environ.get('SEND_TIMEOUT', '2'))
PROMPT = 1.5 * TF          # seconds an authenticated request may take
PROXY = os.environ.get('PROXY') == '1'   # the server runs with --proxy-protocol
SMALL = b'small file for probes\n'

failures = 0


def label(name):
    return 'proxy: ' + name if PROXY and not name.startswith('proxy:') else name


def ok(name):
    print('ok - %s' % label(name), flush=True)


def fail(name, why):
    global failures
    failures += 1
    print('FAIL - %s: %s' % (label(name), ' '.join(str(why).split())[:400]), flush=True)


def check(name, cond, why=''):
    if cond:
        ok(name)
    else:
        fail(name, why)
    return cond


def context(pki, who='server1'):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki + '/ca.crt')
    ctx.check_hostname = False          # the reference certificates have no SAN
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if who:
        ctx.load_cert_chain(pki + '/%s.crt' % who, pki + '/%s.key' % who)
    return ctx


def connect(port, rcvbuf=None, timeout=5, proxy_header=True):
    """A TCP connection; with PROXY=1 (a server run with --proxy-protocol)
    it starts with a PROXY v1 header, as from a load balancer."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout * TF)
    s.connect(('127.0.0.1', port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if PROXY and proxy_header:
        s.sendall(b'PROXY TCP4 192.0.2.7 127.0.0.1 40000 %d\r\n' % port)
    return s


def reset(s):
    """Closes with a TCP reset instead of a FIN."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        s.close()
    except OSError:
        pass


def parse_head(data):
    """(status, headers dict, head length) of the first response, or None."""
    end = data.find(b'\r\n\r\n')
    if end < 0:
        return None
    lines = data[:end].split(b'\r\n')
    status = int(lines[0].split(b' ')[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b':')
        headers[k.strip().lower().decode()] = v.strip().decode()
    return status, headers, end + 4


def responses(data):
    """Splits a byte stream of responses to GETs: [(status, headers, body)]."""
    out = []
    while True:
        h = parse_head(data)
        if not h:
            return out, data
        status, headers, n = h
        cl = int(headers.get('content-length', '0'))
        if len(data) < n + cl:
            return out, data
        out.append((status, headers, data[n:n + cl]))
        data = data[n + cl:]


def read_all(t, limit=None):
    """Reads until EOF (clean or not); returns (bytes, how it ended)."""
    got = bytearray()
    try:
        while limit is None or len(got) < limit:
            b = t.recv(65536)
            if not b:
                return bytes(got), 'eof'
            got += b
        return bytes(got), 'limit'
    except socket.timeout:
        return bytes(got), 'timeout'
    except ssl.SSLEOFError:
        return bytes(got), 'eof-unclean'
    except (ConnectionResetError, BrokenPipeError):
        return bytes(got), 'reset'
    except (ssl.SSLError, OSError) as e:
        return bytes(got), 'error %s' % e


def get(port, pki, path='/small.txt', who='server1', timeout=5):
    """One authenticated request on a fresh connection: (status, body, seconds)."""
    t0 = time.monotonic()
    try:
        s = ssl_socket(port, pki, who, timeout)
        s.sendall(b'GET %s HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n'
                  % path.encode())
        data, _ = read_all(s)
        s.close()
    except (OSError, ssl.SSLError) as e:
        return None, str(e), time.monotonic() - t0
    r, _ = responses(data)
    if not r:
        return None, data[:80], time.monotonic() - t0
    return r[0][0], r[0][2], time.monotonic() - t0


def ssl_socket(port, pki, who='server1', timeout=5, rcvbuf=None):
    return context(pki, who).wrap_socket(connect(port, rcvbuf, timeout),
                                         server_hostname='server2')


class Prober:
    """Authenticated requests, one after another, in a thread."""

    def __init__(self, port, pki, pause=0.1):
        self.port, self.pki, self.pause = port, pki, pause
        self.results = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            self.results.append(get(self.port, self.pki))
            self.stop.wait(self.pause)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)

    def report(self, name, least=1):
        bad = [r for r in self.results if r[0] != 200 or r[1] != SMALL]
        worst = max((r[2] for r in self.results), default=0)
        if len(self.results) < least:
            fail(name, 'only %d requests completed' % len(self.results))
        elif bad:
            fail(name, '%d of %d requests failed, first: %r'
                 % (len(bad), len(self.results), bad[0][:2]))
        elif worst > PROMPT:
            fail(name, 'slowest of %d requests took %.2fs (limit %.1fs)'
                 % (len(self.results), worst, PROMPT))
        else:
            ok('%s (%d requests, slowest %.0f ms)'
               % (name, len(self.results), worst * 1000))


def closed_by_server(s, within):
    """Waits for EOF or a reset from the server; returns seconds or None."""
    t0 = time.monotonic()
    s.setblocking(False)
    while time.monotonic() - t0 < within:
        r, _, _ = select.select([s], [], [], 0.1)
        if not r:
            continue
        try:
            if not s.recv(65536):
                return time.monotonic() - t0
        except BlockingIOError:
            pass
        except OSError:
            return time.monotonic() - t0
    return None


class Bio:
    """A TLS client over MemoryBIOs, so the test decides how bytes move."""

    def __init__(self, sock, ctx):
        self.sock = sock
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname='server2')

    def client_hello(self):
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.out.read()

    def finish_handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            data = self.out.read()
            if data:
                self.sock.sendall(data)
            if done:
                return
            b = self.sock.recv(65536)
            if not b:
                raise ConnectionError('server closed during the handshake')
            self.inc.write(b)

    def request(self, raw):
        self.obj.write(raw)
        self.sock.sendall(self.out.read())

    def get_small(self):
        """Ends the handshake, GETs /small.txt with Connection: close: the
        responses, or one (None, {}, error) if the connection failed."""
        try:
            self.finish_handshake()
            self.request(b'GET /small.txt HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n')
            return responses(self.read_all())[0]
        except (OSError, ssl.SSLError) as e:
            return [(None, {}, str(e).encode())]

    def read_all(self):
        got = bytearray()
        while True:
            try:
                b = self.obj.read(65536)
                if not b:
                    return bytes(got)       # close_notify
                got += b
                continue
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return bytes(got)
            b = self.sock.recv(65536)
            if not b:
                return bytes(got)
            self.inc.write(b)


# ---- the assaults ----------------------------------------------------------

def a_junk(port, pki, www):
    """Random bytes instead of a ClientHello."""
    with Prober(port, pki) as p:
        for i in range(20):
            s = connect(port)
            junk = bytearray(os.urandom(4096))
            junk[0] = 0x47 + i % 8          # never a TLS record type
            s.sendall(junk)
            t = closed_by_server(s, 3 * TF)
            s.close()
            if t is None:
                fail('junk: random bytes -> connection closed', 'still open after 3 s')
                break
        else:
            ok('junk: 20 x 4 KiB of random bytes -> each connection closed')
    p.report('junk: authenticated client served meanwhile')


def flood(port, pki, chunk, seconds):
    """Two clients send CHUNK again and again while a Prober runs for
    SECONDS; returns the Prober and the bytes sent."""
    stop = threading.Event()
    sent = [0]

    def send():
        s = connect(port)
        try:
            while not stop.is_set():
                sent[0] += s.send(chunk)
        except OSError:
            pass
        reset(s)

    threads = [threading.Thread(target=send, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    with Prober(port, pki) as p:
        time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(10)
    return p, sent[0]


def a_junk_flood(port, pki, www):
    """Random bytes as fast as loopback takes them, after the handshake failed."""
    p, sent = flood(port, pki, os.urandom(65536), 3 * TF)
    p.report('junk flood: served while 2 clients stream random bytes (%d MiB sent)'
             % (sent >> 20))


def a_alert_flood(port, pki, www):
    """An endless stream of warning alerts, each a valid TLS record."""
    rec = b'\x15\x03\x03\x00\x02\x01\x5a' * 4096   # warning: user_canceled
    p, sent = flood(port, pki, rec, 2 * TF)
    p.report('alert flood: served while 2 clients stream TLS alert records (%d KiB sent)'
             % (sent >> 10))


def a_plain_http(port, pki, www):
    """Plain HTTP on the TLS port."""
    s = connect(port)
    s.sendall(b'GET / HTTP/1.1\r\nHost: server2\r\n\r\n')
    t0 = time.monotonic()
    data, how = read_all(s)
    s.close()
    check('plain HTTP: no HTTP answer, closed (%s after %.2fs, %d bytes)'
          % (how, time.monotonic() - t0, len(data)),
          how in ('eof', 'reset') and b'HTTP/' not in data and b'index' not in data,
          'ended by %s with %r' % (how, data[:60]))
    status, body, _ = get(port, pki)
    check('plain HTTP: authenticated client served afterwards', status == 200, body)


def a_slow_hello(port, pki, www):
    """A ClientHello sent one byte at a time, then a real request."""
    with Prober(port, pki) as p:
        s = connect(port)
        b = Bio(s, context(pki))
        hello = b.client_hello()
        t0 = time.monotonic()
        for i in range(len(hello)):
            s.sendall(hello[i:i + 1])
            time.sleep(0.002)
        spent = time.monotonic() - t0
        r = b.get_small()
        s.close()
        check('slow hello: %d-byte ClientHello in %d writes over %.1fs -> handshake, 200'
              % (len(hello), len(hello), spent),
              r and r[0][0] == 200 and r[0][2] == SMALL, r[:1])
    p.report('slow hello: others served meanwhile')


def a_stalled_handshake(port, pki, www):
    """Half a ClientHello, then silence: the handshake timeout ends it."""
    socks = []
    with Prober(port, pki) as p:
        for _ in range(10):
            s = connect(port)
            hello = Bio(s, context(pki)).client_hello()
            s.sendall(hello[:len(hello) // 2])
            socks.append(s)
        t0 = time.monotonic()
        times = [closed_by_server(s, HS_TIMEOUT + 3 * TF) for s in socks]
    for s in socks:
        s.close()
    late = [t for t in times if t is None]
    check('stalled handshake: 10 half ClientHellos closed by the %gs handshake timeout '
          '(after %.1fs)' % (HS_TIMEOUT, time.monotonic() - t0),
          not late and max(times) >= HS_TIMEOUT - 1.0,
          '%d never closed; times %s' % (len(late), times))
    p.report('stalled handshake: others served meanwhile')


def a_idle_flood(port, pki, www, count=300):
    """Hundreds of idle TCP connections, more than there are slots."""
    socks = []
    try:
        for _ in range(count):
            socks.append(connect(port))
    except OSError as e:
        fail('idle flood: open %d connections' % count, e)
    time.sleep(0.3)
    with Prober(port, pki) as p:
        time.sleep(1.0 * TF)
    p.report('idle flood: %d idle TCP connections, authenticated client served'
             % len(socks))
    # Connections keep coming while the slots are full: eviction must leave
    # room for an authenticated client every time.
    stop = threading.Event()
    opened = [0]

    def churn():
        mine = []
        while not stop.is_set():
            try:
                mine.append(connect(port))
                opened[0] += 1
            except OSError:
                time.sleep(0.01)
            if len(mine) > 200:
                mine.pop(0).close()
            time.sleep(0.002)
        for s in mine:
            s.close()

    t = threading.Thread(target=churn, daemon=True)
    t.start()
    with Prober(port, pki, pause=0.05) as p:
        time.sleep(2 * TF)
    stop.set()
    t.join(10)
    p.report('idle flood: %d more connections opened during the requests, still served'
             % opened[0])
    closed = sum(1 for s in socks if closed_by_server(s, 0.01) is not None)
    # Evicted ones are closed at once, the others at the handshake timeout.
    deadline = time.monotonic() + HS_TIMEOUT + 2 * TF
    left = [s for s in socks if closed_by_server(s, 0) is None]
    while left and time.monotonic() < deadline:
        left = [s for s in left if closed_by_server(s, 0.05) is None]
    for s in socks:
        s.close()
    check('idle flood: all %d idle connections closed by the server (%d at once)'
          % (len(socks), closed), not left, '%d still open' % len(left))


def churn_attackers(port, count, seconds, first=b''):
    """In a child process: `count` plain TCP connections that send `first`
    (nothing by default) and then nothing more, each reopened as soon as the
    server closes it (evicted, or timed out), for `seconds`. Returns the
    child's pid; it exits by itself."""
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        end = time.monotonic() + seconds
        poller = select.poll()
        socks = {}

        def open_one():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(1)
            try:
                s.connect(('127.0.0.1', port))
                if first:
                    s.send(first)
            except OSError:
                s.close()
                return False
            s.setblocking(False)
            socks[s.fileno()] = s
            poller.register(s, select.POLLIN)
            return True

        for _ in range(count):
            open_one()
        while time.monotonic() < end:
            for fd, _ in poller.poll(50):
                s = socks.pop(fd)
                poller.unregister(fd)
                s.close()
            while len(socks) < count and time.monotonic() < end:
                if not open_one():
                    time.sleep(0.001)
        for s in socks.values():
            s.close()
    except BaseException:
        code = 1
    os._exit(code)


def a_churn(port, pki, www, count=200):
    """More TCP connections than slots, each reconnected as soon as it is
    evicted: every new one evicts somebody. Authenticated clients, on fresh
    connections, must all be answered (issue 12: 0 to 2 of 10 were)."""
    for first, what in ((b'', 'silent'),
                        (b'\x16\x03\x01', 'a ClientHello begun')):
        pid = churn_attackers(port, count, 30 * TF, first)
        try:
            time.sleep(1.0)             # the slots are full, the churn running
            results = []
            for _ in range(10):
                results.append(get(port, pki, timeout=5))
                time.sleep(0.1)
        finally:
            try:
                os.kill(pid, 15)
            except OSError:
                pass
            os.waitpid(pid, 0)
        good = [r for r in results if r[0] == 200 and r[1] == SMALL]
        worst = max(r[2] for r in results)
        check('churn: %d connections (%s) reconnecting at once when evicted; '
              '%d of 10 authenticated requests answered (slowest %.0f ms)'
              % (count, what, len(good), worst * 1000), len(good) == 10,
              'first failure: %r' % ([r for r in results if r not in good][:1],))


def a_no_read(port, pki, www):
    """Asks for the 64 MiB file and never reads: the send timeout ends it."""
    with Prober(port, pki) as p:
        t = ssl_socket(port, pki, rcvbuf=16384)
        t.sendall(b'GET /big64.bin HTTP/1.1\r\nHost: server2\r\n\r\n')
        t0 = time.monotonic()
        time.sleep(SEND_TIMEOUT + 2 * TF)
    t.settimeout(5 * TF)
    data, how = read_all(t)
    t.close()
    check('no read: 64 MiB asked, never read -> closed by the send timeout '
          '(%s after %d KiB)' % (how, len(data) >> 10),
          how in ('eof', 'eof-unclean', 'reset') and len(data) < 64 << 20,
          'ended by %s after %d bytes, %.1fs' % (how, len(data), time.monotonic() - t0))
    p.report('no read: others served meanwhile')


def a_pipeline(port, pki, www):
    """A thousand pipelined requests in one write."""
    n = 1000
    reqs = b''.join(b'GET /small.txt HTTP/1.1\r\nHost: server2\r\n\r\n' for _ in range(n))
    with Prober(port, pki, pause=0.2) as p:
        t0 = time.monotonic()
        t = ssl_socket(port, pki, timeout=20)
        t.sendall(reqs)
        data, how = read_all(t)
        t.close()
        spent = time.monotonic() - t0
    r, rest = responses(data)
    good = sum(1 for x in r if x[0] == 200 and x[2] == SMALL)
    check('pipeline: %d requests in one %d-byte write -> %d answers in %.2fs'
          % (n, len(reqs), len(r), spent),
          good == n and not rest and how in ('eof', 'eof-unclean'),
          '%d good of %d answers, %d bytes left, ended by %s' % (good, len(r), len(rest), how))
    check('pipeline: the 1000th answer closes (--max-requests 1000)',
          r and r[-1][1].get('connection') == 'close', r[-1][1] if r else None)
    p.report('pipeline: others served meanwhile', least=1)


def a_reset_handshake(port, pki, www):
    """TCP resets in the middle of handshakes."""
    for _ in range(20):
        s = connect(port)
        hello = Bio(s, context(pki)).client_hello()
        s.sendall(hello[:50])
        reset(s)
    for _ in range(20):
        s = connect(port)
        s.sendall(Bio(s, context(pki)).client_hello())
        s.recv(100)                       # the server's flight has begun
        reset(s)
    status, body, spent = get(port, pki)
    check('reset mid-handshake: 40 resets (inside and after the ClientHello), '
          'then served in %.0f ms' % (spent * 1000), status == 200, body)


def a_reset_response(port, pki, www):
    """TCP resets in the middle of a 64 MiB response."""
    for _ in range(10):
        t = ssl_socket(port, pki)
        t.sendall(b'GET /big64.bin HTTP/1.1\r\nHost: server2\r\n\r\n')
        read_all(t, 256 << 10)
        reset(t)
    status, body, spent = get(port, pki)
    check('reset mid-response: 10 downloads reset after 256 KiB, then served in %.0f ms'
          % (spent * 1000), status == 200, body)


def a_half_close(port, pki, www):
    """Clients that half-close after their request."""
    for how in ('fin', 'close_notify'):
        t0 = time.monotonic()
        if how == 'fin':
            t = ssl_socket(port, pki)
            t.sendall(b'GET /small.txt HTTP/1.1\r\nHost: server2\r\n\r\n')
            t.shutdown(socket.SHUT_WR)      # TCP FIN, no close_notify
            data, end = read_all(t)
            t.close()
        else:
            s = connect(port)
            b = Bio(s, context(pki))
            b.finish_handshake()
            b.request(b'GET /small.txt HTTP/1.1\r\nHost: server2\r\n\r\n')
            try:
                b.obj.unwrap()
            except ssl.SSLWantReadError:
                pass
            s.sendall(b.out.read())
            s.shutdown(socket.SHUT_WR)
            try:
                data, end = b.read_all(), 'eof'
            except OSError as e:
                data, end = b'', str(e)
            s.close()
        r, _ = responses(data)
        spent = time.monotonic() - t0
        check('half-close (%s after the request): closed promptly (%s, %.2fs, %d answer)'
              % (how, end, spent, len(r)), spent < 2 * TF, 'took %.2fs' % spent)
    status, body, _ = get(port, pki)
    check('half-close: served afterwards', status == 200, body)


def a_file_change(port, pki, www):
    """Files truncated, grown, deleted and replaced while they are sent."""
    size = 32 << 20
    for change in ('truncate', 'grow', 'delete', 'replace'):
        path = os.path.join(www, 'change-%s.bin' % change)
        with open(path, 'wb') as f:
            f.truncate(size)
        t = ssl_socket(port, pki, rcvbuf=65536)
        t.sendall(b'GET /change-%s.bin HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n'
                  % change.encode())
        first, _ = read_all(t, 256 << 10)
        if change == 'truncate':
            os.truncate(path, 1 << 20)
        elif change == 'grow':
            with open(path, 'ab') as f:
                f.write(b'x' * (1 << 20))
        elif change == 'delete':
            os.unlink(path)
        else:
            with open(path + '.new', 'wb') as f:
                f.write(b'new')
            os.rename(path + '.new', path)
        rest, how = read_all(t)
        t.close()
        h = parse_head(first)
        body = len(first) + len(rest) - (h[2] if h else 0)
        cl = int(h[1].get('content-length', -1)) if h else -1
        if change == 'truncate':
            good = cl == size and body < size and how in ('eof', 'eof-unclean', 'reset')
            want = 'a short body, then the connection closed'
        else:
            good = cl == size and body == size and how in ('eof', 'eof-unclean')
            want = 'exactly the %d bytes announced' % size
        check('file %s while sent: %s (got %d, %s)' % (change, want, body, how),
              good, 'Content-Length %d, body %d, ended by %s' % (cl, body, how))
        if os.path.exists(path):
            os.unlink(path)
    status, body, _ = get(port, pki)
    check('file changes: served afterwards', status == 200, body)


def a_special_files(port, pki, www):
    """A fifo and a character device inside the root are never read."""
    for name in ('fifo', 'chardev'):
        if not os.path.exists(os.path.join(www, name)):
            print('skip - special files: no %s in the root' % name)
            continue
        status, body, spent = get(port, pki, '/' + name)
        check('special files: /%s -> 404 in %.0f ms' % (name, spent * 1000),
              status == 404 and spent < PROMPT, '%s %r' % (status, body[:60]))
    status, body, _ = get(port, pki)
    check('special files: served afterwards', status == 200, body)


def cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def fd_count(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def a_emfile(port, pki, www):
    """accept() failing with EMFILE: back off, keep the live connections."""
    import resource
    pid = int(os.environ['SERVER_PID'])
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    # Earlier assaults' connections may still be lingering (up to 2 s); one
    # closing after the limit is set would free a descriptor for one accept.
    deadline, stable_since = time.monotonic() + 8, time.monotonic()
    used = {int(f) for f in os.listdir('/proc/%d/fd' % pid)}
    while time.monotonic() < deadline and time.monotonic() - stable_since < 2.5:
        time.sleep(0.1)
        now_used = {int(f) for f in os.listdir('/proc/%d/fd' % pid)}
        if now_used != used:
            used, stable_since = now_used, time.monotonic()
    k = ssl_socket(port, pki)
    k.sendall(b'GET /small.txt HTTP/1.1\r\nHost: server2\r\n\r\n')
    first, _ = read_all_responses(k, 1)
    # No descriptor left: the next accept() fails with EMFILE.
    lowest_free = min(set(range(max(used) + 2)) - used)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free, hard))
    try:
        # The connection accepted before still gets answers (500: no
        # descriptor for the file either) and stays open.
        k.sendall(b'GET /small.txt HTTP/1.1\r\nHost: server2\r\n\r\n')
        during, _ = read_all_responses(k, 1)
        check('emfile: live keep-alive connection answered meanwhile (%s)'
              % (during[0][0] if during else None),
              during and during[0][0] in (200, 500), during)
        waiting, results = [], []

        def client():
            results.append(get(port, pki, timeout=15))

        for _ in range(5):
            t = threading.Thread(target=client, daemon=True)
            t.start()
            waiting.append(t)
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(2)
        cpu = cpu_seconds(pid) - cpu0
        check('emfile: accept failing for %.1fs costs %.2fs of CPU (no busy loop)'
              % (time.monotonic() - t0, cpu), cpu < 0.5, 'used %.2fs' % cpu)
        check('emfile: clients wait in the backlog, none served or dropped yet',
              not results, results[:1])
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    for t in waiting:
        t.join(20)
    good = [r for r in results if r[0] == 200 and r[1] == SMALL]
    check('emfile: limit restored -> the 5 waiting clients served (slowest %.1fs)'
          % max((r[2] for r in results), default=0), len(good) == 5, results)
    check('emfile: the live connection was answered before',
          first and first[0][0] == 200, first)
    k.close()


def read_all_responses(t, n):
    """Reads until n complete responses arrived (or EOF/timeout)."""
    data = b''
    while True:
        r, rest = responses(data)
        if len(r) >= n:
            return r, rest
        try:
            b = t.recv(65536)
        except (OSError, ssl.SSLError):
            b = b''
        if not b:
            return r, rest
        data += b


def a_shutdown(port, pki, www):
    """SIGTERM: stop accepting, close idle, finish what is in flight, exit.

    Both downloads have begun (their first bytes read) before the signal, so
    they are in flight whatever the machine's load; the one that must complete
    is then read at full speed, so it does not depend on the client being
    scheduled often enough to beat the grace period (it once slept 2 ms per
    record and copied its whole buffer at each, and lost on a loaded machine).
    """
    import signal
    pid = int(os.environ['SERVER_PID'])
    grace = float(os.environ.get('GRACE', '3'))
    size = os.path.getsize(os.path.join(www, 'big8.bin'))
    idle = ssl_socket(port, pki)
    idle.sendall(b'GET /small.txt HTTP/1.1\r\nHost: server2\r\n\r\n')
    read_all_responses(idle, 1)
    stalled = ssl_socket(port, pki, rcvbuf=16384)
    stalled.sendall(b'GET /big64.bin HTTP/1.1\r\nHost: server2\r\n\r\n')
    stalled.recv(1)          # its response has begun; never read again
    slow = ssl_socket(port, pki, rcvbuf=65536, timeout=grace + 5)
    slow.sendall(b'GET /big8.bin HTTP/1.1\r\nHost: server2\r\n\r\n')
    # The server holds at most its send buffer (4 MiB at most) and this
    # socket's 64 KiB: most of the 8 MiB is still to send at the signal.
    got = [bytearray(slow.recv(65536))]
    signalled = threading.Event()
    done = threading.Event()

    def reader():
        data = got[0]
        signalled.wait(grace + 5)
        try:
            while True:
                b = slow.recv(65536)
                if not b:
                    break
                data += b
        except (OSError, ssl.SSLError):
            pass
        done.set()

    exited = [None]

    def watcher():
        while time.monotonic() - t0 < grace + 5 * TF:
            try:
                with open('/proc/%d/stat' % pid) as f:
                    if f.read().rsplit(')', 1)[1].split()[0] == 'Z':
                        break
            except OSError:
                break
            time.sleep(0.02)
        exited[0] = time.monotonic() - t0

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    t0 = time.monotonic()
    w = threading.Thread(target=watcher, daemon=True)
    w.start()
    os.kill(pid, signal.SIGTERM)
    signalled.set()
    refused = None
    for _ in range(50):
        try:
            connect(port, timeout=1).close()
        except ConnectionRefusedError:
            refused = time.monotonic() - t0
            break
        except OSError:
            pass            # queued, then dropped as the listener closed; or slow
        time.sleep(0.02)
    check('shutdown: listener closed at SIGTERM (%.2fs)' % (refused or -1),
          refused is not None and refused < 1.0 * TF, 'still accepting after 1 s')
    gone = closed_by_server(idle, 1.0 * TF)
    check('shutdown: idle keep-alive connection closed at once',
          gone is not None, 'still open after 1 s')
    t.join(grace + 5)
    r, rest = responses(bytes(got[0]))
    check('shutdown: the download in flight completes (%d bytes after %.1fs)'
          % (len(r[0][2]) if r else 0, time.monotonic() - t0),
          r and r[0][0] == 200 and len(r[0][2]) == size,
          '%d responses, %d bytes read%s' % (len(r), len(got[0]),
                                             '' if done.is_set() else ', reader still running'))
    w.join(grace + 10 * TF)
    spent = exited[0]
    check('shutdown: exits when the grace period ends, though a client stalls '
          '(%.1fs, grace %gs)' % (spent or -1, grace),
          spent is not None and grace - 0.5 <= spent <= grace + 2 * TF, spent)
    for s in (idle, stalled, slow):
        s.close()


def a_mixed(port, pki, www):
    """A thousand requests of every kind, for the no-allocation test."""
    kinds = [
        (b'GET /small.txt', b'', 200), (b'GET /missing.txt', b'', 404),
        (b'GET /small.txt', b'Range: bytes=2-5\r\n', 206),
        (b'GET /small.txt', b'If-None-Match: *\r\n', 304),
        (b'GET /dir', b'', 301), (b'GET /dir/', b'', 403),
        (b'POST /small.txt', b'', 405), (b'GET /fifo', b'', 404),
        (b'GET /big8.bin', b'Range: bytes=0-99999\r\n', 206),
        (b'GET /small.txt?q=1', b'User-Agent: x\r\nReferer: y\r\n', 200),
    ]
    answered = wrong = 0
    for c in range(40):
        t = ssl_socket(port, pki, timeout=10)
        for i in range(24):
            line, extra, want = kinds[(c + i) % len(kinds)]
            t.sendall(line + b' HTTP/1.1\r\nHost: server2\r\n' + extra + b'\r\n')
            r, _ = read_all_responses(t, 1)
            answered += 1
            if not r or r[0][0] != want:
                wrong += 1
        t.close()
    one_shot = [
        (None, b'GET /small.txt HTTP/1.1\r\nHost: server2\r\n\r\n', 400, 20),
        ('other-client', b'GET /small.txt HTTP/1.1\r\nHost: server2\r\n\r\n', 400, 10),
        ('server1', b'GET /../x HTTP/1.1\r\nHost: server2\r\n\r\n', 400, 5),
        ('server1', b'GET / HTTP/1.1\r\n\r\n', 400, 5),
        ('server1', b'GET / HTTP/2.0\r\nHost: server2\r\n\r\n', 505, 5),
        ('server1', b'GET /' + b'a' * 9000 + b' HTTP/1.1\r\n\r\n', 414, 3),
        ('server1', b'GET / HTTP/1.1\r\nHost: server2\r\nX: ' + b'b' * 9000 + b'\r\n\r\n', 400, 2),
        ('server1', b'HEAD /small.txt HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n', 200, 5),
    ]
    for who, req, want, times in one_shot:
        for _ in range(times):
            try:
                t = context(pki, who).wrap_socket(connect(port), server_hostname='server2')
                t.sendall(req)
                data, _ = read_all(t)
                t.close()
                h = parse_head(data)
                status = h[0] if h else None
            except (OSError, ssl.SSLError) as e:
                status = str(e)
            answered += 1
            if status != want:
                wrong += 1
    # Abbreviated handshakes, where the server has a session cache.
    ctx = context(pki)
    session, resumed = None, 0
    for _ in range(20):
        try:
            t = ctx.wrap_socket(connect(port), server_hostname='server2', session=session)
            t.sendall(b'GET /small.txt HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n')
            data, _ = read_all(t)
            resumed += t.session_reused
            session = t.session
            t.close()
            h = parse_head(data)
            status = h[0] if h else None
        except (OSError, ssl.SSLError) as e:
            status = str(e)
        answered += 1
        if status != 200:
            wrong += 1
    for _ in range(5):                    # failed handshakes
        s = connect(port)
        s.sendall(os.urandom(300))
        closed_by_server(s, 3 * TF)
        s.close()
    check('mixed load: %d requests (keep-alive, full and %d resumed handshakes, '
          'errors, no certificate) answered as expected' % (answered, resumed),
          wrong == 0 and answered >= 1000, '%d of %d wrong' % (wrong, answered))


def a_proxy_junk(port, pki, www):
    """With --proxy-protocol: bad, slow and stalled PROXY headers."""
    with Prober(port, pki) as p:
        s = connect(port, proxy_header=False)
        s.sendall(os.urandom(200))
        t = closed_by_server(s, 3 * TF)
        s.close()
        check('proxy: random bytes instead of the PROXY header -> closed (%.2fs)'
              % (t if t is not None else -1), t is not None, 'still open after 3 s')
        s = connect(port, proxy_header=False)
        s.sendall(Bio(s, context(pki)).client_hello())
        t = closed_by_server(s, 3 * TF)
        s.close()
        check('proxy: a ClientHello without the PROXY header -> closed',
              t is not None, 'still open after 3 s')
        s = connect(port, proxy_header=False)
        t0 = time.monotonic()
        for b in b'PROXY TCP4 192.0.2.9 127.0.0.1 4000 443\r\n':
            s.sendall(bytes([b]))
            time.sleep(0.005)
        r = Bio(s, context(pki)).get_small()
        s.close()
        check('proxy: a PROXY header one byte at a time, then a request -> 200 (%.1fs)'
              % (time.monotonic() - t0), r and r[0][0] == 200, r[:1])
        socks = []
        for _ in range(10):
            s = connect(port, proxy_header=False)
            s.sendall(b'PROXY TCP4 192.0.2.')
            socks.append(s)
        times = [closed_by_server(s, HS_TIMEOUT + 3 * TF) for s in socks]
        for s in socks:
            s.close()
        check('proxy: 10 stalled PROXY headers closed by the handshake timeout',
              None not in times and max(times) >= HS_TIMEOUT - 1.0, times)
    p.report('proxy: others served meanwhile')


ASSAULTS = {
    'junk': a_junk, 'junk-flood': a_junk_flood, 'alert-flood': a_alert_flood,
    'plain-http': a_plain_http, 'slow-hello': a_slow_hello,
    'stalled-handshake': a_stalled_handshake, 'idle-flood': a_idle_flood,
    'churn': a_churn, 'no-read': a_no_read, 'pipeline': a_pipeline,
    'reset-handshake': a_reset_handshake, 'reset-response': a_reset_response,
    'half-close': a_half_close, 'file-change': a_file_change,
    'special-files': a_special_files, 'emfile': a_emfile,
    'shutdown': a_shutdown, 'mixed': a_mixed, 'proxy-junk': a_proxy_junk,
}

if __name__ == '__main__':
    if len(sys.argv) < 4 or sys.argv[1] not in ASSAULTS:
        sys.exit('usage: assault.py {%s} PORT PKI [WWW]' % ','.join(ASSAULTS))
    ASSAULTS[sys.argv[1]](int(sys.argv[2]), sys.argv[3],
                          sys.argv[4] if len(sys.argv) > 4 else '')
    sys.exit(1 if failures else 0)
