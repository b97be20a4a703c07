<?php
// The classic PHP socket-tutorial server that ringline replaces, reconstructed as the
// reference peer for the interop tests. Kept deliberately close to the original: one
// process, socket_select() over all clients, blocking socket_read(..., PHP_NORMAL_READ).
//
// Usage: php server.php [HOST [PORT [MAX_CLIENTS]]]   (defaults 127.0.0.1 10008 10)
// PORT 0 picks a free port. After bind and listen it prints `listening on HOST:PORT` to
// stderr (IPv6 as `[::1]:PORT`). Each received line goes to stdout, without its terminator.
//
// Known quirks of the original, kept on purpose (ringline does not share them):
// - PHP_NORMAL_READ stops at "\n" OR "\r", so a lone "\r" ends a line, and a line longer
//   than 2048 bytes arrives (and is acked) in pieces.
// - The read is blocking and byte by byte: one client with a partial line stalls everyone.
// - A trailing partial line at EOF is dropped, because PHP_NORMAL_READ returns false then.
// - No signal handling: SIGTERM ends it with the default action (status 128 + 15). A
//   pcntl handler would race with the blocking select (PHP runs handlers between opcodes,
//   so a signal that lands just before select is handled only after select returns).

error_reporting(E_ALL);
set_time_limit(0);

$host = $argv[1] ?? '127.0.0.1';
$port = (int) ($argv[2] ?? 10008);
$max_clients = (int) ($argv[3] ?? 10);

const GREETING = "connect\n";
const REFUSAL = "not connect\n";
const ACK = "Thank you client , you data is Received success \n";

$family = strpos($host, ':') !== false ? AF_INET6 : AF_INET;
if (($sock = socket_create($family, SOCK_STREAM, SOL_TCP)) === false) {
    fwrite(STDERR, "socket_create() failed: " . socket_strerror(socket_last_error()) . "\n");
    exit(1);
}
socket_set_option($sock, SOL_SOCKET, SO_REUSEADDR, 1);
if (@socket_bind($sock, $host, $port) === false || @socket_listen($sock, 128) === false) {
    fwrite(STDERR, "bind/listen on $host:$port failed: " . socket_strerror(socket_last_error($sock)) . "\n");
    exit(1);
}
socket_getsockname($sock, $bound_host, $bound_port);
$shown = $family === AF_INET6 ? "[$bound_host]" : $bound_host;
fwrite(STDERR, "listening on $shown:$bound_port\n");

$clients = [];     // id => socket
$after_cr = [];    // id => true when the last read ended with "\r"
$next_id = 0;

function close_client(int $id): void
{
    global $clients, $after_cr;
    socket_close($clients[$id]);
    unset($clients[$id], $after_cr[$id]);
}

while (true) {
    $read = $clients;
    $read[-1] = $sock;
    $write = null;
    $except = null;
    if (@socket_select($read, $write, $except, null) < 1) {
        continue;
    }

    if (isset($read[-1])) {
        unset($read[-1]);
        if (($new = @socket_accept($sock)) !== false) {
            if (count($clients) < $max_clients) {
                $id = $next_id++;
                $clients[$id] = $new;
                $after_cr[$id] = false;
                socket_write($new, GREETING);
            } else {
                socket_write($new, REFUSAL);
                socket_close($new);
            }
        }
    }

    foreach ($read as $id => $client) {
        // false on EOF (PHP_NORMAL_READ reports it as ECONNRESET) and on errors.
        $data = @socket_read($client, 2048, PHP_NORMAL_READ);
        if ($data === false || $data === '') {
            close_client($id);
            continue;
        }
        // "a\r\n" reads as "a\r" and then "\n": that "\n" ends no new line.
        if ($data === "\n" && $after_cr[$id]) {
            $after_cr[$id] = false;
            continue;
        }
        $after_cr[$id] = substr($data, -1) === "\r";
        $line = rtrim($data, "\r\n");
        fwrite(STDOUT, $line . "\n");
        fflush(STDOUT);
        if (@socket_write($client, ACK) === false) {
            close_client($id);
        }
    }
}
