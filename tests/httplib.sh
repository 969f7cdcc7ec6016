# shellcheck shell=bash
# tests/httplib.sh -- what tests/http.sh and tests/differential.sh share:
# the document root both servers get, the table of raw requests, and a
# Python client that runs the table over TLS with a client certificate.
# Sourced after tests/lib.sh (it uses TMPD and TF).
#
# The table (http_cases) has one row per line:
#
#   NAME | STATUSES | CONN | CHECKS | REQUEST
#
# REQUEST  raw bytes with Python escapes (\r \n \t \x00 \\); {N*TEXT} repeats
#          TEXT N times ({0*x} is nothing).  It is sent in one write,
#          followed by the probe request (GET /probe.txt, Connection:
#          close; HEAD when REQUEST starts with HEAD) unless CONN is silent
#          or idle, and the client reads to EOF, at most 5 s (times TF).
# STATUSES the statuses expected for REQUEST, in order; N*S is S N times
#          ("-" for none).
# CONN     keep: the last of them says "Connection: keep-alive" and the
#          probe is answered, then EOF; close: it says "Connection: close",
#          nothing else follows, EOF; silent: no byte at all, then EOF;
#          idle: no probe is sent; those statuses, the last saying
#          keep-alive, then EOF (the server's idle timeout).  Every
#          answer before the last says keep-alive.
# CHECKS   "; "-separated, on the first response (prefix "N:" for the Nth):
#            H:Name=VALUE  H:Name~REGEX  H:Name!  (absent)
#            HDRS=A,B,...  the header names, in order
#            B=@FILE  B=@FILE[A:B]  (the file under the root, or a slice)
#            B=page  B=page:DETAIL  (nginx's error page shape, our token)
#            B#N (body length)  B~REGEX
#            T<SECONDS  T>SECONDS  (the whole exchange, connect to EOF)
#
# Checked on every answer, whatever the row says: "HTTP/1.1 CODE REASON"
# with nginx's reason, CRLF line ends, Server first and Date second, an
# error page that is exactly nginx's page for the status (headers only for
# HEAD) with a Content-Length that matches it, a 200/206 body as long as
# its Content-Length, and never the secret planted outside the root nor
# /etc/passwd.

# http_types -- "EXTENSION TYPE" for every type mtlsd knows (nginx 1.22's
# mime.types, and mjs ttf gz tar), and some it does not
http_types() {
	cat <<'TYPES'
html text/html
htm text/html
shtml text/html
css text/css
xml text/xml
gif image/gif
jpeg image/jpeg
jpg image/jpeg
js application/javascript
atom application/atom+xml
rss application/rss+xml
mml text/mathml
txt text/plain
jad text/vnd.sun.j2me.app-descriptor
wml text/vnd.wap.wml
htc text/x-component
avif image/avif
png image/png
svg image/svg+xml
svgz image/svg+xml
tif image/tiff
tiff image/tiff
wbmp image/vnd.wap.wbmp
webp image/webp
ico image/x-icon
jng image/x-jng
bmp image/x-ms-bmp
woff font/woff
woff2 font/woff2
jar application/java-archive
war application/java-archive
ear application/java-archive
json application/json
hqx application/mac-binhex40
doc application/msword
pdf application/pdf
ps application/postscript
eps application/postscript
ai application/postscript
rtf application/rtf
m3u8 application/vnd.apple.mpegurl
kml application/vnd.google-earth.kml+xml
kmz application/vnd.google-earth.kmz
xls application/vnd.ms-excel
eot application/vnd.ms-fontobject
ppt application/vnd.ms-powerpoint
odg application/vnd.oasis.opendocument.graphics
odp application/vnd.oasis.opendocument.presentation
ods application/vnd.oasis.opendocument.spreadsheet
odt application/vnd.oasis.opendocument.text
pptx application/vnd.openxmlformats-officedocument.presentationml.presentation
xlsx application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
docx application/vnd.openxmlformats-officedocument.wordprocessingml.document
wmlc application/vnd.wap.wmlc
wasm application/wasm
7z application/x-7z-compressed
cco application/x-cocoa
jardiff application/x-java-archive-diff
jnlp application/x-java-jnlp-file
run application/x-makeself
pl application/x-perl
pm application/x-perl
prc application/x-pilot
pdb application/x-pilot
rar application/x-rar-compressed
rpm application/x-redhat-package-manager
sea application/x-sea
swf application/x-shockwave-flash
sit application/x-stuffit
tcl application/x-tcl
tk application/x-tcl
der application/x-x509-ca-cert
pem application/x-x509-ca-cert
crt application/x-x509-ca-cert
xpi application/x-xpinstall
xhtml application/xhtml+xml
xspf application/xspf+xml
zip application/zip
mid audio/midi
midi audio/midi
kar audio/midi
mp3 audio/mpeg
ogg audio/ogg
m4a audio/x-m4a
ra audio/x-realaudio
3gpp video/3gpp
3gp video/3gpp
ts video/mp2t
mp4 video/mp4
mpeg video/mpeg
mpg video/mpeg
mov video/quicktime
webm video/webm
flv video/x-flv
m4v video/x-m4v
mng video/x-mng
asx video/x-ms-asf
asf video/x-ms-asf
wmv video/x-ms-wmv
avi video/x-msvideo
mjs application/javascript
ttf font/ttf
gz application/gzip
tar application/x-tar
bin application/octet-stream
exe application/octet-stream
iso application/octet-stream
xyz application/octet-stream
csv application/octet-stream
md application/octet-stream
wav application/octet-stream
otf application/octet-stream
map application/octet-stream
tgz application/octet-stream
TYPES
}

# http_fixtures WWW -- the document root; secrets go next to it, outside
http_fixtures() {
	local w=$1 out
	out=$(dirname "$w")/outside
	mkdir -p "$w/sub" "$w/noindex" "$w/a b" "$w/idx-dir/index.html" "$out"
	HTTP_SECRET="secret-$$-$RANDOM-outside-the-root"
	echo "$HTTP_SECRET" >"$out/secret.txt"
	echo "$HTTP_SECRET" >"$(dirname "$w")/secret.txt"
	printf '<!doctype html>\n<html><head><title>mtlsd test</title></head>\n<body><p>index page</p></body></html>\n' >"$w/index.html"
	touch -d '2024-01-02 03:04:05 UTC' "$w/index.html"
	printf 'plain text notes\n' >"$w/notes.txt"
	printf 'probe\n' >"$w/probe.txt"
	printf '<p>sub index</p>\n' >"$w/sub/index.html"
	printf 'inside noindex\n' >"$w/noindex/file.txt"
	printf 'in a spaced dir\n' >"$w/a b/index.html"
	printf 'spaced name\n' >"$w/a b.txt"
	local e t
	while read -r e t; do
		printf 'type %s\n' "$e" >"$w/t.$e"
	done < <(http_types)
	printf 'upper case\n' >"$w/T.HTML"
	printf 'only an extension\n' >"$w/.txt"
	printf 'dot first\n' >"$w/.a.txt"
	printf 'no extension\n' >"$w/README"
	head -c 100000 /dev/urandom >"$w/big.bin"
	touch -d '2025-05-06 07:08:09 UTC' "$w/big.bin"
	: >"$w/empty.txt"
	# symbolic links: two that leave the root, three that stay, a loop
	ln -s ../secret.txt "$w/link-out"
	ln -s /etc/passwd "$w/link-abs"
	ln -s "$out" "$w/link-dir-out"
	ln -s notes.txt "$w/link-in"
	ln -s sub "$w/link-dir-in"
	ln -s ../notes.txt "$w/sub/link-up"
	ln -s loop-b "$w/loop-a"
	ln -s loop-a "$w/loop-b"
	# files that are not regular files
	mkfifo "$w/fifo"
	mknod "$w/null" c 1 3 2>/dev/null || ln -s /dev/null "$w/null"
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$w/sock"
	# more than 4 GiB, sparse, with a marker in its last 16 bytes
	truncate -s 5G "$w/huge.bin"
	printf 'END-OF-5GiB-FILE' | dd of="$w/huge.bin" bs=1 seek=$((5 * 1024 * 1024 * 1024 - 16)) \
		conv=notrunc status=none
	touch -d '2025-05-06 07:08:09 UTC' "$w/huge.bin"
}

# http_run MODE PORT TABLE [OUT] -- MODE expect: check every row, print
# "ok - ..." / "FAIL - ..." lines (all rows at once, each on its own
# connection, when HTTP_PARALLEL=1: for rows that wait on timers); MODE
# collect: write a JSON summary of the answers to OUT, for http_compare
# (waiting 2 s, not 5, for an EOF: nginx keeps some connections open for
# its 5 s lingering close).
http_run() {
	python3 "$TMPD/httpt.py" "$1" --port "$2" --table "$3" --pki "$PKI" \
		--www "$WWW" --secret "$HTTP_SECRET" ${4:+--out "$4" --timeout 2} \
		${HTTP_PARALLEL:+--parallel}
}

