"""`recommend RUN --user ID | --users FILE | --similar-to ITEM --k 10 --out FILE`: top-K items
per user, or the items most like an item."""

from __future__ import annotations

from pathlib import Path


def add_recommend(verbs) -> None:
    recommend = verbs.add_parser(
        "recommend",
        help="the top-K items for users of a task: recommendation run, or items like an item",
    )
    recommend.add_argument("run", help="run directory (or its model/ folder)")
    who = recommend.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", action="append", metavar="ID", help="a user id (repeatable)")
    who.add_argument(
        "--users", metavar="FILE", help="a text file of user ids, one per line (no header)"
    )
    who.add_argument(
        "--similar-to",
        action="append",
        metavar="ITEM",
        help="an item id (repeatable): its K most similar items by cosine similarity of the "
        "item vectors, the item itself left out; writes item, rank, similar_item, similarity",
    )
    recommend.add_argument(
        "--k", type=int, default=10, help="items per user, or per --similar-to item (default 10)"
    )
    recommend.add_argument(
        "--items",
        metavar="FILE",
        help="an items table with the run's item id and feature columns: items the run does not "
        "know are recommended too, scored from their features (two_tower with items.features)",
    )
    recommend.add_argument(
        "--include-seen",
        action="store_true",
        help="also rank items the user already interacted with (by default they are left out)",
    )
    recommend.add_argument(
        "--fallback",
        choices=["popular"],
        help="popular: users the model does not know get the K items with the most "
        "interactions (no score), and a source column says model or popular; without it, "
        "an unknown user is an error",
    )
    recommend.add_argument(
        "--out",
        help="write user, rank, item, score, seen_excluded (and source, with --fallback) to this "
        "file (.csv, .tsv, .parquet, .jsonl); default: CSV on stdout",
    )
    recommend.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def run_recommend(args) -> int:
    from modelyard.api import Model
    from modelyard.cli.tables import checked_out, write_table
    from modelyard.errors import UserError
    from modelyard.train.progress import log

    out = checked_out(args.out, args.overwrite)
    if args.similar_to and (args.include_seen or args.fallback):
        raise UserError(
            "--similar-to ranks items, not a user's: leave out --include-seen and --fallback"
        )
    users = args.user or (_read_users(Path(args.users)) if args.users else [])
    model = Model.load(args.run)
    if not hasattr(model, "recommend"):
        raise UserError(f"'{args.run}' is not a recommendation run (task: recommendation)")
    if args.items:
        log(f"{model.add_items(args.items)} new items from {args.items}")
    if args.similar_to:
        table = model.similar_items(args.similar_to, args.k)
        summary = f"{len(table)} similar items for {len(args.similar_to)} items"
    else:
        table = model.recommend(users, args.k, args.include_seen, args.fallback)
        seen = "included (--include-seen)" if args.include_seen else "excluded"
        summary = f"{len(table)} recommendations for {len(users)} users; items they interacted with {seen}"
    write_table(table, out)
    log(summary + (f"; written to {out}" if out else ""))
    return 0


def _read_users(path: Path) -> list[str]:
    from modelyard.errors import UserError

    if not path.is_file():
        raise UserError(f"--users '{path}' does not exist")
    users = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not users:
        raise UserError(f"--users '{path}' holds no user ids (one per line)")
    return users
