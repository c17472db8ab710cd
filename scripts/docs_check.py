#!/usr/bin/env python3
"""Walk the user guides literally and compare their quoted outputs with a real run.

`just docs-check` (or `python3 scripts/docs_check.py [GUIDE…]`) runs, from the
repository root, every fenced block of a guide whose lines start with `$ `:
the commands run in one bash session per guide (so `export` and `cd` carry
over) with `target/debug` first on PATH, and each command's output (stdout
and stderr together) must equal the lines quoted under it.

Rules that keep the guides readable and the check literal:
- a quoted line `…` or `… (anything)` stands for any number of lines;
- 64-hex hashes and recorded-at times (`2026-11-23T19:27:55Z`) differ from run
  to run and are compared as placeholders;
- `$ cat FILE` of a file that does not exist yet creates it with the quoted
  content (the guide shows the file, the check makes it);
- a fenced block whose first line is `# FILE …` or `#!…` followed by
  `# FILE …` is written to FILE (a helper script the guide asks you to save);
- `cargo …` commands are not run (the binary is built before the check);
- the commands run in a scratch directory standing for the repository root
  (with `fixtures/` and `target/` linked in), so nothing is left behind;
- a guide's scratch database (`/tmp/*.db` exported right before a
  `$ fundledger init`) is deleted before the guide runs. The auditor's guide
  continues on the three-year database of the scripts guide, so the guides
  run in order: officer, scripts, auditor.

Exit status 0 when every quoted output matches, 1 otherwise (each mismatch is
shown as a diff).
"""

import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDES = ["docs/guide-officer.md", "docs/guide-scripts.md", "docs/guide-auditor.md"]
HEX = re.compile(r"\b[0-9a-f]{64}\b")
TIME = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b")
MARK = "__DOCS_CHECK_END__"


def normalise(line):
    return TIME.sub("<time>", HEX.sub("<hash>", line.rstrip()))


def blocks(text):
    """Fenced blocks as lists of lines."""
    out, current = [], None
    for line in text.split("\n"):
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                out.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return out


def steps(block):
    """(command, expected output lines) for each `$ ` line of a block."""
    result = []
    for line in block:
        if line.startswith("$ "):
            result.append((line[2:], []))
        elif result:
            result[-1][1].append(line)
    return result


def file_block_name(block):
    lines = [l for l in block if l.strip()]
    if not lines:
        return None
    if lines[0].startswith("#!") and len(lines) > 1:
        lines = lines[1:]
    m = re.match(r"#\s+([\w.-]+\.(sh|py))\b", lines[0])
    return m.group(1) if m else None


def matches(expected, got):
    """Expected lines (with `…` wildcards) against actual lines."""
    exp = [normalise(l) for l in expected]
    act = [normalise(l) for l in got]
    while exp and exp[-1] == "":
        exp.pop()
    while act and act[-1] == "":
        act.pop()

    def walk(i, j):
        while i < len(exp):
            if exp[i].startswith("…"):
                return any(walk(i + 1, k) for k in range(j, len(act) + 1))
            if j >= len(act) or exp[i] != act[j]:
                return False
            i, j = i + 1, j + 1
        return j == len(act)

    return walk(0, 0)


class Shell:
    def __init__(self, cwd):
        env = dict(os.environ)
        env["PATH"] = os.path.join(ROOT, "target", "debug") + os.pathsep + env["PATH"]
        env.pop("FUNDLEDGER_DB", None)
        env["LC_ALL"] = "C.UTF-8"
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )

    def run(self, command):
        self.proc.stdin.write(f"{{ {command}\n}} 2>&1\necho {MARK}\n")
        self.proc.stdin.flush()
        lines = []
        for line in self.proc.stdout:
            if line.rstrip("\n") == MARK:
                return lines
            lines.append(line.rstrip("\n"))
        raise RuntimeError(f"shell ended while running: {command}")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def check_guide(path):
    text = open(os.path.join(ROOT, path), encoding="utf-8").read()
    fresh = r"\$ export FUNDLEDGER_DB=sqlite:(/tmp/[\w.-]+\.db)[^\n]*\n\$ fundledger init"
    for db in set(re.findall(fresh, text)):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
    # A scratch copy of "the repository root": the guides write files there.
    work = tempfile.mkdtemp(prefix="docs-check-")
    for name in ("fixtures", "target"):
        os.symlink(os.path.join(ROOT, name), os.path.join(work, name))
    shell = Shell(work)
    failures = 0
    try:
        for block in blocks(text):
            name = file_block_name(block)
            if name and not any(l.startswith("$ ") for l in block):
                with open(os.path.join(work, name), "w", encoding="utf-8") as f:
                    f.write("\n".join(block).rstrip("\n") + "\n")
                continue
            for command, expected in steps(block):
                m = re.match(r"cat (\S+)$", command)
                if m:
                    target = m.group(1)
                    full = target if os.path.isabs(target) else os.path.join(work, target)
                    if not os.path.exists(full):
                        with open(full, "w", encoding="utf-8") as f:
                            f.write("\n".join(expected).rstrip("\n") + "\n")
                if command.startswith("cargo "):
                    # `just docs-check` has built the binary already.
                    got = []
                else:
                    got = shell.run(command)
                if not matches(expected, got):
                    failures += 1
                    print(f"--- {path}: `$ {command}`")
                    for line in difflib.unified_diff(
                        [normalise(l) for l in expected],
                        [normalise(l) for l in got],
                        "guide",
                        "real run",
                        lineterm="",
                    ):
                        print(line)
    finally:
        shell.close()
        shutil.rmtree(work, ignore_errors=True)
    return failures


def main():
    guides = sys.argv[1:] or GUIDES
    total = 0
    for g in guides:
        n = check_guide(g)
        print(f"{g}: {'ok' if n == 0 else f'{n} quoted output(s) differ'}")
        total += n
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
