"""`harbench export-model RUN -o DIR`: copy one run's saved models (adapter, merged, ONNX)."""

from __future__ import annotations

import argparse


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser(
        "export-model", help="write one run's saved adapter, merged model and ONNX file to DIR")
    export.add_argument("run", help="full run id or a unique prefix")
    export.add_argument("--output", "-o", required=True, help="folder to write the files to")
    export.add_argument("--db")
    export.add_argument("--check", action="store_true",
                        help="rebuild the run's test windows, reload the merged model (and the "
                        "peft adapter) and compare with the logits the run saved")
    export.set_defaults(handler=cmd_export_model)


def cmd_export_model(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    from harbench.artifacts import listing
    from harbench.commands.results import find_run
    from harbench.store import Store

    console = Console(highlight=False)
    with Store(args.db, read_only=True) as store:
        run_id = find_run(store, args.run)
        written = listing.export(store, run_id, args.output)
        config = json.loads(store.query("SELECT config FROM runs WHERE run_id = ?",
                                        [run_id])[1][0][0])
    for path in written:
        console.print(f"wrote {path}", markup=False)
    if args.check:
        from harbench.artifacts.check import reload_differences

        for name, diff in reload_differences(args.output, config).items():
            console.print(f"{name}: max |reloaded - saved| logit difference {diff:.3g}",
                          markup=False)
    return 0
