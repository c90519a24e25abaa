#!/usr/bin/env python3
"""pty_prompt.py -- drive `phivault user add` on a real pseudo-terminal.

    pty_prompt.py MODE PASSWORD -- COMMAND [ARGS...]

Runs COMMAND with a new pty as its stdin, stdout, stderr and controlling
terminal (so Ctrl-C typed into it is a real SIGINT from the tty driver),
answers its password prompts as a person would, and prints one JSON
object describing what the terminal showed:

  exit       exit status, or -N when killed by signal N
  echoed     true when PASSWORD appears anywhere in what the terminal
             displayed (echo, prompts, messages)
  prompts    how many times "assword" appeared in the transcript
  echo_off   whether ECHO was off in the tty while the first prompt was
             up (null if no prompt appeared)
  echo_after whether ECHO is on again after the process ended
  transcript what the terminal displayed, with PASSWORD replaced by
             <PASSWORD> (safe to print on failure)

MODE: "twice" types PASSWORD at each prompt; "mismatch" types a
different second password; "sigint" types half of it, then Ctrl-C;
"sigterm" types half of it, then sends SIGTERM. When no prompt appears
within a few seconds (an old build without prompts), the password is
typed anyway, as a person would, so the echo is caught.
"""

import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import termios
import time

PROMPT_WAIT = 5.0
EXIT_WAIT = 30.0


class Tty:
    def __init__(self, argv):
        self.master, self.slave = os.openpty()
        # a sane interactive terminal: canonical, echo on, signals on
        attrs = termios.tcgetattr(self.slave)
        attrs[3] |= termios.ECHO | termios.ICANON | termios.ISIG
        termios.tcsetattr(self.slave, termios.TCSANOW, attrs)
        self.out = b""

        def become_terminal_owner():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            argv, stdin=self.slave, stdout=self.slave, stderr=self.slave,
            start_new_session=True, preexec_fn=become_terminal_owner,
            close_fds=True)

    def pump(self, seconds):
        """Reads what the terminal shows for up to `seconds`."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.master], [], [], left)
            if not r:
                return
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.out += chunk

    def wait_for(self, text, count, seconds=PROMPT_WAIT):
        end = time.monotonic() + seconds
        while self.out.count(text) < count and time.monotonic() < end:
            if self.proc.poll() is not None:
                self.pump(0.2)
                break
            self.pump(0.1)
        return self.out.count(text) >= count

    def echo_is_on(self):
        return bool(termios.tcgetattr(self.slave)[3] & termios.ECHO)

    def type(self, data):
        os.write(self.master, data)


def main():
    mode, password = sys.argv[1], sys.argv[2]
    argv = sys.argv[sys.argv.index("--") + 1:]
    pw = password.encode()
    t = Tty(argv)
    echo_off = None
    if t.wait_for(b"assword", 1):
        time.sleep(0.1)     # the prompt is written just after tcsetattr
        echo_off = not t.echo_is_on()
    if mode in ("twice", "mismatch"):
        t.type(pw + b"\r")
        t.wait_for(b"assword", 2)
        t.type((pw if mode == "twice" else pw + b"-other") + b"\r")
    elif mode == "sigint":
        t.type(pw[: len(pw) // 2])
        time.sleep(0.2)
        t.type(b"\x03")     # the tty driver turns it into SIGINT
    elif mode == "sigterm":
        t.type(pw[: len(pw) // 2])
        time.sleep(0.2)
        t.proc.send_signal(signal.SIGTERM)
    else:
        sys.exit("unknown mode " + mode)
    end = time.monotonic() + EXIT_WAIT
    while t.proc.poll() is None and time.monotonic() < end:
        t.pump(0.1)
    if t.proc.poll() is None:
        t.proc.kill()
    t.proc.wait()
    t.pump(0.3)
    half = pw[: len(pw) // 2]
    echoed = pw in t.out or (mode.startswith("sig") and half in t.out)
    print(json.dumps({
        "exit": t.proc.returncode,
        "echoed": echoed,
        "prompts": t.out.count(b"assword"),
        "echo_off": echo_off,
        "echo_after": t.echo_is_on(),
        "transcript": t.out.replace(pw, b"<PASSWORD>")
                           .replace(half, b"<HALF>")
                           .decode("utf-8", "replace"),
    }))


if __name__ == "__main__":
    main()
