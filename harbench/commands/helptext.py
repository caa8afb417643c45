"""Help shared by every command: the text of common options (written once) and an example for
each sub-command, shown under its ``--help``."""

from __future__ import annotations

import argparse

# Help for options that many commands share, used where a command gives none of its own.
COMMON_HELP = {
    "db": "DuckDB results file (default: $HARBENCH_DB, else results/harbench.duckdb)",
    "suite": "only the runs this suite asked for (the suite's name, as in the store)",
    "format": "output format: a table for people, json for programs",
    "metric": "the metric to show (a stored metric such as macro_f1 or accuracy)",
    "output": "the file to write",
    "data_root": "folder holding one sub-folder per dataset (default: $HARBENCH_DATA)",
    "name": "a registered dataset's name (see `harbench data list`)",
    "method": "only this method (its name or label)",
    "dataset": "only this dataset",
}

# One or more examples per sub-command; the key is the command as typed after `harbench`.
EXAMPLES = {
    "export-model": "harbench export-model 3f2a9c -o adapted/\n"
                    "harbench export-model 3f2a9c -o adapted/ --check",
    "site": "harbench site -o site/\n"
            "harbench site -o site/ --db results/harbench.duckdb",
    "cache": "harbench cache verify\n"
             "harbench cache clear pretrain",
    "cache verify": "harbench cache verify\n"
                    "harbench cache verify --remove-bad",
    "cache clear": "harbench cache clear\n"
                   "harbench cache clear pretrain",
    "run": "harbench run suites/quick.yaml\n"
           "harbench run suites/peft.yaml --executor process --workers 2\n"
           "harbench run suites/quick.yaml --dry-run | cat",
    "validate": "harbench validate suites/peft.yaml\n"
                "harbench validate suites/peft.yaml --format json",
    "leaderboard": "harbench leaderboard --suite quick\n"
                   "harbench leaderboard --ci --against full --by dataset,model,method\n"
                   "harbench leaderboard --metric speedup_to_target --format json",
    "query": "harbench query \"SELECT method_label, count(*) FROM runs GROUP BY ALL\"\n"
             "harbench query \"SELECT * FROM metrics WHERE name = 'macro_f1'\" > f1.tsv\n"
             "harbench query \"SELECT run_id, error FROM runs WHERE status = 'failed'\" "
             "--format json",
    "export": "harbench export -o results/runs.csv\n"
              "harbench export --format jsonl --suite quick -o quick.jsonl\n"
              "harbench export --format markdown -o leaderboard.md\n"
              "harbench export --format snapshot --suite repro-lora-edge-hapt -o results/repro\n"
              "harbench export --to mlflow --tracking-uri mlruns/",
    "import": "harbench import results/repro-runs --db repro.duckdb\n"
              "harbench leaderboard --db repro.duckdb --suite repro-lora-edge-hapt",
    "show": "harbench show 3f9c2a\n"
            "harbench show 3f9c2a --format json",
    "plot": "harbench plot pareto --suite quick -o results/plots/pareto\n"
            "harbench plot sweep --param r --dataset pamap2",
    "report": "harbench report -o results/report.html\n"
              "harbench report repro -o results/REPRODUCTION.md",
    "plugins": "harbench plugins\n"
               "harbench plugins --format json",
    "models": "harbench models\n"
              "harbench models --count --model tinierhar --model tinyhar --dataset pamap2",
    "data": "harbench data list\n"
            "harbench data verify pamap2",
    "data list": "harbench data list --format json",
    "data info": "harbench data info pamap2",
    "data fetch": "harbench data fetch uci",
    "data verify": "harbench data verify pamap2 --subjects 101,102 --allow-partial",
    "data prepare": "harbench data prepare pamap2 --seconds 2.56 --step 1.28",
    "new-plugin": "harbench new-plugin mylab -o ../harbench-mylab",
}


class HelpFormatter(argparse.HelpFormatter):
    """Wraps prose, but keeps text that has line breaks (the examples) as it is written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "\n".join(indent + line for line in text.splitlines())
        return super()._fill_text(text, width, indent)


def commands(parser: argparse.ArgumentParser, path: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every sub-command parser under ``parser``, keyed by the command as typed ('data verify')."""
    out: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                key = f"{path} {name}".strip()
                out[key] = sub
                out.update(commands(sub, key))
    return out


def complete(parser: argparse.ArgumentParser) -> None:
    """Give every sub-command its example and every option without help the common text."""
    parser.formatter_class = HelpFormatter
    for key, sub in commands(parser).items():
        sub.formatter_class = HelpFormatter
        if key in EXAMPLES and not sub.epilog:
            lines = EXAMPLES[key].splitlines()
            head = "examples:" if len(lines) > 1 else "example:"
            sub.epilog = "\n".join([head, *(f"  {line}" for line in lines)])
        for action in sub._actions:
            if action.help is None and action.dest in COMMON_HELP:
                action.help = COMMON_HELP[action.dest]
