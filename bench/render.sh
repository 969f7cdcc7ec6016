#!/bin/sh
# render.sh [DIR] -- results.md and results.png from the samples bench/run.sh
# kept in DIR (default bench): results.tsv and results-meta.tsv. Lets the
# report or the chart change without measuring again.
set -eu
cd "$(dirname "$0")/.."
out=${1:-bench}
[ -f "$out/results.tsv" ] && [ -f "$out/results-meta.tsv" ] \
	|| { echo "render: no $out/results.tsv and results-meta.tsv" >&2; exit 1; }
python3 bench/report.py "$out/results.tsv" "$out/results-meta.tsv" \
	"$out/results.md" "$out/results.dat"
gnuplot -e "datafile='$out/results.dat'; outfile='$out/results.png'" bench/chart.gp
rm -f "$out/results.dat" "$out/results.dat.gp"
