"""`python -m jlic COMMAND ...` / `jlic COMMAND ...`: the one command shell.

Every subcommand is a module of this package with a `main(argv) -> int`; each parses its flags, reads the
environment, and calls library functions with explicit arguments. CLI helpers live in `jlic.commands.common`
and nowhere else; nothing below this package imports it.
"""

from __future__ import annotations

import importlib
import sys

# command -> "module:function"; each function takes argv (list[str]) and returns an exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "compress": ("jlic.commands.coding:compress_main", "encode an image into a .jlic bitstream"),
    "decompress": ("jlic.commands.coding:decompress_main", "decode a .jlic bitstream into a PNG"),
    "eval": ("jlic.commands.coding:eval_main", "real-bytes bpp, PSNR, MS-SSIM of a checkpoint on a folder"),
    "plot": ("jlic.commands.plot:main", "RD curves and BD-rate table from workdirs and anchors"),
    "baselines": ("jlic.commands.baselines:main", "RD curves of classic codecs (JPEG, WebP, ...)"),
    "convert-deterministic": ("jlic.commands.convert:main",
                              "checkpoint -> one that compresses in the deterministic (any-device) mode"),
    "import-compressai": ("jlic.commands.import_compressai:main", "a CompressAI state_dict as a checkpoint"),
    "pretrained": ("jlic.commands.pretrained:main", "download CompressAI's zoo weights as a jlic checkpoint"),
    "reproduce": ("jlic.commands.reproduce:main", "RD curve of CompressAI's zoo weights, jlic's bitstreams"),
}


def _usage() -> str:
    lines = ["usage: python -m jlic COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<18} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"jlic: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    if name in ("compress", "decompress"):  # overfitted per-image codecs: compress --overfit, their .jlic files
        from jlic.commands import overfit as overfit_cli

        if overfit_cli.wants(name, rest):
            return int(overfit_cli.main(name, rest) or 0)
    module, func = COMMANDS[name][0].split(":")
    return int(getattr(importlib.import_module(module), func)(rest) or 0)
