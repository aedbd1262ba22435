"""Run the `nttd` command line in-process (as `nttd ARGS` would run, without the
2-second interpreter start), with its own environment, working folder and
standard input, capturing what it prints."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

from nttd.cli import build_parser, run


async def nttd(*args: str, env: dict[str, str], cwd: Path, stdin: str | None = None,
               ) -> tuple[int, str, str]:
    """(exit code, standard output, standard error) of `nttd ARGS`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NTTD_")}
    environ.update(env)
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        with contextlib.chdir(cwd), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            try:
                args_ns = build_parser().parse_args(list(args))
            except SystemExit as exc:  # argparse refuses the command line
                return int(exc.code or 0), out.getvalue(), err.getvalue()
            code = await run(args_ns, environ)
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()
