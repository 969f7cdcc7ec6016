# tests/tally.sh -- sourced by the POSIX sh runners (tests/run.sh,
# tests/cross.sh, tests/musl.sh): their own checks, and the totals of the
# suites they run, each of which prints "N passed, N failed" last.
passed=0
failed=0
skipped=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1${2:+: $2}"; }
skip() { skipped=$((skipped + 1)); echo "skip - $1: $2"; }
oneline() { tr '\r\n' '  ' | cut -c1-300; }

# tally WHAT FILE STATUS -- adds the last "N passed, N failed" line of FILE,
# the output of WHAT, which exited with STATUS, to the totals and sets
# SUMMARY to it. No such line, or a failed exit with no failed check, is a
# failure of its own.
tally() {
	SUMMARY=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
	if [ -z "$SUMMARY" ]; then
		fail "$1: no summary line (exit status $3)"
		return 1
	fi
	_p=${SUMMARY%% passed*}
	_f=${SUMMARY#*passed, }
	_f=${_f%% failed*}
	passed=$((passed + _p))
	failed=$((failed + _f))
	if [ "$3" -ne 0 ] && [ "$_f" -eq 0 ]; then
		fail "$1 exited with status $3"
	fi
}

# total -- the last line, "N passed, N failed"; true when none failed
total() {
	if [ "$skipped" -gt 0 ]; then echo "($skipped skipped)"; fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# relabel LABEL FILE -- shows FILE's lines marked with LABEL: "ok - LABEL: ...",
# and "# LABEL: ..." for the lines that are not results
relabel() {
	sed -e "s/^\(ok\|FAIL\|skip\) - /\1 - $1: /" -e t -e "s/^/# $1: /" "$2"
}