# http_compare TABLE NGINX.json MTLSD.json INTENDED -- ok/FAIL lines
http_compare() {
	python3 "$TMPD/httpt.py" compare --table "$1" --nginx "$2" --mtlsd "$3" --intended "$4"
}

# report_lines -- turns the Python's "ok - X" / "FAIL - X: why" lines into
# lib.sh's ok/fail (so they are counted), passing other lines through
report_lines() {
	local line
	while IFS= read -r line; do
		case $line in
		'ok - '*) ok "${line#ok - }" ;;
		'FAIL - '*': '*) line=${line#FAIL - }; fail "${line%%: *}" "${line#*: }" ;;
		'FAIL - '*) fail "${line#FAIL - }" ;;
		*) echo "$line" ;;
		esac
	done
}

cat >"$TMPD/httpt.py" <<'EOF'
import argparse, codecs, fnmatch, hashlib, json, os, re, socket, ssl, sys, time

TOKEN = 'mtlsd/0.1.0'
REASONS = {
    100: 'Continue', 200: 'OK', 206: 'Partial Content', 301: 'Moved Permanently',
    304: 'Not Modified', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found',
    405: 'Not Allowed', 408: 'Request Time-out', 412: 'Precondition Failed',
    413: 'Request Entity Too Large', 414: 'Request-URI Too Large',
    416: 'Requested Range Not Satisfiable', 500: 'Internal Server Error',
    501: 'Not Implemented', 505: 'HTTP Version Not Supported',
}
DETAILS = ['No required SSL certificate was sent', 'The SSL certificate error',
           'Request Header Or Cookie Too Large']
TF = float(os.environ.get('TF', '1'))


def page(status, detail=None, token=TOKEN):
    reason = REASONS[status]
    title = '%d %s' % (status, detail or reason)
    s = '<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n' % title
    s += '<center><h1>%d %s</h1></center>\r\n' % (status, reason)
    if detail:
        s += '<center>%s</center>\r\n' % detail
    s += '<hr><center>%s</center>\r\n</body>\r\n</html>\r\n' % token
    return s.encode()


def has_page(status):
    return status >= 300 and status != 304


class Row:
    def __init__(self, line):
        f = [x.strip() for x in line.split(' | ', 4)]
        if len(f) != 5:
            raise SystemExit('bad table row: ' + line)
        self.name, statuses, self.conn, checks, request = f
        if self.conn not in ('keep', 'close', 'silent', 'idle'):
            raise SystemExit('bad CONN in table row: ' + line)
        self.statuses = []
        for s in statuses.split():
            if s == '-':
                continue
            n, _, code = s.rpartition('*')
            self.statuses += [int(code)] * int(n or 1)
        self.checks = [c.strip() for c in checks.split(';') if c.strip() and c.strip() != '-']
        while True:     # {N*TEXT}, innermost first
            done = re.sub(r'\{(\d+)\*([^{}]*)\}', lambda m: m.group(2) * int(m.group(1)), request)
            if done == request:
                break
            request = done
        self.request = codecs.escape_decode(request.encode('latin-1'))[0]
        self.head = self.request.startswith(b'HEAD ')
        self.probe = b'%s /probe.txt HTTP/1.1\r\nHost: server2\r\nConnection: close\r\n\r\n' % (
            b'HEAD' if self.head else b'GET')


def read_table(path):
    rows = []
    for line in open(path, encoding='latin-1'):
        line = line.rstrip('\n')
        if line.strip() and not line.lstrip().startswith('#'):
            rows.append(Row(line))
    return rows


