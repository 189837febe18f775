#!/bin/sh
# Where the time of a fork per element goes: traces `PProcess.Benchmarks fork-phases` (ForkPhases.cs)
# with perf's tracepoints (fork, exit, write, wait4) and prints the median of each phase of a
# PMap child's life beside a bare fork loop's (docs/performance.md, "Fork per element: where the time goes").
# Usage: PProcess.Benchmarks/fork_phases.sh [N]   (after a Release build; needs perf and root, or perf_event_paranoid <= 1)
set -eu
command -v perf >/dev/null || { echo "fork_phases.sh: perf is not installed (Debian: apt-get install linux-perf)" >&2; exit 1; }
dir=$(mktemp -d /tmp/pprocess-forkphases.XXXXXX)
dll="$(dirname "$0")/bin/Release/net10.0/PProcess.Benchmarks.dll"
perf record -q -o "$dir/perf.data" -e sched:sched_process_fork -e sched:sched_process_exit \
    -e syscalls:sys_enter_write -e syscalls:sys_exit_wait4 -e syscalls:sys_enter_exit_group -- dotnet "$dll" fork-phases "${1:-200}"
perf script -i "$dir/perf.data" -F comm,pid,tid,time,event,trace > "$dir/events.txt" 2>/dev/null
python3 "$(dirname "$0")/fork_phases.py" "$dir/events.txt"
echo "events: $dir/events.txt"
