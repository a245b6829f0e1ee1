#!/usr/bin/env python3
"""Network-boot one QEMU machine the way an M2 node boots, and report whether it reached a marker.

The machine has no disk: its NIC's iPXE ROM (or pxelinux, if ``--bootfile pxelinux.0``) DHCPs and
fetches ``--bootfile`` from QEMU's user-mode network, whose built-in TFTP server serves ``--tftp``.
The host's loopback is 10.0.2.2 inside the guest, so ``sanboot iscsi:10.0.2.2::<port>:1:<iqn>``
reaches a tgtd listening on 127.0.0.1.

``--iscsi-port PORT`` cuts the guest off instead (``restrict=on``: only QEMU's own DHCP/TFTP and
one forward remain): connections to ``--iscsi-address`` (default 10.0.2.100):PORT are forwarded
to 127.0.0.1:PORT, one ``busybox nc`` per connection (iPXE and then Linux each connect). libslirp
refuses a forward on 10.0.2.2 itself, so a script for a restricted guest must name the forward's
address: ``sanboot iscsi:10.0.2.100::<port>:1:<iqn>``.

The serial console is written to ``--serial-log``; the script polls it for ``--marker`` (a regex,
default ``M2-BOOT-MARKER``) and prints one line:

    marker after 12.3 s                 (exit 0)
    no marker (timeout after 60.0 s)    (exit 1)
    no marker (guest stopped after 8.1 s)  (exit 1: iPXE gave up, or the guest powered off)
    no marker (qemu exited with 1 after 0.2 s): <QEMU's error>

With ``--wait-exit`` it also waits, after the marker, for the guest to power off
(``guest stopped after N.N s``); a guest still running at the timeout is then a failure. On a
timeout or a stop without the marker it saves a QMP ``screendump`` (PNG) of the VGA screen next
to the serial log (iPXE prints its errors only there). It stops only the QEMU it started.
Standard library only, so it runs without M2's venv.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

MAC_RE = re.compile(r'^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$')
# A TFTP file name as QEMU's option parser will see it: no commas (option separator).
BOOTFILE_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._/-]*$')
IPV4_RE = re.compile(r'^10\.0\.2\.([0-9]{1,3})$')


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--tftp', required=True, help='directory served by the built-in TFTP server')
    p.add_argument('--bootfile', required=True,
                   help='file (relative to --tftp) DHCP tells the NIC to boot: a .ipxe script '
                        'for the iPXE ROM, or pxelinux.0')
    p.add_argument('--mac', required=True, help='the NIC MAC, e.g. 52:54:00:12:34:56')
    p.add_argument('--serial-log', required=True, help='file receiving the serial console')
    p.add_argument('--timeout', type=float, default=120.0, help='seconds (default 120)')
    p.add_argument('--marker', default='M2-BOOT-MARKER', help='regex to wait for')
    p.add_argument('--iscsi-port', type=int,
                   help='restrict the guest to ISCSI_ADDRESS:PORT, forwarded to 127.0.0.1:PORT')
    p.add_argument('--iscsi-address', default='10.0.2.100',
                   help='guest-side address of the --iscsi-port forward (default 10.0.2.100; '
                        'never 10.0.2.2, which libslirp refuses)')
    p.add_argument('--timeline', default='M2-',
                   help='print when each serial line matching this regex first appears '
                        '(default "M2-"; "" for none)')
    p.add_argument('--wait-exit', action='store_true',
                   help='after the marker, wait for the guest to power off')
    p.add_argument('--memory', type=int, default=256, help='MiB (default 256)')
    p.add_argument('--nic-model', default='e1000', help='QEMU NIC model (default e1000)')
    p.add_argument('--qemu', default='qemu-system-x86_64', help='QEMU binary')
    p.add_argument('--screendump', help='where to save the screen on failure '
                                        '(default: SERIAL_LOG.png; .ppm for PPM)')
    p.add_argument('--print-command', action='store_true', help='print the QEMU command line')
    args = p.parse_args(argv)
    if not os.path.isdir(args.tftp):
        p.error('--tftp %s is not a directory' % args.tftp)
    if not BOOTFILE_RE.match(args.bootfile) or '..' in args.bootfile:
        p.error('--bootfile %r: use a plain relative file name' % args.bootfile)
    if not os.path.isfile(os.path.join(args.tftp, args.bootfile)):
        p.error('--bootfile %s not found in %s' % (args.bootfile, args.tftp))
    if not MAC_RE.match(args.mac):
        p.error('--mac %r is not a MAC address' % args.mac)
    for opt, path in (('--tftp', args.tftp), ('--serial-log', args.serial_log)):
        if ',' in os.path.abspath(path):
            p.error('%s path must not contain a comma (QEMU option separator)' % opt)
    if args.iscsi_port is not None and not 0 < args.iscsi_port < 65536:
        p.error('--iscsi-port out of range')
    m = IPV4_RE.match(args.iscsi_address)
    if not m or not 100 <= int(m.group(1)) <= 254:
        # 10.0.2.2/.3 are slirp's own, .15-.30 its DHCP pool.
        p.error('--iscsi-address must be 10.0.2.100 to 10.0.2.254')
    return args


def qemu_command(args, serial_log, qmp_path):
    netdev = 'user,id=n0,tftp=%s,bootfile=%s' % (os.path.abspath(args.tftp), args.bootfile)
    if args.iscsi_port:
        # "cmd:" runs one relay per guest connection; a "tcp:" chardev would connect once at
        # start-up and could not serve iPXE's connection and then Linux's.
        netdev += (',restrict=on,guestfwd=tcp:%s:%d-cmd:%s nc 127.0.0.1 %d'
                   % (args.iscsi_address, args.iscsi_port, shutil.which('busybox') or 'busybox',
                      args.iscsi_port))
    return [args.qemu, '-accel', 'tcg', '-m', str(args.memory),
            '-netdev', netdev,
            '-device', '%s,netdev=n0,mac=%s' % (args.nic_model, args.mac.lower()),
            # Network boot only; -no-reboot makes a guest reboot (iPXE "exit", panic=-1) a
            # shutdown, so failures end fast instead of looping, and -no-shutdown keeps QEMU
            # up after it so the screen can still be saved (this script then quits QEMU).
            '-boot', 'order=n,reboot-timeout=1000', '-no-reboot', '-no-shutdown',
            '-display', 'none', '-vga', 'std',
            '-serial', 'file:%s' % serial_log,
            '-qmp', 'unix:%s,server=on,wait=off' % qmp_path,
            '-nodefaults']


def qmp(qmp_path, *commands):
    """Run QMP commands on a fresh connection; their replies, or None if QEMU is unreachable."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(qmp_path)
            f = s.makefile('rw')
            f.readline()  # greeting
            replies = []
            for cmd in ({'execute': 'qmp_capabilities'},) + commands:
                f.write(json.dumps(cmd) + '\n')
                f.flush()
                while True:
                    line = f.readline()
                    if not line:
                        return None
                    reply = json.loads(line)
                    if 'return' in reply or 'error' in reply:  # not an event
                        replies.append(reply)
                        break
            return replies[1:]
    except (OSError, ValueError):
        return None