def exchange(a, data, timeout):
    """One connection: send data in one write, read to EOF. Like tls_raw."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(a.pki + '/ca.crt')
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.pki + '/server1.crt', a.pki + '/server1.key')
    got, rc, err = b'', 0, ''
    start = time.monotonic()
    try:
        raw = socket.create_connection(('127.0.0.1', a.port), timeout=timeout)
        s = ctx.wrap_socket(raw, server_hostname='server2')
        if data:
            s.sendall(data)
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        s.close()
    except socket.timeout:
        rc, err = 2, 'no EOF within %gs' % timeout
    except (ssl.SSLError, OSError) as e:
        if not (got and isinstance(e, (ssl.SSLEOFError, ConnectionResetError))):
            rc, err = 1, str(e)
    return got, rc, err, time.monotonic() - start


class Response:
    pass


def parse(data, head):
    """Splits a byte stream into responses; returns (responses, rest)."""
    out = []
    while data.startswith(b'HTTP/'):
        end = data.find(b'\r\n\r\n')
        lf = data.find(b'\n\n')
        if end < 0 or (0 <= lf < end):
            break
        lines = data[:end].split(b'\r\n')
        r = Response()
        r.bare_lf = any(b'\n' in l or b'\r' in l for l in lines)
        parts = lines[0].decode('latin-1').split(' ', 2)
        r.version = parts[0]
        r.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        r.reason = parts[2] if len(parts) > 2 else ''
        r.headers = []
        for l in lines[1:]:
            k, _, v = l.decode('latin-1').partition(':')
            r.headers.append((k, v.strip()))
        cl = r.get('content-length')
        n = 0 if head or r.status in (100, 304) or cl is None else int(cl)
        r.body = data[end + 4:end + 4 + n]
        r.truncated = len(r.body) < n
        data = data[end + 4 + n:]
        out.append(r)
        if r.truncated:
            break
    return out, data


def _get(self, name):
    for k, v in self.headers:
        if k.lower() == name.lower():
            return v
    return None


Response.get = _get


def file_bytes(www, spec):
    m = re.match(r'^(.*?)(?:\[(\d+):(\d+)\])?$', spec)
    with open(os.path.join(www, m.group(1)), 'rb') as f:
        if m.group(2) is None:
            return f.read()
        f.seek(int(m.group(2)))
        return f.read(int(m.group(3)) - int(m.group(2)))


def run_row(a, row):
    data = row.request + (b'' if row.conn in ('silent', 'idle') else row.probe)
    got, rc, err, elapsed = exchange(a, data, a.timeout * TF)
    resps, rest = parse(got, row.head)
    return got, rc, err, elapsed, resps, rest


def short(b, n=160):
    return repr(b[:n])[2:-1]


def expect(a):
    rows = read_table(a.table)
    if a.parallel:
        # rows that mostly wait for the server's timers
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(len(rows)) as ex:
            results = list(ex.map(lambda row: run_row(a, row), rows))
    for i, row in enumerate(rows):
        got, rc, err, elapsed, resps, rest = results[i] if a.parallel else run_row(a, row)
        why = check_row(a, row, got, rc, err, elapsed, resps, rest)
        if why:
            print('FAIL - %s: %s' % (row.name, '; '.join(why)))
        else:
            print('ok - %s' % row.name)
        sys.stdout.flush()


def check_row(a, row, got, rc, err, elapsed, resps, rest):
    why = []
    statuses = [r.status for r in resps]
    want = list(row.statuses)
    if row.conn == 'keep':
        want.append(200)
    if row.conn == 'silent':
        if got:
            why.append('expected no byte, got %s' % short(got))
    elif row.conn == 'idle':
        if statuses != want:
            why.append('statuses %s, expected %s then a close' % (statuses, want))
    elif statuses != want:
        s = ' '.join(map(str, statuses)) if len(statuses) < 12 else '%d answers' % len(statuses)
        w = ' '.join(map(str, want)) if len(want) < 12 else '%d answers' % len(want)
        why.append('statuses [%s], expected [%s]' % (s, w))
    if rc != 0:
        why.append('connection: ' + err)
    if rest:
        why.append('%d bytes after the last answer: %s' % (len(rest), short(rest)))
    own = [r for r in resps[:len(row.statuses)] if r.status >= 200]
    if row.conn != 'silent' and own:
        for r in own[:-1]:
            if r.get('connection') != 'keep-alive':
                why.append('an answer before the last says Connection: %s' % r.get('connection'))
                break
        want_conn = 'close' if row.conn == 'close' else 'keep-alive'
        if own[-1].get('connection') != want_conn:
            why.append('Connection: %s, expected %s' % (own[-1].get('connection'), want_conn))
    for i, r in enumerate(resps):
        why += invariants(r, row.head, i + 1)
    for secret in (a.secret.encode(), b'root:x:0:0'):
        if secret in got:
            why.append('the answer holds %r' % secret)
    for c in row.checks:
        m = re.match(r'^(\d+):(.*)$', c)
        idx, c = (int(m.group(1)) - 1, m.group(2)) if m else (0, c)
        if c.startswith('T<'):
            if elapsed >= float(c[2:]) * TF:
                why.append('took %.2fs, expected under %ss' % (elapsed, c[2:]))
            continue
        if c.startswith('T>'):
            if elapsed <= float(c[2:]):
                why.append('took %.2fs, expected over %ss' % (elapsed, c[2:]))
            continue
        if idx >= len(resps):
            why.append('%s: no answer %d' % (c, idx + 1))
            continue
        e = check(a, resps[idx], c)
        if e:
            why.append(e)
    return why


def invariants(r, head, n):
    why = []
    p = 'answer %d: ' % n
    if r.version != 'HTTP/1.1' or REASONS.get(r.status) != r.reason:
        why.append(p + 'status line %s %d %s' % (r.version, r.status, r.reason))
    if r.bare_lf:
        why.append(p + 'a header line is not CRLF-terminated')
    if r.truncated:
        why.append(p + 'body shorter than its Content-Length (%d)' % len(r.body))
    if r.status == 100:
        return why
    names = [k for k, _ in r.headers]
    if names[:2] != ['Server', 'Date'] or r.get('server') != TOKEN:
        why.append(p + 'headers start %s' % names[:2])
    elif not re.match(r'^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$', r.get('date')):
        why.append(p + 'Date %s' % r.get('date'))
    if has_page(r.status):
        pages = [page(r.status)] + [page(r.status, d) for d in DETAILS if r.status == 400]
        cl = r.get('content-length')
        match = [pg for pg in pages if cl == str(len(pg))]
        if r.get('content-type') != 'text/html':
            why.append(p + 'error page Content-Type %s' % r.get('content-type'))
        if not match:
            why.append(p + 'error page Content-Length %s fits no page' % cl)
        elif not head and r.body not in match:
            why.append(p + 'error page body differs: %s' % short(r.body, 300))
    return why


def check(a, r, c):
    m = re.match(r'^H:([A-Za-z0-9-]+)([=~!])(.*)$', c)
    if m:
        name, op, want = m.groups()
        v = r.get(name)
        if op == '=' and v != want:
            return '%s is %r, expected %r' % (name, v, want)
        if op == '~' and (v is None or not re.search(want, v)):
            return '%s is %r, expected to match %r' % (name, v, want)
        if op == '!' and v is not None:
            return '%s is %r, expected none' % (name, v)
        return None
    if c.startswith('HDRS='):
        names = ','.join(k for k, _ in r.headers)
        return None if names == c[5:] else 'headers %s, expected %s' % (names, c[5:])
    if c.startswith('B=@'):
        want = file_bytes(a.www, c[3:])
        return None if r.body == want else 'body %s (%d bytes) differs from %s' % (
            short(r.body), len(r.body), c[3:])
    if c.startswith('B=page'):
        want = page(r.status, c[7:] or None)
        return None if r.body == want else 'body is not the page: %s' % short(r.body, 300)
    if c.startswith('B#'):
        return None if len(r.body) == int(c[2:]) else 'body has %d bytes, expected %s' % (
            len(r.body), c[2:])
    if c.startswith('B~'):
        return None if re.search(c[2:].encode(), r.body) else 'body %s does not match %s' % (
            short(r.body), c[2:])
    return 'unknown check ' + c


# ---- collecting answers for the differential test ----

COMPARED = ['content-type', 'content-length', 'last-modified', 'location', 'connection',
            'etag', 'accept-ranges', 'content-range', 'allow']


def collect(a):
    rows = read_table(a.table)
    out = {}
    for row in rows:
        got, rc, err, elapsed, resps, rest = run_row(a, row)
        token = None
        answers = []
        for r in resps:
            token = token or r.get('server')
            h = {}
            for name in COMPARED:
                v = r.get(name)
                if v is not None and name == 'location':
                    v = v.replace(':%d/' % a.port, ':PORT/')
                h[name] = v
            body = r.body
            if token and has_page(r.status):
                # the same page with the other server's name in it
                body = body.replace(token.encode(), b'SERVER')
                if h['content-length'] is not None:
                    h['content-length'] = str(int(h['content-length']) - len(token))
            answers.append({'status': r.status, 'names': [k for k, _ in r.headers],
                            'h': h, 'body': hashlib.sha256(body).hexdigest()[:16],
                            'body_start': short(body, 60)})
        out[row.name] = {'rc': rc, 'rest': len(rest), 'answers': answers}
    json.dump(out, open(a.out, 'w'))


def squeeze(values):
    """'200 200 200 404' -> '3*200 404'"""
    out = []
    for v in values:
        if out and out[-1][0] == v:
            out[-1][1] += 1
        else:
            out.append([v, 1])
    return ' '.join(('%d*%s' % (n, v)) if n > 1 else str(v) for v, n in out)


def aspects(res):
    ans = res['answers']
    d = {'status': squeeze([x['status'] for x in ans]) +
         {0: ' eof', 1: ' error', 2: ' open'}[res['rc']] + (' +%d bytes' % res['rest'] if res['rest'] else ''),
         # Allow is compared on its own (h:allow)
         'headers': squeeze([','.join(n for n in x['names'][2:] if n != 'Allow') for x in ans]),
         'body': squeeze([x['body'] for x in ans])}
    for name in COMPARED:
        d['h:' + name] = squeeze([str(x['h'][name]) for x in ans])
    return d


def compare(a):
    rows = read_table(a.table)
    ng = json.load(open(a.nginx))
    mt = json.load(open(a.mtlsd))
    intended = []
    for line in open(a.intended):
        if line.strip() and not line.lstrip().startswith('#'):
            f = [x.strip() for x in line.split('|', 2)]
            intended.append({'name': f[0], 'aspect': f[1], 'why': f[2], 'seen': False})
    for row in rows:
        n, m = aspects(ng[row.name]), aspects(mt[row.name])
        diffs = [k for k in n if n[k] != m[k]]
        if 'status' in diffs:
            diffs = ['status']     # different answers: the rest cannot be compared
        bad, why = [], []
        for k in diffs:
            hit = [i for i in intended if fnmatch.fnmatchcase(row.name, i['name'])
                   and fnmatch.fnmatchcase(k, i['aspect'])]
            for i in hit:
                i['seen'] = True
            if hit:
                why.append('%s (%s)' % (k, hit[0]['why']))
            else:
                bad.append('%s: nginx [%s], mtlsd [%s]' % (k, n[k], m[k]))
        if bad:
            print('FAIL - diff: %s: %s' % (row.name, ' / '.join(bad)))
        elif why:
            print('ok - diff: %s: intended difference in %s' % (row.name, ', '.join(why)))
        else:
            print('ok - diff: %s: same answer [%s]' % (row.name, n['status']))
    for i in intended:
        if not i['seen'] and '*' not in i['name']:
            print('FAIL - diff: intended difference %s | %s: not seen any more (remove it)' % (
                i['name'], i['aspect']))


p = argparse.ArgumentParser()
p.add_argument('mode', choices=['expect', 'collect', 'compare'])
p.add_argument('--port', type=int)
p.add_argument('--table')
p.add_argument('--pki')
p.add_argument('--www')
p.add_argument('--secret', default='\0never')
p.add_argument('--out')
p.add_argument('--timeout', type=float, default=5)
p.add_argument('--parallel', action='store_true')
p.add_argument('--nginx')
p.add_argument('--mtlsd')
p.add_argument('--intended')
args = p.parse_args()
{'expect': expect, 'collect': collect, 'compare': compare}[args.mode](args)
EOF

# http_cases -- the table (see the top of this file); needs PORT and WWW
http_cases() {
	local H='Host: server2\r\n' C='Connection: close\r\n' e t
	local etag lm etag_big lm_big lm_next lm_prev size_index
	size_index=$(stat -c %s "$WWW/index.html")
	etag=$(printf '"%x-%x"' "$(stat -c %Y "$WWW/index.html")" "$size_index")
	etag_big=$(printf '"%x-%x"' "$(stat -c %Y "$WWW/big.bin")" 100000)
	lm=$(LC_ALL=C date -u -d "@$(stat -c %Y "$WWW/index.html")" '+%a, %d %b %Y %H:%M:%S GMT')
	lm_big=$(LC_ALL=C date -u -d "@$(stat -c %Y "$WWW/big.bin")" '+%a, %d %b %Y %H:%M:%S GMT')
	lm_next=$(LC_ALL=C date -u -d "@$(($(stat -c %Y "$WWW/index.html") + 1))" '+%a, %d %b %Y %H:%M:%S GMT')
	lm_prev=$(LC_ALL=C date -u -d "@$(($(stat -c %Y "$WWW/index.html") - 1))" '+%a, %d %b %Y %H:%M:%S GMT')
	local lm_850 lm_asc
	lm_850=$(LC_ALL=C date -u -d "@$(stat -c %Y "$WWW/index.html")" '+%A, %d-%b-%y %H:%M:%S GMT')
	lm_asc=$(LC_ALL=C date -u -d "@$(stat -c %Y "$WWW/index.html")" '+%a %b %e %H:%M:%S %Y')
	local huge=5368709120 hdr200='Server,Date,Content-Type,Content-Length,Last-Modified,Connection,ETag,Accept-Ranges'
	cat <<EOF
# ---- methods
get: / is the index | 200 | keep | B=@index.html; HDRS=$hdr200; H:Content-Type=text/html; H:Content-Length=$size_index; H:Last-Modified=$lm; H:ETag=$etag; H:Accept-Ranges=bytes | GET / HTTP/1.1\r\n$H\r\n
get: a file | 200 | keep | B=@notes.txt; H:Content-Type=text/plain | GET /notes.txt HTTP/1.1\r\n$H\r\n
head: GET's headers, no body | 200 | keep | B#0; HDRS=$hdr200; H:Content-Length=$size_index; H:ETag=$etag | HEAD / HTTP/1.1\r\n$H\r\n
method: POST to a file -> 405 with Allow | 405 | keep | B=page; H:Allow=GET, HEAD | POST /notes.txt HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n
method: POST with a body -> 405, body skipped | 405 | keep | H:Allow=GET, HEAD | POST /notes.txt HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello
method: POST to a missing file -> 405 | 405 | keep | - | POST /missing HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n
method: POST to a directory -> 405 | 405 | keep | - | POST / HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n
method: DELETE -> 405 | 405 | keep | H:Allow=GET, HEAD | DELETE /notes.txt HTTP/1.1\r\n$H\r\n
method: PUT -> 405 | 405 | keep | - | PUT /notes.txt HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc
method: OPTIONS -> 405 | 405 | keep | - | OPTIONS /notes.txt HTTP/1.1\r\n$H\r\n
method: PATCH -> 405 | 405 | keep | - | PATCH /missing HTTP/1.1\r\n$H\r\n
method: TRACE -> 405 and close | 405 | close | B=page | TRACE / HTTP/1.1\r\n$H\r\n
method: unknown FOO -> 405 | 405 | keep | - | FOO /notes.txt HTTP/1.1\r\n$H\r\n
method: long upper-case name -> 405 | 405 | keep | - | ABCDEFGHIJKLMNOPQRSTUVWXYZ /notes.txt HTTP/1.1\r\n$H\r\n
method: with an underscore -> 405 | 405 | keep | - | GET_X /notes.txt HTTP/1.1\r\n$H\r\n
method: lower case -> 400 | 400 | close | B=page | get / HTTP/1.1\r\n$H\r\n
method: with a digit -> 400 | 400 | close | - | G3T / HTTP/1.1\r\n$H\r\n
method: CONNECT authority -> 400 | 400 | close | - | CONNECT server2:443 HTTP/1.1\r\n$H\r\n
method: OPTIONS * -> 400 | 400 | close | - | OPTIONS * HTTP/1.1\r\n$H\r\n
# ---- versions and request lines
version: 1.0 closes by default | 200 | close | B=@notes.txt | GET /notes.txt HTTP/1.0\r\n\r\n
version: 1.0 with keep-alive | 200 | keep | B=@notes.txt | GET /notes.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n
version: 1.0 with Host | 200 | close | - | GET /notes.txt HTTP/1.0\r\n$H\r\n
version: 1.1 without Host -> 400 | 400 | close | B=page | GET / HTTP/1.1\r\n\r\n
version: HEAD 1.1 without Host -> 400, no body | 400 | close | B#0 | HEAD / HTTP/1.1\r\n\r\n
version: 1.1 absolute-form without Host -> 400 | 400 | close | - | GET https://server2/notes.txt HTTP/1.1\r\n\r\n
version: 1.1 Connection: close | 200 | close | - | GET /notes.txt HTTP/1.1\r\n$H$C\r\n
version: 1.1 Connection: keep-alive | 200 | keep | - | GET /notes.txt HTTP/1.1\r\n${H}Connection: keep-alive\r\n\r\n
version: Connection list with close | 200 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Connection: TE, Close\r\n\r\n
version: HTTP/1.2 is 1.x | 200 | keep | - | GET /notes.txt HTTP/1.2\r\n$H\r\n
version: HTTP/2.0 -> 505 | 505 | close | B=page | GET / HTTP/2.0\r\n$H\r\n
version: HTTP/3.1 -> 505 | 505 | close | - | GET / HTTP/3.1\r\n$H\r\n
version: HEAD HTTP/2.0 -> 505, no body | 505 | close | B#0 | HEAD / HTTP/2.0\r\n$H\r\n
version: HTTP/2 -> 505 | 505 | close | - | GET / HTTP/2\r\n$H\r\n
version: HTTP/10.1 -> 505 | 505 | close | - | GET / HTTP/10.1\r\n$H\r\n
version: HTTP/2.0x -> 505 | 505 | close | - | GET / HTTP/2.0x\r\n$H\r\n
version: HTTP/01.1 -> 400 | 400 | close | - | GET / HTTP/01.1\r\n$H\r\n
version: HTTP/1.100 is 1.x | 200 | keep | - | GET /notes.txt HTTP/1.100\r\n$H\r\n
version: HTTP/0.9 -> 400 | 400 | close | - | GET / HTTP/0.9\r\n$H\r\n
version: HTTP/1 -> 400 | 400 | close | - | GET / HTTP/1\r\n$H\r\n
version: HTTP/1.1x -> 400 | 400 | close | - | GET / HTTP/1.1x\r\n$H\r\n
version: lower-case http -> 400 | 400 | close | - | GET / http/1.1\r\n$H\r\n
version: minor 1000 -> 400 | 400 | close | - | GET / HTTP/1.1000\r\n$H\r\n
version: none (HTTP/0.9 request) -> 400 | 400 | close | - | GET /\r\n\r\n
line: extra word -> 400 | 400 | close | - | GET / HTTP/1.1 x\r\n$H\r\n
line: trailing space | 200 | keep | B=@notes.txt | GET /notes.txt HTTP/1.1 \r\n$H\r\n
line: several spaces | 200 | keep | B=@notes.txt | GET   /notes.txt   HTTP/1.1\r\n$H\r\n
line: tab as separator -> 400 | 400 | close | - | GET\t/ HTTP/1.1\r\n$H\r\n
line: empty lines before the request | 200 | keep | B=@notes.txt | \r\n\r\nGET /notes.txt HTTP/1.1\r\n$H\r\n
line: bare LF everywhere | 200 | keep | B=@notes.txt | GET /notes.txt HTTP/1.1\nHost: server2\n\n
line: CRLF and LF mixed | 200 | keep | - | GET /notes.txt HTTP/1.1\r\nHost: server2\nX-A: 1\r\n\n
line: NUL in the target -> 400 | 400 | close | - | GET /no\x00tes.txt HTTP/1.1\r\n$H\r\n
line: stray CR in the line -> 400 | 400 | close | - | GET /notes.txt\r HTTP/1.1\r\n$H\r\n
# ---- header lines
header: obsolete folding -> 400 | 400 | close | B=page | GET / HTTP/1.1\r\n${H}X-A: 1\r\n  folded\r\n\r\n
header: folding with a tab -> 400 | 400 | close | - | GET / HTTP/1.1\r\n${H}X-A: 1\r\n\tfolded\r\n\r\n
header: no colon -> 400 | 400 | close | - | GET / HTTP/1.1\r\n${H}NoColonHere\r\n\r\n
header: space before the colon -> 400 | 400 | close | - | GET / HTTP/1.1\r\n${H}X-A : 1\r\n\r\n
header: empty name -> 400 | 400 | close | - | GET / HTTP/1.1\r\n$H: 1\r\n\r\n
header: @ in a name, ignored | 200 | keep | - | GET / HTTP/1.1\r\n${H}X@Y: 1\r\n\r\n
header: 8-bit name, ignored | 200 | keep | - | GET / HTTP/1.1\r\n${H}X\xc3\xa9: 1\r\n\r\n
header: ignored Host-like name, no Host -> 400 | 400 | close | - | GET / HTTP/1.1\r\nHost@: server2\r\n\r\n
header: tab in a name -> 400 | 400 | close | - | GET / HTTP/1.1\r\n${H}X\tA: 1\r\n\r\n
header: DEL in a name -> 400 | 400 | close | - | GET / HTTP/1.1\r\n${H}X\x7f: 1\r\n\r\n
header: colon first -> 400 | 400 | close | - | GET / HTTP/1.1\r\n${H}:x: 1\r\n\r\n
header: lower-case host | 200 | keep | - | GET / HTTP/1.1\r\nhost: server2\r\n\r\n
header: underscore in a name | 200 | keep | - | GET / HTTP/1.1\r\n${H}X_Y: 1\r\n\r\n
header: control bytes in a value | 200 | keep | - | GET / HTTP/1.1\r\n${H}X-A: a\x01\x1b\x7fb\r\nUser-Agent: \x1b[31m\r\n\r\n
header: NUL in a value -> 400 | 400 | close | - | GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n
header: CR inside a value -> 400 | 400 | close | - | GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n
header: UTF-8 in a value | 200 | keep | - | GET / HTTP/1.1\r\n${H}X-A: caf\xc3\xa9\r\n\r\n
header: empty value | 200 | keep | - | GET / HTTP/1.1\r\n${H}X-A:\r\n\r\n
header: 7000-byte value | 200 | keep | - | GET / HTTP/1.1\r\n${H}X-A: {7000*v}\r\n\r\n
header: a tab before a value is part of it (nginx): Host -> 400 | 400 | close | - | GET / HTTP/1.1\r\nHost:\tserver2\r\n\r\n
header: a tab after a value is part of it (nginx): Content-Length -> 400 | 400 | close | - | GET / HTTP/1.1\r\n${H}Content-Length: 0\t\r\n\r\n
header: Range with a leading tab is not a range (nginx) | 200 | keep | B=@notes.txt | GET /notes.txt HTTP/1.1\r\n${H}Range:\tbytes=0-1\r\n\r\n
host: two Host lines -> 400 | 400 | close | - | GET / HTTP/1.1\r\n${H}Host: other\r\n\r\n
host: empty -> 400 | 400 | close | - | GET / HTTP/1.1\r\nHost:\r\n\r\n
host: with a slash -> 400 | 400 | close | - | GET / HTTP/1.1\r\nHost: a/b\r\n\r\n
host: with .. -> 400 | 400 | close | - | GET / HTTP/1.1\r\nHost: a..b\r\n\r\n
host: only a port -> 400 | 400 | close | - | GET / HTTP/1.1\r\nHost: :8443\r\n\r\n
host: a dot -> 400 | 400 | close | - | GET / HTTP/1.1\r\nHost: .\r\n\r\n
host: control byte -> 400 | 400 | close | - | GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n
host: leading dot | 200 | keep | - | GET / HTTP/1.1\r\nHost: .server2\r\n\r\n
host: backslash | 200 | keep | - | GET / HTTP/1.1\r\nHost: a\\\\b\r\n\r\n
host: with a port | 200 | keep | - | GET / HTTP/1.1\r\nHost: server2:8443\r\n\r\n
host: IPv6 literal | 200 | keep | - | GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n
host: trailing dot | 200 | keep | - | GET / HTTP/1.1\r\nHost: server2.\r\n\r\n
# ---- keep-alive and pipelining
pipeline: two GETs in order | 200 200 | keep | 1:B=@notes.txt; 2:B=@t.css | GET /notes.txt HTTP/1.1\r\n$H\r\nGET /t.css HTTP/1.1\r\n$H\r\n
pipeline: 404 keeps the connection | 404 200 | keep | 2:B=@notes.txt | GET /missing HTTP/1.1\r\n$H\r\nGET /notes.txt HTTP/1.1\r\n$H\r\n
pipeline: a 400 ends it | 200 400 | close | - | GET /notes.txt HTTP/1.1\r\n$H\r\nGET /%zz HTTP/1.1\r\n$H\r\nGET /notes.txt HTTP/1.1\r\n$H\r\n
pipeline: HEAD then HEAD | 200 200 | keep | - | HEAD /notes.txt HTTP/1.1\r\n$H\r\nHEAD /t.css HTTP/1.1\r\n$H\r\n
pipeline: 999 and the probe (the 1000th closes) | 999*200 | keep | 999:B=@notes.txt | {999*GET /notes.txt HTTP/1.1\r\nHost: server2\r\n\r\n}
pipeline: 1000 in one write, in order, the last closes | 1000*200 | close | 1:B=@notes.txt; 2:B=@t.css; 3:B=@t.js; 998:B=@t.css; 999:B=@t.js; 1000:B=@notes.txt | {333*GET /notes.txt HTTP/1.1\r\nHost: server2\r\n\r\nGET /t.css HTTP/1.1\r\nHost: server2\r\n\r\nGET /t.js HTTP/1.1\r\nHost: server2\r\n\r\n}GET /notes.txt HTTP/1.1\r\nHost: server2\r\n\r\n
pipeline: the 1001st is not answered | 1000*200 | close | - | {1001*GET /t.txt HTTP/1.1\r\nHost: server2\r\n\r\n}
# ---- request bodies
body: Content-Length body skipped | 200 | keep | B=@notes.txt | GET /notes.txt HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello
body: HEAD with a body | 200 | keep | B#0 | HEAD /notes.txt HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello
body: chunked body skipped | 200 | keep | B=@notes.txt | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n
body: chunked with extension and trailer | 200 | keep | - | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\na\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n
body: chunked, bare LF | 200 | keep | - | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n
body: Transfer-Encoding Chunked (case) | 200 | keep | - | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n
body: 1 MiB Content-Length skipped | 200 | keep | - | GET /notes.txt HTTP/1.1\r\n${H}Content-Length: 1048576\r\n\r\n{1048576*b}
body: Content-Length over 1 MiB -> 413 | 413 | close | B=page | GET /notes.txt HTTP/1.1\r\n${H}Content-Length: 1048577\r\n\r\n
body: Content-Length with zeros | 200 | keep | - | GET /notes.txt HTTP/1.1\r\n${H}Content-Length: 005\r\n\r\nhello
body: Content-Length with spaces | 200 | keep | - | GET /notes.txt HTTP/1.1\r\n${H}Content-Length:   5  \r\n\r\nhello
body: Content-Length +5 -> 400 | 400 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello
body: empty Content-Length -> 400 | 400 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Content-Length:\r\n\r\n
body: HEAD, Content-Length over 1 MiB -> 413 | 413 | close | B#0 | HEAD /notes.txt HTTP/1.1\r\n${H}Content-Length: 1048577\r\n\r\n
body: chunked over 1 MiB -> 413 | 413 | close | B=page | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n100001\r\n{4096*c}
body: malformed chunk -> 400 | 400 | close | B=page | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n
body: malformed chunk on a 404 -> 404, close | 404 | close | B=page | GET /missing HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n
body: chunk size overflowing -> 413 | 413 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n
body: chunk data longer than its size -> 400 | 400 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n
body: chunk size with a space | 200 | keep | - | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n
body: Transfer-Encoding with Content-Length -> 400 | 400 | close | B=page | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n
body: Content-Length with Transfer-Encoding -> 400 | 400 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n
body: smuggled request behind TE+CL is never answered | 400 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Content-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /t.txt HTTP/1.1\r\nHost: server2\r\n\r\n
body: Transfer-Encoding gzip -> 501 | 501 | close | B=page | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n
body: Transfer-Encoding gzip, chunked -> 501 | 501 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n
body: empty Transfer-Encoding -> 501 | 501 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding:\r\n\r\n
body: Transfer-Encoding with a trailing space | 200 | keep | - | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked \r\n\r\n0\r\n\r\n
body: Transfer-Encoding with spaces around | 200 | keep | - | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding:   chunked  \r\n\r\n0\r\n\r\n
body: Transfer-Encoding:<TAB>chunked -> 501 (nginx keeps the tab) | 501 | close | B=page | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n
body: Transfer-Encoding: <TAB>chunked -> 501 | 501 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: \tchunked\r\n\r\n0\r\n\r\n
body: Transfer-Encoding: chunked<TAB> -> 501 | 501 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n
body: Transfer-Encoding in HTTP/1.0 -> 400 | 400 | close | - | GET /notes.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n
body: two Transfer-Encoding lines -> 400 | 400 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n
body: two Content-Length lines -> 400 | 400 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello
body: Content-Length not a number -> 400 | 400 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Content-Length: 5x\r\n\r\nhello
body: negative Content-Length -> 400 | 400 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n
body: Content-Length overflowing -> 400 | 400 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Content-Length: 99999999999999999999999\r\n\r\n
body: Expect 100-continue with a body -> 100, body skipped | 100 200 | keep | 2:B=@notes.txt; 2:HDRS=Server,Date,Content-Type,Content-Length,Last-Modified,Connection,ETag,Accept-Ranges; 1:HDRS= | GET /notes.txt HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello
body: Expect 100-continue without a body -> 100 | 100 200 | keep | - | GET /notes.txt HTTP/1.1\r\n${H}Expect: 100-continue\r\n\r\n
body: Expect 100-continue in capitals -> 100 | 100 200 | keep | - | GET /notes.txt HTTP/1.1\r\n${H}Expect: 100-Continue\r\n\r\n
body: Expect 100-continue on HEAD -> 100 | 100 200 | keep | B#0 | HEAD /notes.txt HTTP/1.1\r\n${H}Expect: 100-continue\r\n\r\n
body: Expect 100-continue on a 206 -> 100 | 100 206 | keep | - | GET /notes.txt HTTP/1.1\r\n${H}Expect: 100-continue\r\nRange: bytes=0-1\r\n\r\n
body: Expect 100-continue on a 412 -> 100, close | 100 412 | close | - | GET /notes.txt HTTP/1.1\r\n${H}Expect: 100-continue\r\nIf-Match: "x"\r\n\r\n
body: Expect 100-continue on a 404 with a body -> close | 404 | close | - | GET /missing HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello
body: Expect 100-continue on a 404 without a body | 404 | keep | - | GET /missing HTTP/1.1\r\n${H}Expect: 100-continue\r\n\r\n
body: Expect 100-continue in HTTP/1.0 ignored, body skipped | 200 | keep | - | GET /notes.txt HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello
body: other Expect ignored | 200 | keep | - | GET /notes.txt HTTP/1.1\r\n${H}Expect: something\r\n\r\n
# ---- limits (8 KiB by default)
limit: 10000-byte URI -> 414 | 414 | close | B=page | GET /{10000*a} HTTP/1.1\r\n$H\r\n
limit: HEAD with a 10000-byte URI -> 414, no body | 414 | close | B#0 | HEAD /{10000*a} HTTP/1.1\r\n$H\r\n
limit: 20000-byte header -> 400 too large | 400 | close | B=page:Request Header Or Cookie Too Large | GET / HTTP/1.1\r\n${H}X-Big: {20000*b}\r\n\r\n
limit: ten 1000-byte headers (over 8 KiB) -> 400 too large | 400 | close | B=page:Request Header Or Cookie Too Large | GET / HTTP/1.1\r\n$H{10*X-H: {1000*h}\r\n}\r\n
# ---- targets and paths
path: query ignored | 200 | keep | B=@notes.txt | GET /notes.txt?x=1&y=/../2 HTTP/1.1\r\n$H\r\n
path: empty query | 200 | keep | B=@notes.txt | GET /notes.txt? HTTP/1.1\r\n$H\r\n
path: fragment dropped | 200 | keep | B=@notes.txt | GET /notes.txt#frag HTTP/1.1\r\n$H\r\n
path: query then fragment | 200 | keep | B=@notes.txt | GET /notes.txt?x#y HTTP/1.1\r\n$H\r\n
path: %23 is part of the name | 404 | keep | - | GET /notes.txt%23x HTTP/1.1\r\n$H\r\n
path: dots after the fragment do not count | 404 | keep | - | GET /x#/../../secret.txt HTTP/1.1\r\n$H\r\n
path: absolute-form https | 200 | keep | B=@notes.txt | GET https://server2/notes.txt HTTP/1.1\r\n$H\r\n
path: absolute-form http | 200 | keep | B=@notes.txt | GET http://server2/notes.txt HTTP/1.1\r\n$H\r\n
path: absolute-form with port and query | 200 | keep | B=@notes.txt | GET https://server2:8443/notes.txt?q HTTP/1.1\r\n$H\r\n
path: absolute-form without a path | 200 | keep | B=@index.html | GET https://server2 HTTP/1.1\r\n$H\r\n
path: absolute-form, empty host -> 400 | 400 | close | - | GET https:///notes.txt HTTP/1.1\r\n$H\r\n
path: absolute-form, other scheme | 200 | keep | B=@notes.txt | GET ftp://server2/notes.txt HTTP/1.1\r\n$H\r\n
path: no leading slash -> 400 | 400 | close | - | GET notes.txt HTTP/1.1\r\n$H\r\n
path: %-escape decoded | 200 | keep | B=@notes.txt | GET /%6Eotes%2etxt HTTP/1.1\r\n$H\r\n
path: %20 decoded | 200 | keep | B=@a b.txt | GET /a%20b.txt HTTP/1.1\r\n$H\r\n
path: %2F is a slash | 200 | keep | B=@sub/index.html | GET /sub%2Findex.html HTTP/1.1\r\n$H\r\n
path: bad escape -> 400 | 400 | close | B=page | GET /%zz HTTP/1.1\r\n$H\r\n
path: HEAD with a bad escape -> 400, no body | 400 | close | B#0 | HEAD /%zz HTTP/1.1\r\n$H\r\n
path: cut escape -> 400 | 400 | close | - | GET /notes.txt%4 HTTP/1.1\r\n$H\r\n
path: %00 -> 400 | 400 | close | - | GET /notes.txt%00 HTTP/1.1\r\n$H\r\n
path: %00 inside -> 400 | 400 | close | - | GET /notes.txt%00.html HTTP/1.1\r\n$H\r\n
path: // merged | 200 | keep | B=@notes.txt | GET //notes.txt HTTP/1.1\r\n$H\r\n
path: inner // merged | 200 | keep | B=@sub/index.html | GET /sub//index.html HTTP/1.1\r\n$H\r\n
path: /./ removed | 200 | keep | B=@notes.txt | GET /./notes.txt HTTP/1.1\r\n$H\r\n
path: /a/../b | 200 | keep | B=@notes.txt | GET /sub/../notes.txt HTTP/1.1\r\n$H\r\n
path: escaped dots inside the root | 200 | keep | B=@notes.txt | GET /sub/%2E%2E/notes.txt HTTP/1.1\r\n$H\r\n
path: dir/.. is the root | 200 | keep | B=@index.html | GET /sub/.. HTTP/1.1\r\n$H\r\n
path: dir/. is the dir | 200 | keep | B=@sub/index.html | GET /sub/. HTTP/1.1\r\n$H\r\n
path: /.. -> 400 | 400 | close | B=page | GET /../notes.txt HTTP/1.1\r\n$H\r\n
path: /a/../.. -> 400 | 400 | close | - | GET /sub/../../notes.txt HTTP/1.1\r\n$H\r\n
path: %2e%2e -> 400 | 400 | close | - | GET /%2e%2e/secret.txt HTTP/1.1\r\n$H\r\n
path: ..%2f -> 400 | 400 | close | - | GET /..%2fsecret.txt HTTP/1.1\r\n$H\r\n
path: deep climb -> 400 | 400 | close | - | GET /../../../../../../etc/passwd HTTP/1.1\r\n$H\r\n
path: absolute-form climb -> 400 | 400 | close | - | GET https://server2/../secret.txt HTTP/1.1\r\n$H\r\n
path: file with a slash -> 404 | 404 | keep | B=page | GET /notes.txt/ HTTP/1.1\r\n$H\r\n
path: missing -> 404 | 404 | keep | B=page | GET /missing HTTP/1.1\r\n$H\r\n
path: missing dir -> 404 | 404 | keep | - | GET /missing/ HTTP/1.1\r\n$H\r\n
path: raw UTF-8 name, missing -> 404 | 404 | keep | - | GET /caf\xc3\xa9 HTTP/1.1\r\n$H\r\n
dir: without slash -> 301 | 301 | keep | B=page; H:Location=https://server2:$PORT/sub/ | GET /sub HTTP/1.1\r\n$H\r\n
dir: 301 keeps the query | 301 | keep | H:Location=https://server2:$PORT/sub/?x=1&y=2 | GET /sub?x=1&y=2 HTTP/1.1\r\n$H\r\n
dir: 301 after a fragment mark | 301 | keep | H:Location=https://server2:$PORT/sub/ | GET /sub#x HTTP/1.1\r\n$H\r\n
dir: 301 with a query and a fragment | 301 | keep | H:Location=https://server2:$PORT/sub/?a | GET /sub?a#x HTTP/1.1\r\n$H\r\n
dir: 301 with 6000 8-bit bytes of query, raw as nginx (escaped they pass a TLS record) | 301 | keep | B=page; H:Location~^https://server2:$PORT/sub/[?]\xff{6000}\$ | GET /sub?{6000*\xff} HTTP/1.1\r\n$H\r\n
dir: 301 with an escaped query | 301 | keep | - | GET /sub?a=%20b&c HTTP/1.1\r\n$H\r\n
dir: 301 for HEAD, no body | 301 | keep | B#0; H:Location=https://server2:$PORT/sub/ | HEAD /sub HTTP/1.1\r\n$H\r\n
dir: 301 Location without the Host port | 301 | keep | H:Location=https://server2:$PORT/sub/ | GET /sub HTTP/1.1\r\nHost: server2:1234\r\n\r\n
dir: 301 Location from the absolute-form host | 301 | keep | H:Location=https://other.example:$PORT/sub/ | GET https://other.example:99/sub HTTP/1.1\r\n$H\r\n
dir: 301 Location host in lower case | 301 | keep | H:Location=https://server2:$PORT/sub/ | GET /sub HTTP/1.1\r\nHost: SERVER2\r\n\r\n
dir: 301 Location without Host in HTTP/1.0 | 301 | close | H:Location=https://127.0.0.1:$PORT/sub/ | GET /sub HTTP/1.0\r\n\r\n
dir: 301 for an escaped name | 301 | keep | H:Location~^https://server2:$PORT/a(%20| )b/\$ | GET /a%20b HTTP/1.1\r\n$H\r\n
dir: 301 for a name with dots | 301 | keep | H:Location=https://server2:$PORT/sub/ | GET /noindex/../sub HTTP/1.1\r\n$H\r\n
dir: with slash -> its index | 200 | keep | B=@sub/index.html; H:Content-Type=text/html | GET /sub/ HTTP/1.1\r\n$H\r\n
dir: escaped name with slash | 200 | keep | B=@a b/index.html | GET /a%20b/ HTTP/1.1\r\n$H\r\n
dir: no index -> 403 | 403 | keep | B=page | GET /noindex/ HTTP/1.1\r\n$H\r\n
dir: no index, HEAD -> 403, no body | 403 | keep | B#0 | HEAD /noindex/ HTTP/1.1\r\n$H\r\n
dir: no index, without slash -> 301 | 301 | keep | H:Location=https://server2:$PORT/noindex/ | GET /noindex HTTP/1.1\r\n$H\r\n
dir: index that is a directory -> 403 | 403 | keep | - | GET /idx-dir/ HTTP/1.1\r\n$H\r\n
dir: query on the index | 200 | keep | B=@index.html | GET /?a=b HTTP/1.1\r\n$H\r\n
# ---- symbolic links and files that are not regular
EOF
	if http_beneath; then
		cat <<EOF
link: inside the root | 200 | keep | B=@notes.txt | GET /link-in HTTP/1.1\r\n$H\r\n
link: directory inside the root | 200 | keep | B=@sub/index.html | GET /link-dir-in/ HTTP/1.1\r\n$H\r\n
link: directory inside, without slash -> 301 | 301 | keep | H:Location=https://server2:$PORT/link-dir-in/ | GET /link-dir-in HTTP/1.1\r\n$H\r\n
link: up one level, still inside | 200 | keep | B=@notes.txt | GET /sub/link-up HTTP/1.1\r\n$H\r\n
link: a loop -> 403 | 403 | keep | - | GET /loop-a HTTP/1.1\r\n$H\r\n
EOF
	else
		# without openat2 every symlink is refused
		cat <<EOF
link: inside the root, refused without openat2 | 404 | keep | B=page | GET /link-in HTTP/1.1\r\n$H\r\n
link: directory inside, refused without openat2 | 404 | keep | - | GET /link-dir-in/ HTTP/1.1\r\n$H\r\n
link: directory inside, without slash, refused without openat2 | 404 | keep | - | GET /link-dir-in HTTP/1.1\r\n$H\r\n
link: up one level, refused without openat2 | 404 | keep | - | GET /sub/link-up HTTP/1.1\r\n$H\r\n
link: a loop, refused without openat2 | 404 | keep | - | GET /loop-a HTTP/1.1\r\n$H\r\n
EOF
	fi
	cat <<EOF
link: ../secret outside the root -> 404 | 404 | keep | B=page | GET /link-out HTTP/1.1\r\n$H\r\n
link: /etc/passwd -> 404 | 404 | keep | B=page | GET /link-abs HTTP/1.1\r\n$H\r\n
link: HEAD /etc/passwd -> 404 | 404 | keep | B#0 | HEAD /link-abs HTTP/1.1\r\n$H\r\n
link: range of /etc/passwd -> 404 | 404 | keep | - | GET /link-abs HTTP/1.1\r\n${H}Range: bytes=0-3\r\n\r\n
link: file in a directory outside -> 404 | 404 | keep | - | GET /link-dir-out/secret.txt HTTP/1.1\r\n$H\r\n
link: directory outside -> 404 | 404 | keep | - | GET /link-dir-out HTTP/1.1\r\n$H\r\n
link: directory outside, with slash -> 404 | 404 | keep | - | GET /link-dir-out/ HTTP/1.1\r\n$H\r\n
special: fifo -> 404 at once | 404 | keep | B=page; T<2 | GET /fifo HTTP/1.1\r\n$H\r\n
special: HEAD fifo -> 404 | 404 | keep | T<2 | HEAD /fifo HTTP/1.1\r\n$H\r\n
special: character device -> 404 | 404 | keep | T<2 | GET /null HTTP/1.1\r\n$H\r\n
special: unix socket -> 404 | 404 | keep | T<2 | GET /sock HTTP/1.1\r\n$H\r\n
# ---- more than 4 GiB
huge: HEAD shows the 64-bit length | 200 | keep | B#0; H:Content-Length=$huge; H:ETag~-140000000"\$ | HEAD /huge.bin HTTP/1.1\r\n$H\r\n
huge: range at the end | 206 | keep | B=@huge.bin[5368709104:5368709120]; H:Content-Range=bytes 5368709104-5368709119/$huge; H:Content-Length=16 | GET /huge.bin HTTP/1.1\r\n${H}Range: bytes=5368709104-5368709119\r\n\r\n
huge: open range at the end | 206 | keep | B=@huge.bin[5368709110:5368709120]; H:Content-Range=bytes 5368709110-5368709119/$huge | GET /huge.bin HTTP/1.1\r\n${H}Range: bytes=5368709110-\r\n\r\n
huge: suffix range | 206 | keep | B=@huge.bin[5368709104:5368709120]; H:Content-Range=bytes 5368709104-5368709119/$huge | GET /huge.bin HTTP/1.1\r\n${H}Range: bytes=-16\r\n\r\n
huge: range across 4 GiB | 206 | keep | B=@huge.bin[4294967290:4294967302]; H:Content-Range=bytes 4294967290-4294967301/$huge | GET /huge.bin HTTP/1.1\r\n${H}Range: bytes=4294967290-4294967301\r\n\r\n
huge: range past the end -> 416 | 416 | keep | B=page; H:Content-Range=bytes */$huge | GET /huge.bin HTTP/1.1\r\n${H}Range: bytes=$huge-\r\n\r\n
EOF
	cat <<EOF
# ---- content types
EOF
	while read -r e t; do
		echo "type: .$e -> $t | 200 | keep | B=@t.$e; H:Content-Type=$t | GET /t.$e HTTP/1.1\r\n$H\r\n"
	done < <(http_types)
	cat <<EOF
type: upper-case extension | 200 | keep | H:Content-Type=text/html | GET /T.HTML HTTP/1.1\r\n$H\r\n
type: no extension | 200 | keep | H:Content-Type=application/octet-stream | GET /README HTTP/1.1\r\n$H\r\n
type: a name that is only an extension | 200 | keep | B=@.txt; H:Content-Type=application/octet-stream | GET /.txt HTTP/1.1\r\n$H\r\n
type: a name starting with a dot | 200 | keep | H:Content-Type=text/plain | GET /.a.txt HTTP/1.1\r\n$H\r\n
type: an escaped dot | 200 | keep | H:Content-Type=text/plain | GET /t%2Etxt HTTP/1.1\r\n$H\r\n
type: index through a directory | 200 | keep | H:Content-Type=text/html | GET /sub/ HTTP/1.1\r\n$H\r\n
# ---- conditional requests
cond: If-None-Match the ETag -> 304 | 304 | keep | B#0; HDRS=Server,Date,Last-Modified,Connection,ETag; H:ETag=$etag; H:Last-Modified=$lm | GET / HTTP/1.1\r\n${H}If-None-Match: $etag\r\n\r\n
cond: If-None-Match a list -> 304 | 304 | keep | - | GET / HTTP/1.1\r\n${H}If-None-Match: "a", $etag, "b"\r\n\r\n
cond: If-None-Match weak -> 304 | 304 | keep | - | GET / HTTP/1.1\r\n${H}If-None-Match: W/$etag\r\n\r\n
cond: If-None-Match * -> 304 | 304 | keep | - | GET / HTTP/1.1\r\n${H}If-None-Match: *\r\n\r\n
cond: If-None-Match other -> 200 | 200 | keep | B=@index.html | GET / HTTP/1.1\r\n${H}If-None-Match: "1-2"\r\n\r\n
cond: If-None-Match unquoted -> 200 | 200 | keep | - | GET / HTTP/1.1\r\n${H}If-None-Match: ${etag//\"/}\r\n\r\n
cond: If-None-Match list with * -> 200 | 200 | keep | - | GET / HTTP/1.1\r\n${H}If-None-Match: "a", *\r\n\r\n
cond: HEAD If-None-Match -> 304 | 304 | keep | - | HEAD / HTTP/1.1\r\n${H}If-None-Match: $etag\r\n\r\n
cond: If-Modified-Since exact -> 304 | 304 | keep | B#0 | GET / HTTP/1.1\r\n${H}If-Modified-Since: $lm\r\n\r\n
cond: If-Modified-Since RFC 850 exact -> 304 | 304 | keep | - | GET / HTTP/1.1\r\n${H}If-Modified-Since: $lm_850\r\n\r\n
cond: If-Modified-Since asctime exact -> 304 | 304 | keep | - | GET / HTTP/1.1\r\n${H}If-Modified-Since: $lm_asc\r\n\r\n
cond: If-Modified-Since a second later -> 200 | 200 | keep | B=@index.html | GET / HTTP/1.1\r\n${H}If-Modified-Since: $lm_next\r\n\r\n
cond: If-Modified-Since a second earlier -> 200 | 200 | keep | - | GET / HTTP/1.1\r\n${H}If-Modified-Since: $lm_prev\r\n\r\n
cond: If-Modified-Since garbage -> 200 | 200 | keep | - | GET / HTTP/1.1\r\n${H}If-Modified-Since: yesterday\r\n\r\n
cond: IMS exact but ETag differs -> 200 | 200 | keep | - | GET / HTTP/1.1\r\n${H}If-Modified-Since: $lm\r\nIf-None-Match: "1-2"\r\n\r\n
cond: ETag matches but IMS differs -> 200 | 200 | keep | - | GET / HTTP/1.1\r\n${H}If-Modified-Since: $lm_next\r\nIf-None-Match: $etag\r\n\r\n
cond: both match -> 304 | 304 | keep | - | GET / HTTP/1.1\r\n${H}If-Modified-Since: $lm\r\nIf-None-Match: $etag\r\n\r\n
cond: If-None-Match on a 404 | 404 | keep | - | GET /missing HTTP/1.1\r\n${H}If-None-Match: *\r\n\r\n
cond: If-Match other -> 412 | 412 | close | B=page | GET / HTTP/1.1\r\n${H}If-Match: "1-2"\r\n\r\n
cond: If-Match the ETag -> 200 | 200 | keep | - | GET / HTTP/1.1\r\n${H}If-Match: "a", $etag\r\n\r\n
cond: If-Match * -> 200 | 200 | keep | - | GET / HTTP/1.1\r\n${H}If-Match: *\r\n\r\n
cond: If-Match weak -> 412 | 412 | close | - | GET / HTTP/1.1\r\n${H}If-Match: W/$etag\r\n\r\n
cond: If-Unmodified-Since earlier -> 412 | 412 | close | - | GET / HTTP/1.1\r\n${H}If-Unmodified-Since: $lm_prev\r\n\r\n
cond: If-Unmodified-Since exact -> 200 | 200 | keep | - | GET / HTTP/1.1\r\n${H}If-Unmodified-Since: $lm\r\n\r\n
cond: If-Unmodified-Since garbage -> 412 | 412 | close | - | GET / HTTP/1.1\r\n${H}If-Unmodified-Since: yesterday\r\n\r\n
cond: HEAD If-Match other -> 412, no body | 412 | close | B#0 | HEAD / HTTP/1.1\r\n${H}If-Match: "1-2"\r\n\r\n
# ---- ranges (big.bin: 100000 bytes)
range: a-b | 206 | keep | B=@big.bin[0:10]; HDRS=Server,Date,Content-Type,Content-Length,Last-Modified,Connection,ETag,Content-Range; H:Content-Range=bytes 0-9/100000; H:Content-Length=10 | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=0-9\r\n\r\n
range: a- | 206 | keep | B=@big.bin[99990:100000]; H:Content-Range=bytes 99990-99999/100000 | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=99990-\r\n\r\n
range: -n | 206 | keep | B=@big.bin[99900:100000]; H:Content-Range=bytes 99900-99999/100000 | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=-100\r\n\r\n
range: 0- is the whole file, as 206 | 206 | keep | B=@big.bin; H:Content-Range=bytes 0-99999/100000 | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=0-\r\n\r\n
range: one byte | 206 | keep | B=@big.bin[5:6]; H:Content-Range=bytes 5-5/100000 | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=5-5\r\n\r\n
range: end past the size is cut | 206 | keep | H:Content-Range=bytes 99000-99999/100000 | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=99000-200000\r\n\r\n
range: suffix longer than the file | 206 | keep | H:Content-Range=bytes 0-99999/100000 | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=-200000\r\n\r\n
range: spaces | 206 | keep | H:Content-Range=bytes 0-9/100000 | GET /big.bin HTTP/1.1\r\n${H}Range: bytes= 0 - 9 \r\n\r\n
range: start past the end -> 416 | 416 | keep | B=page; H:Content-Range=bytes */100000 | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=99999999-\r\n\r\n
range: HEAD 416, no body | 416 | keep | B#0; H:Content-Range=bytes */100000 | HEAD /big.bin HTTP/1.1\r\n${H}Range: bytes=100000-\r\n\r\n
range: -0 -> 416 | 416 | keep | - | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=-0\r\n\r\n
range: b<a -> 416 | 416 | keep | - | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=5-2\r\n\r\n
range: not a number -> 416 | 416 | keep | - | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=abc\r\n\r\n
range: start overflowing -> 416 | 416 | keep | - | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=99999999999999999999-\r\n\r\n
range: empty list -> 200 | 200 | keep | B=@big.bin | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=\r\n\r\n
range: other unit -> 200 | 200 | keep | - | GET /big.bin HTTP/1.1\r\n${H}Range: items=0-9\r\n\r\n
range: unit in capitals | 206 | keep | H:Content-Range=bytes 0-9/100000 | GET /big.bin HTTP/1.1\r\n${H}Range: BYTES=0-9\r\n\r\n
range: several -> the whole file | 200 | keep | B=@big.bin; H:Content-Range! | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=0-9,20-29\r\n\r\n
range: several with a space -> the whole file | 200 | keep | B=@big.bin | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=0-9, 20-29\r\n\r\n
range: a trailing comma -> 416 | 416 | keep | - | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=0-9,\r\n\r\n
range: several with If-Range differing -> 200 | 200 | keep | - | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=0-1,3-4\r\nIf-Range: "x"\r\n\r\n
range: several overlapping -> 200 | 200 | keep | - | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=0-99999,0-99999\r\n\r\n
range: a backwards one is skipped | 206 | keep | H:Content-Range=bytes 0-9/100000 | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=5-2,0-9\r\n\r\n
range: an empty element | 416 | keep | - | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=,0-9\r\n\r\n
range: HEAD -> 206 headers | 206 | keep | B#0; H:Content-Range=bytes 0-9/100000; H:Content-Length=10 | HEAD /big.bin HTTP/1.1\r\n${H}Range: bytes=0-9\r\n\r\n
range: on a 404 | 404 | keep | - | GET /missing HTTP/1.1\r\n${H}Range: bytes=0-9\r\n\r\n
range: empty file, 0- -> 200 | 200 | keep | B#0 | GET /empty.txt HTTP/1.1\r\n${H}Range: bytes=0-\r\n\r\n
range: empty file, -5 -> 200 | 200 | keep | - | GET /empty.txt HTTP/1.1\r\n${H}Range: bytes=-5\r\n\r\n
range: empty file, 5- -> 416 | 416 | keep | H:Content-Range=bytes */0 | GET /empty.txt HTTP/1.1\r\n${H}Range: bytes=5-\r\n\r\n
range: If-Range ETag matches -> 206 | 206 | keep | B=@big.bin[0:10] | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=0-9\r\nIf-Range: $etag_big\r\n\r\n
range: If-Range ETag differs -> 200 | 200 | keep | B=@big.bin | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=0-9\r\nIf-Range: "1-2"\r\n\r\n
range: If-Range weak ETag -> 200 | 200 | keep | - | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=0-9\r\nIf-Range: W/$etag_big\r\n\r\n
range: If-Range date matches -> 206 | 206 | keep | H:Content-Range=bytes 0-9/100000 | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=0-9\r\nIf-Range: $lm_big\r\n\r\n
range: If-Range date differs -> 200 | 200 | keep | - | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=0-9\r\nIf-Range: $lm\r\n\r\n
range: If-Range differs, 416 range -> 200 | 200 | keep | - | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=99999999-\r\nIf-Range: "1-2"\r\n\r\n
range: with If-None-Match -> 304 | 304 | keep | - | GET /big.bin HTTP/1.1\r\n${H}Range: bytes=0-9\r\nIf-None-Match: $etag_big\r\n\r\n
EOF
}
