# Helpers the benchmarks share; each script sources it after its `cd` to the repository's root.

# median: the median of the numbers on stdin, one a line (the mean of the middle two for an even count).
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
