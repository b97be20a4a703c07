<?php
// The classic PHP socket-tutorial client that ringline-client replaces, reconstructed as
// the reference peer for the interop tests: connect, read the greeting, then for each
// message send it with "\n" and read one ack, all with socket_read(..., PHP_NORMAL_READ).
//
// Usage: php client.php [HOST [PORT [MESSAGE...]]]
//        (defaults 127.0.0.1 10008 "This data will Send to server!")
// Every line received from the server (greeting, then the acks) is printed to stdout
// exactly as received, terminator included, so tests can compare bytes.
// Exit codes: 0 all messages acked, 1 connection or I/O error, 3 refused ("not connect").

error_reporting(E_ALL);
set_time_limit(0);

$host = $argv[1] ?? '127.0.0.1';
$port = (int) ($argv[2] ?? 10008);
$messages = count($argv) > 3 ? array_slice($argv, 3) : ['This data will Send to server!'];
$host = trim($host, '[]');

function fail(string $what, $sock = null): void
{
    $error = $sock === null ? socket_last_error() : socket_last_error($sock);
    fwrite(STDERR, "$what failed: " . socket_strerror($error) . "\n");
    exit(1);
}

// Reads one line the way the original did; PHP_NORMAL_READ stops after "\n" or "\r".
function read_line($sock): string
{
    $line = @socket_read($sock, 2048, PHP_NORMAL_READ);
    if ($line === false || $line === '') {
        fail('socket_read()', $sock);
    }
    return $line;
}

function write_all($sock, string $data): void
{
    while ($data !== '') {
        $n = @socket_write($sock, $data);
        if ($n === false) {
            fail('socket_write()', $sock);
        }
        $data = substr($data, $n);
    }
}

$family = strpos($host, ':') !== false ? AF_INET6 : AF_INET;
if (($sock = socket_create($family, SOCK_STREAM, SOL_TCP)) === false) {
    fail('socket_create()');
}
if (@socket_connect($sock, $host, $port) === false) {
    fail("socket_connect($host, $port)", $sock);
}

$greeting = read_line($sock);
echo $greeting;
if (rtrim($greeting, "\r\n") === 'not connect') {
    socket_close($sock);
    exit(3);
}

foreach ($messages as $message) {
    write_all($sock, $message . "\n");
    echo read_line($sock);
}

socket_close($sock);
exit(0);
