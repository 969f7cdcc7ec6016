#!/usr/bin/env bash
# tests/docs.sh -- the man pages and the README agree with the binary and
# the tree.
#
#   - every option `mtlsd -h` lists (read from the built binary, so a new
#     option counts as soon as it is in the usage text) has an entry in
#     mtlsd.8's OPTIONS section, and every option there is in `-h`;
#   - a default that `-h` gives ("default 1024") is in the man page's entry;
#   - mtlsd.8 and mtlsd-nginx.5 hold no @PLACEHOLDER@ (the checkout's page is
#     read as it is: man ./mtlsd.8) and render with groff -ww without a
#     warning;
#   - README.md: at most 200 lines; shows deploy/demo/nginx.conf verbatim;
#     its plain-flags command for server2, paths adapted, serves server1;
#     its layout paragraph names every top-level entry; the relative links
#     of the README files lead to files that exist.
#
# Prints one line per check and "N passed, N failed" last.  Needs groff
# (Debian's groff-base) for the rendering checks; without it they are
# skipped, except under CI=true.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

need_mtlsd
PAGES="mtlsd.8 mtlsd-nginx.5"

# ---- README.md -------------------------------------------------------------------

n=$(wc -l <README.md)
if [ "$n" -le 200 ]; then ok "README.md: at most 200 lines ($n)"; else fail "README.md: at most 200 lines" "$n"; fi

if python3 -c '
import re, sys
blocks = re.findall(r"^ *```[a-z]*\n(.*?)^ *```$", open("README.md").read(), re.S | re.M)
sys.exit(0 if open("deploy/demo/nginx.conf").read() in blocks else 1)'; then
	ok "README.md shows deploy/demo/nginx.conf verbatim"
else
	fail "README.md shows deploy/demo/nginx.conf verbatim"
fi

