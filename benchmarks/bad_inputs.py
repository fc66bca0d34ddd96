"""A sweep of bad inputs across every command: tracebacks, modified user files, leftovers.

    python benchmarks/bad_inputs.py            # every case; `make bad-inputs`
    python benchmarks/bad_inputs.py --only text --keep

It builds a user folder (``bad_input_folder.make_user_folder``: damaged images, odd layouts,
malformed text files and configs, a pickled weights file, outputs of ordinary runs), then runs
each case as ``headstart ARGS`` would, in a fresh forked process whose working folder is the
case's own, and checks three things:

- tracebacks: a case's standard error holds a Python traceback (a crash instead of one line);
- modified user files: any file of the user folder changed, deleted or added (hashes before
  and after every case; a pickle payload that ran would add a file);
- leftover partial outputs: temporary files (``*.tmp``, ``.NAME.xxxxxxxx`` folders) and empty
  folders left in the case's folder or the user folder.

It prints one row per case and the three totals, and exits 1 unless all three are 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bad_input_cases import CASES  # noqa: E402

TEMPORARY = re.compile(r"(\.tmp$)|(^\..+\.[a-z0-9_]{8}$)|(^\..+\.old-\d+$)")


def option_cases() -> list[list[str]]:
    """One bad value for each checked option name (from the parsers; the table test in
    tests/cli/test_options.py covers every command x option x kind of bad value)."""
    from tests.cli.test_options import POSITIONALS, _parsers, bad_values

    out, seen = [], set()
    for command, parser in _parsers().items():
        for action in parser._actions:
            rule = getattr(action.type, "rule", None)
            if rule is None or action.dest in seen:
                continue
            seen.add(action.dest)
            value = bad_values(rule)[len(seen) % len(bad_values(rule))]
            out.append(
                [
                    *command.split(),
                    *POSITIONALS.get(command, []),
                    f"{action.option_strings[0]}={value}",
                ]
            )
    return out


def snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            out[str(p.relative_to(root)) + "/"] = ""
    return out


def leftovers(root: Path, before: set[str] | None = None) -> list[str]:
    """Temporary files and empty folders under ``root`` (only new ones, given ``before``)."""
    found = []
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root)) + ("/" if p.is_dir() else "")
        if before is not None and rel in before:
            continue
        if TEMPORARY.search(p.name) or (p.is_dir() and not any(p.iterdir())):
            found.append(rel)
    return found


def run_forked(argv: list[str], cwd: Path, log: Path, timeout: float) -> tuple[int, float]:
    """Exit status of ``headstart *argv`` run in a forked child in ``cwd`` (-9: timed out)."""
    from headstart.cli.main import main

    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: a user's process
        code = 1
        try:
            os.chdir(cwd)
            for fd, suffix in ((1, ".out"), (2, ".err")):
                flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                os.dup2(os.open(f"{log}{suffix}", flags, 0o644), fd)
            code = main(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except BaseException:  # what a user would see: the traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    while time.perf_counter() - start < timeout:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.perf_counter() - start
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return -9, time.perf_counter() - start


def run_case(i: int, argv: list[str], work: Path, user_before: dict[str, str]) -> dict:
    user, case = work / "user", work / "cases" / f"{i:03d}"
    case.mkdir(parents=True)
    argv = [a.replace("{U}", str(user)).replace("{C}", str(case)) for a in argv]
    if any("{E}" in a for a in argv):  # commands that write into an embeddings folder
        shutil.copytree(user / "emb", case / "emb")
        argv = [a.replace("{E}", str(case / "emb")) for a in argv]
    case_before = set(snapshot(case))
    code, seconds = run_forked(argv, case, work / "logs" / f"{i:03d}", timeout=600)
    err = (work / "logs" / f"{i:03d}.err").read_text(errors="replace")
    now = snapshot(user)
    modified = sorted(
        k for k in user_before.keys() | now.keys() if user_before.get(k) != now.get(k)
    )
    left = leftovers(case, case_before) + [f"user/{x}" for x in leftovers(user, set(user_before))]
    return {
        "case": i,
        "argv": argv,
        "exit": code,
        "seconds": round(seconds, 1),
        "traceback": "Traceback (most recent call last)" in err or code == -9,
        "error_lines": sum(line.startswith("headstart: error") for line in err.splitlines()),
        "last_line": (err.strip().splitlines() or [""])[-1][:160],
        "modified": modified,
        "leftovers": left,
    }


def make_user_folder(user: Path) -> None:
    """Built in a child process: the sweep's own process never starts torch's thread pool,
    so that forking a case stays safe."""
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import bad_input_folder as b; "
    code += f"from pathlib import Path; b.make_user_folder(Path({str(user)!r}))"
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the cases whose command line holds this text")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="headstart-bad-inputs-"))
    os.environ.update(HEADSTART_CACHE=str(work / "cache"), HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    (work / "logs").mkdir()
    start = time.perf_counter()
    make_user_folder(work / "user")
    cases = [*CASES, *option_cases()]
    user_before = snapshot(work / "user")
    rows = []
    print(f"{len(cases)} cases; work folder {work}")
    for i, argv in enumerate(cases):
        if args.only and args.only not in " ".join(argv):
            continue
        row = run_case(i, argv, work, user_before)
        rows.append(row)
        flags = "T" * row["traceback"] + "M" * bool(row["modified"]) + "L" * bool(row["leftovers"])
        shown = " ".join(argv)[:90]
        print(f"{i:>3} exit {row['exit']:>3} {row['seconds']:>6.1f}s {flags or 'ok':<3} {shown}")
        if flags:
            print(f"      {row['last_line']} {row['modified'][:3]} {row['leftovers'][:3]}")
        user_before = snapshot(work / "user")  # attribute each change to one case only
    totals = {
        "cases": len(rows),
        "tracebacks": sum(r["traceback"] for r in rows),
        "modified_user_files": sum(len(r["modified"]) for r in rows),
        "leftover_partial_outputs": sum(len(r["leftovers"]) for r in rows),
        "exit_codes": {
            str(c): sum(r["exit"] == c for r in rows) for c in sorted({r["exit"] for r in rows})
        },
        "minutes": round((time.perf_counter() - start) / 60, 1),
    }
    (work / "report.json").write_text(json.dumps({"totals": totals, "cases": rows}, indent=1))
    print(json.dumps(totals))
    print(
        f"{totals['cases']} cases: {totals['tracebacks']} tracebacks, "
        f"{totals['modified_user_files']} modified user files, "
        f"{totals['leftover_partial_outputs']} leftover partial outputs"
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work} (report.json, logs/)")
    bad = totals["tracebacks"] + totals["modified_user_files"] + totals["leftover_partial_outputs"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
