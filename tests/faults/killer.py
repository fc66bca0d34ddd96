"""Run ``headstart ARGS`` and SIGKILL the process at a chosen moment (a test helper).

    python killer.py MODE N ARGS...

MODE ``step``: at the N-th optimizer step (the middle of an epoch); ``rename``: at the N-th
write of a ``last`` checkpoint, after the temporary file is complete and before it replaces
the old one (``os.replace``), which leaves the temporary file behind; ``none``: no kill.
"""

from __future__ import annotations

import os
import signal
import sys


def _kill() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> int:
    mode, n, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    count = 0
    if mode == "step":
        from headstart.engine.loop import Loop

        update = Loop._update

        def killing_update(self, opt, loss):  # noqa: ANN001
            nonlocal count
            count += 1
            if count == n:
                _kill()
            update(self, opt, loss)

        Loop._update = killing_update  # type: ignore[method-assign]
    elif mode == "rename":
        replace = os.replace

        def killing_replace(src, dst, *a, **kw):  # noqa: ANN001
            nonlocal count
            if str(dst).endswith("last.safetensors"):
                count += 1
                if count == n:
                    _kill()
            replace(src, dst, *a, **kw)

        os.replace = killing_replace  # type: ignore[assignment]
    from headstart.cli.main import main as headstart

    return headstart(args)


if __name__ == "__main__":
    sys.exit(main())