# The plain-flags command, on loopback with the test PKI and a copy of www/.
make_pki
WWW=$TMPD/www
mkdir -p "$WWW"
cp www/index.html "$WWW/"
PORT=$(free_port)
cmd=$(python3 -c '
import re, shlex
text = open("README.md").read()
block = re.search(r"\*\*Plain flags:\*\*\n *```\n(.*?)\n *```", text, re.S).group(1)
words = shlex.split(block.replace("\\\n", " "))
assert words[0] == "mtlsd", words
print("\n".join(words[1:]))' 2>&1) || cmd=
if [ -z "$cmd" ]; then
	fail "README.md: the plain-flags command is there"
else
	mapfile -t args < <(printf '%s\n' "$cmd" | sed -e "s,^0.0.0.0:443\$,127.0.0.1:$PORT," \
		-e "s,^/etc/nginx/certs/,$PKI/," -e "s,^/var/www/html\$,$WWW,")
	if start_mtlsd "${args[@]}" --access-log off; then
		code=$(curl -sS --max-time $((10 * TF)) --resolve "server2:$PORT:127.0.0.1" --cacert "$PKI/ca.crt" \
			--cert "$PKI/server1.crt" --key "$PKI/server1.key" -o "$TMPD/page" -w '%{http_code}' \
			"https://server2:$PORT/" 2>&1)
		if [ "$code" = 200 ] && cmp -s "$TMPD/page" www/index.html; then
			ok "README.md: the plain-flags command serves server1 (paths adapted)"
		else
			fail "README.md: the plain-flags command serves server1 (paths adapted)" "$code"
		fi
		stop_mtlsd
	else
		fail "README.md: the plain-flags command starts (paths adapted)" "$(cat "$SERVER_ERR")"
	fi
fi

# Every top-level entry is named in the layout paragraph.
if command -v git >/dev/null 2>&1 && entries=$(git ls-tree --name-only HEAD 2>/dev/null) && [ -n "$entries" ]; then
	sed -n '/^## Layout/,/^## /p' README.md >"$TMPD/layout"
	missing=
	for e in $entries; do
		grep -q -F -e "\`$e\`" -e "\`$e/" "$TMPD/layout" || missing="$missing $e"
	done
	expect_eq "README.md: the layout paragraph names every top-level entry" "" "$missing"
else
	skip "README.md: the layout paragraph" "not a git checkout"
fi

# Relative links of the README files lead to files that exist.
missing=
for md in README.md tests/README.md bench/README.md deploy/README.md; do
	[ -f "$md" ] || { missing="$missing $md"; continue; }
	for target in $(grep -o '\](\([^)#]*\)[#)]' "$md" | sed 's/^](//; s/[#)]$//' | grep -v '^[a-z]*://'); do
		[ -n "$target" ] || continue
		[ -e "$(dirname "$md")/$target" ] || missing="$missing $md:$target"
	done
done
expect_eq "README files: relative links lead to files that exist" "" "$missing"

# ---- placeholders, in the source ------------------------------------------------

for page in $PAGES; do
	if [ ! -f "$page" ]; then
		fail "$page exists"
		continue
	fi
	if left=$(grep -n -o '@[A-Z_]*@' "$page"); then
		fail "$page: no @PLACEHOLDER@ in the checkout's page" "$left"
	else
		ok "$page: no @PLACEHOLDER@ in the checkout's page"
	fi
done

if ! command -v groff >/dev/null 2>&1; then
	if [ "${CI:-}" = true ]; then
		fail "man pages: groff" "groff is not installed (apt-get install groff-base)"
	else
		skip "man pages: rendering and options" "groff is not installed (apt-get install groff-base)"
	fi
	summary
	exit
fi

# ---- rendering ---------------------------------------------------------------------

for page in $PAGES; do
	[ -f "$page" ] || continue
	out=$(groff -t -man -ww -z -Tutf8 "$page" 2>&1)
	expect_eq "$page: groff -ww renders it without a warning" "" "$out"
	# plain text without hyphenation, so that words stay whole
	groff -t -man -rHY=0 -Tascii -P-cbou "$page" >"$TMPD/$page.txt" 2>/dev/null
	if left=$(grep -n '@[A-Z_]*@' "$TMPD/$page.txt"); then
		fail "$page: no @PLACEHOLDER@ once rendered" "$left"
	else
		ok "$page: no @PLACEHOLDER@ once rendered"
	fi
done
[ -f mtlsd.8 ] || { summary; exit; }

# ---- options: -h against the man page -----------------------------------------------

# -h: each entry is a line indented by two or more spaces that starts with
# a dash; its options are in the first column (up to the first two spaces),
# its description follows, continued on lines indented further that do not
# start with a dash.  One line per option: "OPTION<TAB>description".
"${MTLSD_CMD[@]}" -h >"$TMPD/usage" 2>&1
expect_eq "mtlsd -h exits 0" 0 "$?"
python3 - "$TMPD/usage" >"$TMPD/h.tsv" <<'EOF'
import re, sys
entries = []
for line in open(sys.argv[1]):
    line = line.rstrip('\n')
    m = re.match(r'^ {2,}(-.*)$', line)
    if m:
        head, _, desc = re.split(r'( {2,}|$)', m.group(1), maxsplit=1)
        entries.append([re.findall(r'(?<![\w-])--?[A-Za-z][-A-Za-z]*', head), desc])
    elif entries and re.match(r'^ {4,}\S', line):
        entries[-1][1] += ' ' + line.strip()
for opts, desc in entries:
    for o in opts:
        print('%s\t%s' % (o, ' '.join(desc.split())))
EOF
# The man page: the OPTIONS section rendered; an entry is a tag at the
# section's first indentation that starts with a dash, its text runs to the
# next tag.
python3 - "$TMPD/mtlsd.8.txt" >"$TMPD/m.tsv" <<'EOF'
import re, sys
lines = open(sys.argv[1]).read().split('\n')
try:
    start = lines.index('OPTIONS')
except ValueError:
    sys.exit(0)
entries = []
for line in lines[start + 1:]:
    if re.match(r'^[A-Z]', line):       # the next section
        break
    m = re.match(r'^ {7}(-\S.*)$', line)
    if m:
        entries.append([re.findall(r'(?<![\w-])--?[A-Za-z][-A-Za-z]*', re.split(r' {2,}', m.group(1))[0]), ''])
    elif entries:
        entries[-1][1] += ' ' + line.strip()
for opts, text in entries:
    for o in opts:
        print('%s\t%s' % (o, ' '.join(text.split())))
EOF
cut -f1 "$TMPD/h.tsv" | sort -u >"$TMPD/h.opts"
cut -f1 "$TMPD/m.tsv" | sort -u >"$TMPD/m.opts"
n=$(wc -l <"$TMPD/h.opts")
if [ "$n" -ge 10 ]; then
	ok "mtlsd -h lists options ($n)"
else
	fail "mtlsd -h lists options" "found $n in: $(head -c 300 "$TMPD/usage")"
fi
expect_eq "every option of mtlsd -h is in mtlsd.8's OPTIONS" "" \
	"$(comm -23 "$TMPD/h.opts" "$TMPD/m.opts" | tr '\n' ' ')"
expect_eq "every option in mtlsd.8's OPTIONS is in mtlsd -h" "" \
	"$(comm -13 "$TMPD/h.opts" "$TMPD/m.opts" | tr '\n' ' ')"

# Defaults: "default X" in -h (X up to a space, comma, semicolon, colon or
# parenthesis) must be in the man page's entry for that option.
python3 - "$TMPD/h.tsv" "$TMPD/m.tsv" >"$TMPD/defaults.out" <<'EOF'
import re, sys
man = {}
for line in open(sys.argv[2]):
    o, _, text = line.rstrip('\n').partition('\t')
    man[o] = man.get(o, '') + ' ' + text
checked = 0
for line in open(sys.argv[1]):
    o, _, desc = line.rstrip('\n').partition('\t')
    if o not in man:
        continue                 # reported above
    for value in re.findall(r'default ([^\s,;:()]+)', desc):
        value = value.rstrip('.')
        checked += 1
        if value not in man[o]:
            print('problem: %s: -h says default %s, the man page does not' % (o, value))
print('checked', checked)
EOF
if grep -q '^problem:' "$TMPD/defaults.out"; then
	fail "defaults in -h are in mtlsd.8" "$(grep '^problem:' "$TMPD/defaults.out")"
elif grep -q '^checked [1-9]' "$TMPD/defaults.out"; then
	ok "defaults in -h are in mtlsd.8 ($(sed -n 's/^checked //p' "$TMPD/defaults.out") checked)"
else
	fail "defaults in -h are in mtlsd.8" "none found to check: $(cat "$TMPD/defaults.out")"
fi

summary
