# chart.gp - bench/results.png from report.py's data: every server's
# numbers as a ratio to nginx's (1 = nginx), costs on the left (lower is
# better), rates on the right (higher is better); mtlsd's targets are the
# black bars drawn over mtlsd's columns.
#   gnuplot -e "datafile='...'; outfile='...'" bench/chart.gp
# report.py writes DATAFILE.gp: series, mtlsd_series, colors, charttitle.
load datafile.".gp"
set terminal pngcairo size 1500,680 font "DejaVu Sans,10"
set output outfile
set multiplot layout 1,2 title "mtlsd and lighttpd as a ratio to nginx (dashed line = nginx), same machine, same run\n".charttitle font ",12"
set style data histogram
set style histogram clustered gap 1.5
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 2
set grid ytics
set key outside bottom center horizontal font ",9" autotitle columnheader
set bmargin 7
set xtics font ",9" nomirror
set ytics nomirror
set format y "%g"
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lc rgb "black" lw 1.5 dt 2
set ylabel "ratio to nginx"
# With n columns and a gap of 1.5 a column is 1/(n+1.5) wide and cluster i
# is centred on x = i; mtlsd's columns come first.
w = 1.0 / (series + 1.5)
tx = mtlsd_series * w + 0.04
target = series + 2
# Bars grow from the bottom of a log axis: keep it well below the smallest
# ratio, or a 0.13x bar disappears.
set yrange [0.03125:*]
set title "costs: CPU and memory (lower is better)"
plot for [c=2:series+1] datafile index 0 using c:xtic(1) lc rgb word(colors, c-1), \
     '' index 0 using ($0 - series / 2.0 * w - 0.02):(column(target)):(tx):(0) \
        with vectors nohead lw 4 lc rgb "black" title "mtlsd target"
set yrange [0.0625:*]
set title "rates (higher is better)"
plot for [c=2:series+1] datafile index 1 using c:xtic(1) lc rgb word(colors, c-1), \
     '' index 1 using ($0 - series / 2.0 * w - 0.02):(column(target)):(tx):(0) \
        with vectors nohead lw 4 lc rgb "black" title "mtlsd target"
unset multiplot
