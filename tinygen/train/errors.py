"""The two kinds of user error the `tinygen` commands report in one line (no traceback):

- UsageError: the command line itself is wrong (an unknown --set key, a negative --steps, a
  setting that conflicts with the run being resumed): exit status 2;
- RunError: the command is well formed but cannot be carried out (no run in that folder, a
  corrupt checkpoint, a file in the way): exit status 1.

Each message names the argument or file, what was wrong and what to do.
"""


class UsageError(ValueError):
    exit_status = 2


class RunError(RuntimeError):
    exit_status = 1
