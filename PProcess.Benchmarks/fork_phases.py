"""Phases of each forked child's life from `perf script -F comm,pid,tid,time,event,trace` (fork_phases.sh).

A PMap child (one that starts a thread: its exit watch) goes through: the parent's post-fork check
and its 'G' (fork->G), the child's start until its 'R' (G->R), the job and its result's frame
(R->result), the child's _exit (result->exit), the parent's reaping (exit->reaped), and the
parent's preparation of the next fork (reaped->next fork). A bare child: fork->exit, exit->reaped.
"""
import re
import statistics
import sys
from collections import Counter

events = []
for line in open(sys.argv[1]):
    m = re.match(r'\s*(.+?)\s+(\d+)/(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)', line)
    if m:
        events.append((m[1], int(m[2]), int(m[3]), float(m[4]), m[5], m[6]))
forkers = Counter(pid for comm, pid, tid, ts, ev, tr in events if ev == 'sched:sched_process_fork' and comm == 'dotnet')
parent = forkers.most_common(1)[0][0]
forks = [(ts, int(re.search(r'child_pid=(\d+)', tr)[1])) for comm, pid, tid, ts, ev, tr in events
         if pid == parent and tid == parent and ev == 'sched:sched_process_fork']
by_pid = {}
for e in events:
    by_pid.setdefault(e[1], []).append(e)
mine = [e for e in events if e[1] == parent and e[2] == parent]
pmap = {k: [] for k in ['fork->G', 'G->R', 'R->result', 'result->exit', 'exit->reaped', 'reaped->next fork', 'total']}
bare = {k: [] for k in ['fork->exit', 'exit->reaped', 'total']}
for i, (start, child) in enumerate(forks[:-1]):
    following = forks[i + 1][0]
    own = by_pid.get(child, [])
    theirs = [e for e in mine if start < e[3] < following]
    exits = [e[3] for e in own if e[4] == 'syscalls:sys_enter_exit_group']
    reaped = [e[3] for e in theirs if e[4] == 'syscalls:sys_exit_wait4' and e[5].strip() not in ('0x0', '0')]
    if not exits or not reaped:
        continue
    if any(e[4] == 'sched:sched_process_fork' for e in own):
        one_byte = lambda es: [e[3] for e in es if e[4] == 'syscalls:sys_enter_write' and 'count: 0x00000001' in e[5]]
        go, ready = one_byte(theirs), one_byte(own)
        result = [e[3] for e in own if e[4] == 'syscalls:sys_enter_write' and 'count: 0x00000001' not in e[5] and e[3] > (ready or [0])[0]]
        if not (go and ready and result):
            continue
        for k, v in [('fork->G', go[0] - start), ('G->R', ready[0] - go[0]), ('R->result', result[-1] - ready[0]),
                     ('result->exit', exits[0] - result[-1]), ('exit->reaped', reaped[-1] - exits[0]),
                     ('reaped->next fork', following - reaped[-1]), ('total', following - start)]:
            pmap[k].append(v)
    else:
        for k, v in [('fork->exit', exits[0] - start), ('exit->reaped', reaped[-1] - exits[0]), ('total', following - start)]:
            bare[k].append(v)
for name, phases in [('PMap ForkPerElement, limit 1', pmap), ('bare fork loop', bare)]:
    print(name)
    for k, v in phases.items():
        if v:
            print(f'  {k:18} median {statistics.median(v) * 1e3:6.2f} ms   (n={len(v)})')
