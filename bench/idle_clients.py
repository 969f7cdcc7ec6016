#!/usr/bin/env python3
"""idle_clients.py - holds N authenticated, idle keep-alive connections open.

    idle_clients.py [--procs P] [--resume] HOST PORT CERT KEY CIPHER COUNT PATH [REQUESTS]

Opens COUNT TLS 1.2 connections one after the other, presenting CERT/KEY;
on each it sends one keep-alive GET for PATH and reads the whole 200
response, so the server has verified the client and answered it. Then it
prints "ready COUNT" and waits (at most 120 s) for a line on stdin before
closing them all. bench/run.sh reads the server's memory in between.

With REQUESTS, the line read after "ready" starts that many more requests
on the open connections (one on each, then the answers, like ab -k -c
COUNT), then it prints "done REQUESTS" and waits for another line before
closing: bench/profile.sh counts the server's instructions for just those.
Exits 1, with the reason on stderr, if any connection fails.

With --procs P, P processes share the COUNT connections (as evenly as
they can; each opens its part one after the other, all at once) so that
thousands can be opened in a reasonable time and no process needs more
than COUNT/P descriptors; this process speaks for them on stdin and
stdout as above, and "done" then also gives the seconds the last of the
REQUESTS took to be answered, counted from the line that started them:
"done REQUESTS SECONDS".

With --resume, each process does one full handshake and resumes that
TLS session (session ID) for all its other connections, which must then
really be resumed (exits 1 otherwise): thousands of connections open
quickly even where full handshakes are slow (under an emulator). A
resumed connection still has to get its 200.
"""
import os
import select
import socket
import ssl
import sys
import time

TIMEOUT = 10
HOLD_LIMIT = 120


def read_response(conn):
    """Reads one response's head and Content-Length body; returns the status."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(16384)
        if not chunk:
            raise OSError("connection closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(16384)
        if not chunk:
            raise OSError("connection closed inside the response body")
        body += chunk
    return status


def spread(args, procs, resume):
    """--procs: starts PROCS copies of this script, each for its share of
    the connections, and relays the lines."""
    count = int(args[5])
    requests = int(args[7]) if len(args) == 8 else 0
    children = []
    procs = max(1, min(procs, count, requests) if requests > 0 else min(procs, count))
    for i in range(procs):
        n = count // procs + (1 if i < count % procs else 0)
        r = requests // procs + (1 if i < requests % procs else 0)
        cmd = [sys.executable, os.path.abspath(__file__)] + (["--resume"] if resume else [])
        cmd += args[:5] + [str(n), args[6]]
        if requests > 0:
            cmd.append(str(r))
        rd_out, wr_out = os.pipe()
        rd_in, wr_in = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.dup2(rd_in, 0)
            os.dup2(wr_out, 1)
            for fd in (rd_out, wr_out, rd_in, wr_in):
                os.close(fd)
            os.execv(sys.executable, cmd)
        os.close(wr_out)
        os.close(rd_in)
        children.append((pid, os.fdopen(rd_out, "r"), os.fdopen(wr_in, "w")))

    def tell(line):
        for _, _, to in children:
            try:
                to.write(line + "\n")
                to.flush()
            except OSError:
                pass

    def collect(word):
        total = 0
        for _, frm, _ in children:
            line = frm.readline().split()
            if len(line) < 2 or line[0] != word:
                tell("close")
                print("idle_clients: a client process failed", file=sys.stderr)
                sys.exit(1)
            total += int(line[1])
        return total

    total = collect("ready")
    print("ready %d" % total, flush=True)
    select.select([sys.stdin], [], [], HOLD_LIMIT)
    if requests > 0:
        sys.stdin.readline()
        t0 = time.monotonic()
        tell("go")
        done = collect("done")
        print("done %d %.3f" % (done, time.monotonic() - t0), flush=True)
        select.select([sys.stdin], [], [], HOLD_LIMIT)
    tell("close")
    failed = 0
    for pid, _, _ in children:
        _, status = os.waitpid(pid, 0)
        failed |= status != 0
    sys.exit(1 if failed else 0)


def options(argv):
    """Splits the leading --procs P and --resume off the arguments."""
    procs, resume, args = 0, False, list(argv)
    while args and args[0] in ("--procs", "--resume"):
        if args.pop(0) == "--resume":
            resume = True
        elif args:
            procs = max(1, int(args.pop(0)))
    return procs, resume, args


def open_all(conns, ctx, host, port, count, request, resume):
    """Opens COUNT connections into CONNS, each answered once with 200;
    with resume, all but the first resume the first one's session."""
    session = None
    for i in range(count):
        raw = socket.create_connection((host, port), timeout=TIMEOUT)
        # As curl: a resumed handshake ends with the client's Finished, and
        # Nagle would hold the request behind it for the server's delayed ACK.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = ctx.wrap_socket(raw, server_hostname=host, session=session)
        conns.append(conn)
        if resume and session is None:
            session = conn.session
        elif resume and not conn.session_reused:
            raise OSError("connection %d: the session was not resumed" % (i + 1))
        conn.sendall(request)
        status = read_response(conn)
        if status != 200:
            raise OSError("connection %d: status %d" % (i + 1, status))


def main():
    procs, resume, args = options(sys.argv[1:])
    if procs:
        if len(args) not in (7, 8):
            sys.exit(__doc__)
        spread(args, procs, resume)
        return
    if len(args) not in (7, 8):
        sys.exit(__doc__)
    host, port, cert, key, cipher, count, path = args[:7]
    port, count = int(port), int(count)
    requests = int(args[7]) if len(args) == 8 else 0
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(cipher)
    ctx.load_cert_chain(cert, key)
    request = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: keep-alive\r\n\r\n"
               % (path, host)).encode()
    conns = []
    try:
        open_all(conns, ctx, host, port, count, request, resume)
    except (OSError, ValueError, IndexError) as e:
        print("idle_clients: after %d connections: %s" % (len(conns), e),
              file=sys.stderr)
        sys.exit(1)
    print("ready %d" % len(conns), flush=True)
    select.select([sys.stdin], [], [], HOLD_LIMIT)
    if requests > 0:
        sys.stdin.readline()
        for conn in conns:  # a slow (emulated) server answers thousands late
            conn.settimeout(HOLD_LIMIT)
        done = 0
        try:
            while done < requests:
                batch = conns[:min(len(conns), requests - done)]
                for conn in batch:
                    conn.sendall(request)
                for conn in batch:
                    if read_response(conn) != 200:
                        raise OSError("a request was not answered with 200")
                done += len(batch)
        except (OSError, ValueError, IndexError) as e:
            print("idle_clients: after %d requests: %s" % (done, e), file=sys.stderr)
            sys.exit(1)
        print("done %d" % done, flush=True)
        select.select([sys.stdin], [], [], HOLD_LIMIT)
    for conn in conns:
        conn.close()


if __name__ == "__main__":
    main()
