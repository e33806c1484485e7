"""``python -m askpro.api [FILE]``: print the route table, or regenerate it inside FILE
(``docs/api-auth.md``). An entry point above the composition root: nothing imports it."""

from __future__ import annotations

import sys
from pathlib import Path

from askpro.api.route_table import render_document, render_markdown
from askpro.app import create_app
from askpro.config import load_settings


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    app = create_app(load_settings(_env_file=None))
    if not args:
        print(render_markdown(app))
        return 0
    target = Path(args[0])
    target.write_text(render_document(target.read_text(), app))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
