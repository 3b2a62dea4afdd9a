"""One prepared run of every GPU figure jlic owes, for a lent accelerator machine (see benchmarks/README.md).

- `benchmarks.accelerator.wheels`: the wheels jlic needs beyond the device image (Python 3.12, x86-64),
  their download and install commands, and the checks of a wheel folder and of an installed environment.
- `benchmarks.accelerator.prepare`: here, before the device call: downloads the wheels into `.whl/`, writes
  Kodak crops, Kodak eval images and training images into `.accel/`, and checks what travels against 64 MiB.
- `benchmarks.accelerator.run`: there, in one call: installs the wheels, then runs each stage (env, tests,
  sync, train_step, training) as a subprocess with its own time cap, writing JSON records and a log.
- `benchmarks.accelerator.stages`: the stages themselves (one subprocess each).

Only the standard library is imported by `wheels`, `prepare`'s size check and `run`, so the orchestrator
works before the wheels are installed.
"""
