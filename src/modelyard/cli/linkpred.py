"""`predict RUN --head H --relation R | --relation R --tail T | --data QUERIES [--k 10]`:
the top-K entities of link prediction queries (options added to `predict`)."""

from __future__ import annotations


def add_link_options(predict) -> None:
    group = predict.add_argument_group(
        "link prediction runs", "ask for the missing head or tail of one query"
    )
    group.add_argument("--head", metavar="H", help="the head entity (asks for the tail)")
    group.add_argument("--relation", metavar="R", help="the relation")
    group.add_argument("--tail", metavar="T", help="the tail entity (asks for the head)")
    group.add_argument("--k", type=int, default=10, help="entities per query (default 10)")
    group.add_argument(
        "--exclude-known",
        action="store_true",
        help="leave out entities that complete a known (train, validation or test) triple; "
        "by default they are listed with known=True",
    )


def asks_links(args) -> bool:
    return any(x is not None for x in (args.head, args.relation, args.tail))


def run_link_predict(args, model=None) -> int:

    import pandas as pd

    from modelyard.api import Model
    from modelyard.cli.tables import checked_out, write_table
    from modelyard.errors import UserError
    from modelyard.train.progress import log

    out = checked_out(args.out, args.overwrite)
    if asks_links(args) and args.data:
        raise UserError(
            "give one query (--head/--relation/--tail) or a file of them (--data), not both"
        )
    model = model or Model.load(args.run)
    if not hasattr(model, "predict_links"):
        raise UserError(
            f"'{args.run}' is not a link prediction run (task: link_prediction); --head, --relation and --tail ask one"
        )
    if args.data:
        asked = model.predict(args.data, k=args.k, exclude_known=args.exclude_known)
    else:
        query = pd.DataFrame(
            {"head": [args.head], "relation": [args.relation], "tail": [args.tail]}
        )
        asked = model.predict_links(query, args.k, args.exclude_known)
    write_table(asked, out)
    log(
        f"{len(asked)} predictions for {asked['query'].nunique()} queries"
        + (f"; written to {out}" if out else "")
    )
    return 0
