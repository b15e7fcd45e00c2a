"""The ``stablebrowse`` command's implementation (extra ``cli``: typer + rich).

`stablebrowse_async.cli` is the entry point; nothing in the SDK core imports this package.
"""