def guest_stopped(qmp_path):
    """True once the guest powered off or asked to reboot (-no-shutdown keeps QEMU up)."""
    replies = qmp(qmp_path, {'execute': 'query-status'})
    return bool(replies) and replies[0].get('return', {}).get('status') == 'shutdown'


def screendump(qmp_path, out):
    # PNG when QEMU can (7.1+): an image viewer opens it; PPM otherwise.
    dump = {'filename': out}
    if out.endswith('.png'):
        dump['format'] = 'png'
    replies = qmp(qmp_path, {'execute': 'screendump', 'arguments': dump})
    return bool(replies) and 'error' not in replies[0]


def read_log(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')
    except FileNotFoundError:
        return ''


class Timeline:
    """Prints each new complete serial line matching a regex with the time it was first seen."""

    def __init__(self, pattern, start):
        self.regex = re.compile(pattern) if pattern else None
        self.start = start
        self.done = 0  # characters of the log already looked at

    def update(self, text):
        if self.regex is None:
            return
        end = text.rfind('\n') + 1
        for line in text[self.done:end].splitlines():
            if self.regex.search(line):
                print('  %5.1f s  %s' % (time.monotonic() - self.start, line.strip()), flush=True)
        self.done = max(self.done, end)


def stop(proc, qmp_path):
    if proc.poll() is None:
        qmp(qmp_path, {'execute': 'quit'})
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            pass
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(args):
    marker = re.compile(args.marker)
    serial_log = os.path.abspath(args.serial_log)
    open(serial_log, 'w').close()
    tmp = tempfile.mkdtemp(prefix='m2-boot-node-')
    qmp_path = os.path.join(tmp, 'qmp.sock')
    cmd = qemu_command(args, serial_log, qmp_path)
    if args.print_command:
        print(' '.join(cmd), flush=True)
    start = time.monotonic()
    # QEMU's stderr goes to a file: a pipe nobody reads could fill up and stall it.
    err_path = os.path.join(tmp, 'qemu.err')
    with open(err_path, 'wb') as err_file:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err_file, start_new_session=True)
    found_at = None
    result = None
    timeline = Timeline(args.timeline, start)
    shot = args.screendump or serial_log + '.png'

    def check_marker():
        nonlocal found_at
        if found_at is None and marker.search(read_log(serial_log)):
            found_at = time.monotonic() - start
            print('marker after %.1f s' % found_at, flush=True)

    try:
        while True:
            elapsed = time.monotonic() - start
            timeline.update(read_log(serial_log))
            check_marker()
            if found_at is not None and not args.wait_exit:
                result = 0
                break
            rc = proc.poll()
            if rc is not None:
                # QEMU itself failed (bad option, crash): a guest stop would have kept it up.
                check_marker()
                with open(err_path, 'rb') as f:
                    err = f.read().decode('utf-8', 'replace').strip()
                print('%s (qemu exited with %d after %.1f s)%s'
                      % ('qemu failed' if found_at is not None else 'no marker', rc, elapsed,
                         (': ' + err) if err else ''), flush=True)
                result = 1
                break
            if guest_stopped(qmp_path):
                check_marker()
                if found_at is None:
                    # Typically iPXE's "exit 1" after a failed sanboot: its reason is on screen.
                    print('no marker (guest stopped after %.1f s)' % elapsed, flush=True)
                    if screendump(qmp_path, shot):
                        print('screen saved to %s' % shot, flush=True)
                    result = 1
                else:
                    print('guest stopped after %.1f s' % elapsed, flush=True)
                    result = 0
                break
            if elapsed >= args.timeout:
                if found_at is None:
                    print('no marker (timeout after %.1f s)' % elapsed, flush=True)
                else:
                    print('no poweroff (timeout after %.1f s)' % elapsed, flush=True)
                result = 1
                if screendump(qmp_path, shot):
                    print('screen saved to %s' % shot, flush=True)
                break
            time.sleep(0.2)
    finally:
        stop(proc, qmp_path)
        timeline.update(read_log(serial_log) + '\n')
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _terminate(signum, frame):
    # Unwind through run()'s "finally" so our QEMU (its own session) is stopped too.
    raise SystemExit(128 + signum)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    if shutil.which(args.qemu) is None:
        print('no marker (%s not found: run tools/boot-image.sh install)' % args.qemu)
        return 1
    return run(args)


if __name__ == '__main__':
    sys.exit(main())
