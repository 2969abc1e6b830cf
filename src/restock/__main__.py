"""Command line: ``python -m restock {intake,run,demo,po,bench}``.

Errors a user can fix (a bad file, an unknown parameter, a missing store) print one
clear line to stderr and exit with 2; a failed notebook in a run exits with 1.
"""

from __future__ import annotations

import argparse
import json
import sys

from restock import config

PLATFORMS = ("auto", "douyin", "douyin_after_sales", "tiktok", "generic", "template")


def _intake(args: argparse.Namespace) -> int:
    from restock.intake import import_files

    summary = import_files(
        args.files, store_path=args.store, platform=args.platform, mapping=args.mapping, shop=args.shop
    )
    if args.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(summary.text())
    return 0


def _run(args: argparse.Namespace) -> int:
    from restock.batch import run

    run(args.config, as_of=args.as_of, store_path=args.store, out_dir=args.out)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from restock.demo import generate

    manifest = generate(args.out, skus=args.skus, days=args.days, seed=args.seed, end=args.end)
    print(f"DEMO shop written to {args.out}: {manifest['skus']} SKUs × {manifest['days']} days, "
          f"files: {', '.join(sorted(manifest['files']))}")
    return 0


def _po_import(args: argparse.Namespace) -> int:
    from restock.po import import_buyer_workbook

    counts = import_buyer_workbook(args.file, args.store)
    print(json.dumps(counts, ensure_ascii=False, default=str))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from restock.bench import main as bench_main

    return bench_main(sizes=args.sizes, out_dir=args.out, keep=args.keep, intake_lines=args.intake_lines,
                      reuse=args.reuse)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="restock", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("intake", help="import exports into the store")
    p.add_argument("files", nargs="+", help="export files or folders of them")
    p.add_argument("--platform", choices=PLATFORMS, default="auto")
    p.add_argument("--mapping", help="YAML column mapping for a generic export")
    p.add_argument("--shop", help="shop name for platform exports (their files do not carry it)")
    p.add_argument("--store", default=str(config.DEFAULT_STORE), help="DuckDB store (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=_intake)

    p = sub.add_parser("run", help="run every notebook into reports/<as-of>/")
    p.add_argument("--config", default=str(config.DEFAULT_CONFIG), help="parameter file (default: %(default)s)")
    p.add_argument("--as-of", help="YYYY-MM-DD; default: the latest order date in the store")
    p.add_argument("--store", help="DuckDB store; default: the parameter file's")
    p.add_argument("--out", help="output folder; default: the parameter file's")
    p.set_defaults(func=_run)

    p = sub.add_parser("demo", help="write a generated DEMO shop's raw export files")
    p.add_argument("--out", required=True, help="folder to write")
    p.add_argument("--skus", type=int, default=200)
    p.add_argument("--days", type=int, default=540)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--end", default="2026-11-22", help="last day of the generated history")
    p.set_defaults(func=_demo)

    p = sub.add_parser("po", help="purchase orders")
    po_sub = p.add_subparsers(dest="po_command", required=True)
    pi = po_sub.add_parser("import", help="record the buyer quantities of an edited replenishment.xlsx")
    pi.add_argument("file")
    pi.add_argument("--store", default=str(config.DEFAULT_STORE))
    pi.set_defaults(func=_po_import)

    p = sub.add_parser("bench", help="benchmark the batch on generated shops")
    p.add_argument("--sizes", default="1000,10000", help="comma-separated SKU counts (default: %(default)s)")
    p.add_argument("--out", default="bench", help="folder for the shops and results")
    p.add_argument("--keep", action="store_true", help="keep the generated shops")
    p.add_argument("--reuse", action="store_true", help="use the shops an earlier --keep run left in --out")
    p.add_argument("--intake-lines", type=int, default=0,
                   help="first benchmark the intake of about this many 抖店 order lines (e.g. 5000000)")
    p.set_defaults(func=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from restock.batch import RunError

    try:
        return args.func(args)
    except RunError as exc:
        print(f"restock {args.command}: {exc}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError) as exc:  # ExportError is a ValueError
        print(f"restock {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
