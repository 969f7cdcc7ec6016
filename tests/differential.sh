#!/usr/bin/env bash
# tests/differential.sh -- the raw requests of tests/httplib.sh's table, sent
# to nginx (the server mtlsd replaces: ssl_verify_client on, root, index) and
# to mtlsd, with the same PKI and the same document root. For every request
# it compares the answers: statuses in order and whether the connection was
# closed, header names in order, Content-Type, Content-Length, Last-Modified,
# Location, Connection, ETag, Accept-Ranges, Content-Range, Allow, and the
# body (error pages with the server's name taken out). Every difference must
# be listed in INTENDED below, with the reason; a listed difference that no
# longer occurs fails too, so the list stays true.
#
#   bash tests/differential.sh
#
# Needs nginx (Debian's nginx-light). Without it the suite fails when
# CI=true and is skipped otherwise.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
. tests/httplib.sh

# ---- the intended differences: REQUEST NAME | ASPECT | WHY -------------------
# (request names are the table's, * matches any; an aspect is "status" for
# the statuses and the close, "headers", "body" or "h:NAME")
cat >"$TMPD/intended" <<'INTENDED'
# (the server's name, in Server and at the foot of error pages, is taken
# out before comparing: mtlsd/0.1.0 is one byte shorter than nginx/1.22.1)
# -- asked for by the issue
method: *                                         | h:allow | 405 carries "Allow: GET, HEAD"; nginx sends no Allow
method: POST to a missing file -> 405             | status  | any method but GET/HEAD is 405; nginx looks for the file first for POST (404 here, 301 for a directory)
header: no colon -> 400                           | status  | a header line without a colon is 400; nginx takes it as a header with an empty value
link: ../secret outside the root -> 404           | status  | a symlink leading out of the root is not followed (404); nginx serves the file
link: /etc/passwd -> 404                          | status  | same: nginx serves /etc/passwd through the link
link: HEAD /etc/passwd -> 404                     | status  | same
link: range of /etc/passwd -> 404                 | status  | same
link: file in a directory outside -> 404          | status  | same, for a link to a directory outside the root
link: directory outside -> 404                    | status  | same (nginx: 301 to the slash form)
link: directory outside, with slash -> 404        | status  | same (nginx: 403, the directory has no index)
limit: ten 1000-byte headers (over 8 KiB) -> 400 too large | status | request line and headers together are capped at --max-head (8 KiB); nginx allows 8 KiB per line, 32 KiB in all (large_client_header_buffers 4 8k)
type: .mjs -> application/javascript              | h:content-type | the issue's type list; nginx 1.22's mime.types has no mjs (application/octet-stream)
type: .ttf -> font/ttf                            | h:content-type | the issue's type list; not in nginx 1.22's mime.types
type: .gz -> application/gzip                     | h:content-type | the issue's type list; not in nginx 1.22's mime.types
type: .tar -> application/x-tar                   | h:content-type | the issue's type list; not in nginx 1.22's mime.types
range: several -> the whole file                  | status  | several ranges get the whole file (200); nginx sends a multipart/byteranges 206
range: several with a space -> the whole file     | status  | same
# -- request bodies: bounded work
body: Content-Length over 1 MiB -> 413            | status  | after a 413 mtlsd closes at once; nginx closes only after its lingering close (5 s without data)
body: HEAD, Content-Length over 1 MiB -> 413      | status  | same
body: chunked over 1 MiB -> 413                   | status  | a chunked body over 1 MiB is refused (413, close) as soon as a chunk size shows it; nginx reads and drops any amount when it answers GET
body: chunk size overflowing -> 413               | status  | same: 413 for any chunk size over the limit; nginx 400 when the size overflows 2^63
body: Expect 100-continue on a 404 with a body -> close | status | an error answer with "Expect: 100-continue" and a body closes the connection (the client got no 100 and may never send the body); nginx reads on
# -- not worth nginx's behaviour
version: none (HTTP/0.9 request) -> 400           | status  | HTTP/0.9 is not spoken (400); nginx answers with the bare file
dir: index that is a directory -> 403             | status  | an index name that is a directory is 403; nginx redirects to INDEX/ (301)
special: unix socket -> 404                       | status  | a unix socket in the root is 404 like other files that are not regular; nginx answers 500 and closes
cond: *412*                                       | h:connection | after a 412 nginx says "Connection: keep-alive" but closes; mtlsd says close and closes
body: Expect 100-continue on a 412 -> 100, close  | h:connection | same
INTENDED

if ! command -v nginx >/dev/null 2>&1; then
	if [ "${CI:-}" = true ]; then
		fail "nginx installed" "nginx is needed for the differential test (apt-get install nginx-light)"
	else
		skip "differential test" "nginx is not installed (apt-get install nginx-light); CI=true makes this a failure"
	fi
	summary
	exit
fi
# Under an emulator (tests/cross.sh) the comparison says nothing new, and
# without openat2 mtlsd refuses symlinks inside the root too.
if ! native_only "differential test"; then
	summary
	exit
fi
if ! http_beneath; then
	skip "differential test" "no openat2 here: mtlsd refuses every symlink, nginx's answers differ"
	summary
	exit
fi
need_mtlsd

make_pki
WWW=$TMPD/www
http_fixtures "$WWW"
SRV=(-r "$WWW" -c "$PKI/server2.crt" -k "$PKI/server2.key" -C "$PKI/ca.crt" --access-log off)

# Both servers run at once, each answering the whole table.
declare -A PORTS PIDS
for target in nginx mtlsd; do
	PORTS[$target]=$(free_port)
	if ! TARGET=$target start_mtlsd -l "127.0.0.1:${PORTS[$target]}" "${SRV[@]}"; then
		fail "$target starts" "$(cat "$SERVER_ERR")"
		summary
		exit
	fi
	PIDS[$target]=$SERVER_PID
done
PORT=${PORTS[mtlsd]}
http_cases >"$TMPD/cases"
collectors=()
for target in nginx mtlsd; do
	http_run collect "${PORTS[$target]}" "$TMPD/cases" "$TMPD/$target.json" &
	collectors+=($!)
done
wait "${collectors[@]}"
for target in nginx mtlsd; do
	if kill -0 "${PIDS[$target]}" 2>/dev/null; then
		ok "$target still running after the table"
	else
		fail "$target still running after the table"
	fi
	stop_mtlsd "${PIDS[$target]}"
done
if [ -s "$TMPD/nginx.json" ] && [ -s "$TMPD/mtlsd.json" ]; then
	report_lines < <(http_compare "$TMPD/cases" "$TMPD/nginx.json" "$TMPD/mtlsd.json" "$TMPD/intended")
else
	fail "both servers answered the table"
fi
summary
