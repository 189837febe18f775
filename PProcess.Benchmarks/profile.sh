#!/bin/sh
# Profiles one workload of `PProcess.Benchmarks profile` (Profile.cs) with perf, recording only the
# timed loop, and prints where the parent's and the child's time goes (docs/performance.md).
# Usage: PProcess.Benchmarks/profile.sh WORKLOAD [N] [socket|shm]   (after a Release build)
# Needs perf (Debian: apt-get install linux-perf). Samples on cpu-clock: a VM has no hardware counters.
set -eu
command -v perf >/dev/null || { echo "profile.sh: perf is not installed (Debian: apt-get install linux-perf)" >&2; exit 1; }
dir=$(mktemp -d /tmp/pprocess-profile.XXXXXX)
mkfifo "$dir/ctl"
dll="$(dirname "$0")/bin/Release/net10.0/PProcess.Benchmarks.dll"
DOTNET_PerfMapEnabled=1 PPROCESS_PERF_CONTROL="$dir/ctl" \
    perf record -q -e cpu-clock -F 10000 -g -D -1 --control "fifo:$dir/ctl" -o "$dir/perf.data" -- dotnet "$dll" profile "$@"
# A forked child runs the parent's compiled code: give it the parent's perf map.
parent=$(ls -t /tmp/perf-*.map | head -1)
for pid in $(perf report -i "$dir/perf.data" --sort pid --stdio -g none 2>/dev/null | sed -n 's/.* \([0-9][0-9]*\):.*/\1/p'); do
    [ -e "/tmp/perf-$pid.map" ] || ln -s "$parent" "/tmp/perf-$pid.map"
done
echo "== samples by process"
perf report -i "$dir/perf.data" --sort pid --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -6
for pid in $(perf report -i "$dir/perf.data" --sort pid --stdio -g none 2>/dev/null | sed -n 's/.* \([0-9][0-9]*\):.*/\1/p' | head -2); do
    echo "== process $pid: self time by symbol"
    perf report -i "$dir/perf.data" --pid "$pid" --no-children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
done
echo "perf data: $dir/perf.data"
