#!/usr/bin/env python3
"""Server RSS per idle connection, fresh and after a burst, for one or more ringline-server
binaries side by side (median of 3 alternating runs).

    ulimit -n 20000; bench/idle_memory.py [--connections N] SERVER [SERVER...]

For each binary: start it (--sink none --quiet, one thread when it has --threads), warm it
up (300 connections each send a burst and close: the shared receive buffers, a fixed 4 MiB,
become resident once the kernel writes into them, and that is not per connection), take
the RSS, then hold N connections and take the RSS growth per connection:
  fresh:  each connection is greeted and then silent;
  burst:  each connection sends 256 pipelined lines and one 60,000-byte line (near the
          default --max-line-bytes), reads all 257 acks, and is then silent.
The burst figure shows whether a connection that was busy keeps anything once idle.
"""
import argparse
import socket
import subprocess
import time

ACK = b'thank you for your message\n'
BURST = b'x\n' * 256 + b'y' * 60000 + b'\n'


def start(binary):
    help_text = subprocess.run([binary, '--help'], capture_output=True, text=True).stdout
    args = [binary, '--port', '0', '--sink', 'none', '--quiet', '--max-connections', '19000']
    if '--threads' in help_text:
        args += ['--threads', '1']
    server = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    line = server.stderr.readline()
    while 'listening on' not in line:
        if not line:
            raise SystemExit(f'{binary} did not start')
        line = server.stderr.readline()
    port = int(line.split('listening on ')[1].split()[0].rsplit(':', 1)[1])
    return server, port


def rss_kib(pid):
    with open(f'/proc/{pid}/status') as status:
        for line in status:
            if line.startswith('VmRSS'):
                return int(line.split()[1])
    raise SystemExit('no VmRSS')


def connect(port, count):
    socks = []
    for _ in range(count):
        sock = socket.create_connection(('127.0.0.1', port))
        sock.settimeout(30)
        sock.recv(64)  # the greeting
        socks.append(sock)
    return socks


def burst(socks):
    for sock in socks:
        sock.sendall(BURST)
    for sock in socks:
        got = 0
        while got < 257 * len(ACK):
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit('connection closed during the burst')
            got += len(chunk)


def measure(binary, connections, with_burst):
    server, port = start(binary)
    try:
        warm = connect(port, 300)
        burst(warm)
        for sock in warm:
            sock.close()
        time.sleep(1.5)  # the server returns freed heap once a second
        base = rss_kib(server.pid)
        socks = connect(port, connections)
        if with_burst:
            burst(socks)
        time.sleep(2.5)
        grown = rss_kib(server.pid) - base
        for sock in socks:
            sock.close()
        return grown * 1024 / connections
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--connections', type=int, default=5000)
    parser.add_argument('servers', nargs='+')
    options = parser.parse_args()
    results = {(binary, mode): [] for binary in options.servers for mode in ('fresh', 'burst')}
    for _ in range(3):
        for binary in options.servers:
            for mode in ('fresh', 'burst'):
                results[(binary, mode)].append(
                    measure(binary, options.connections, mode == 'burst'))
    for (binary, mode), values in results.items():
        values.sort()
        print(f'{binary} {mode}: median {values[1]:.0f} bytes per idle connection '
              f'(runs: {[round(v) for v in values]})')


if __name__ == '__main__':
    main()
