"""tests/probe.py - what integration.sh's Python probes share: a client
context with a certificate, a connection, one keep-alive answer read by its
Content-Length, the server's CPU time, and the "ok - " / "FAIL - " lines
the shell counts."""
import os
import socket
import ssl


def client_context(pki, cert='server1', tls12_only=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if tls12_only:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain('%s/%s.crt' % (pki, cert), '%s/%s.key' % (pki, cert))
    return ctx


def connect(ctx, port):
    return ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=20),
                           server_hostname='server2')


def get(s, path):
    s.sendall(b'GET ' + path + b' HTTP/1.1\r\nHost: server2\r\n\r\n')


def answer(s, buf=b''):
    """(status, body, bytes after it) of the response that buf starts."""
    while b'\r\n\r\n' not in buf:
        b = s.recv(65536)
        if not b:
            raise OSError('closed')
        buf += b
    head, _, rest = buf.partition(b'\r\n\r\n')
    n = [int(l.split(b':')[1]) for l in head.split(b'\r\n')
         if l.lower().startswith(b'content-length:')][0]
    while len(rest) < n:
        b = s.recv(1 << 20)
        if not b:
            raise OSError('closed after %d of %d bytes' % (len(rest), n))
        rest += b
    return int(head.split(b' ')[1]), rest[:n], rest[n:]


def server_cpu(pid):
    """utime + stime of the process, in seconds."""
    f = open('/proc/%s/stat' % pid).read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')


def check(name, good, detail=''):
    print(('ok - ' if good else 'FAIL - ') + name + ('' if good else ': ' + detail))
