#!/usr/bin/env python3
# Memory per idle connection, side by side: starts each ringline-server binary given, opens
# N connections that each send one line and get its ack, then compare the server's RSS
# growth per connection (median of 3 alternating runs). Raise `ulimit -n` above N first.
# Usage: bench/idle_memory.py OLD_SERVER NEW_SERVER N
import socket, subprocess, sys, time, re
def measure(binary, n):
    p = subprocess.Popen([binary, '--port', '0', '--sink', 'none', '--quiet', '--max-connections', '20000'], stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    while 'listening on' not in line:
        line = p.stderr.readline()
    port = int(line.rsplit(':', 1)[1])
    def rss():
        for l in open(f'/proc/{p.pid}/status'):
            if l.startswith('VmRSS'):
                return int(l.split()[1])
    base = rss()
    socks = []
    for i in range(n):
        s = socket.create_connection(('127.0.0.1', port))
        s.recv(16)
        s.sendall(b'hello\n')
        socks.append(s)
    for s in socks:
        s.recv(64)   # its ack: the session has received, framed and acked, and now waits
    after = rss()
    for s in socks: s.close()
    p.terminate(); p.wait()
    return base, after
n = int(sys.argv[3])
results = {'old': [], 'new': []}
for r in range(3):
    for name, binary in (('old', sys.argv[1]), ('new', sys.argv[2])):
        base, after = measure(binary, n)
        results[name].append((after - base) * 1024 / n)
for name, vals in results.items():
    vals.sort()
    print(f"{name}: median {vals[1]:.0f} bytes per idle connection (runs: {[round(v) for v in vals]})")
