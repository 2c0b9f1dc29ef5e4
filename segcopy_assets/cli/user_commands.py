"""``segcopy review user add|remove|list``: the users of the review page (its users file).

The file is ``--users-file``, else ``$SEGCOPY_REVIEW_USERS_FILE``, else
``$SEGCOPY_HOME/review_users.toml`` (:mod:`segcopy_assets.review.users`); ``segcopy review
serve`` signs people in with it. Passwords are read with getpass (twice), or once from standard
input with ``--password-stdin``, and only their argon2id hash is stored.
"""

import argparse
import getpass
import sys


def _path(args):
    from segcopy_assets.review.users import users_path

    return users_path(args.users_file)[0]


def _read_password(args) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        print("segcopy review user: the passwords differ; nothing changed", file=sys.stderr)
        return None
    return first


def cmd_user_add(args) -> int:
    from segcopy_assets.errors import SettingsError
    from segcopy_assets.review.users import add_user, check_name

    path = _path(args)
    try:
        check_name(args.name)
        password = _read_password(args)
        if password is None:
            return 1
        new = add_user(path, args.name, password, args.role)
    except SettingsError as exc:
        print(f"segcopy review user: {exc}", file=sys.stderr)
        return 1
    print(f"{'added' if new else 'updated'} {args.name} ({args.role}) in {path}")
    return 0


def cmd_user_remove(args) -> int:
    from segcopy_assets.errors import SettingsError
    from segcopy_assets.review.users import remove_user

    path = _path(args)
    try:
        removed = remove_user(path, args.name)
    except SettingsError as exc:
        print(f"segcopy review user: {exc}", file=sys.stderr)
        return 1
    if not removed:
        print(f"segcopy review user: there is no user {args.name!r} in {path}", file=sys.stderr)
        return 1
    print(f"removed {args.name} from {path} (their sessions end at their next request)")
    return 0


def cmd_user_list(args) -> int:
    from segcopy_assets.errors import SettingsError
    from segcopy_assets.review.users import read_users

    path = _path(args)
    try:
        users = read_users(path)
    except SettingsError as exc:
        print(f"segcopy review user: {exc}", file=sys.stderr)
        return 1
    if not users:
        print(f"no users in {path}")
        return 0
    for name in sorted(users):
        print(f"{name:<32} {users[name].role}")
    return 0


def add_commands(review_sub: argparse._SubParsersAction) -> None:
    from segcopy_assets.review.users import ROLES

    user = review_sub.add_parser("user", help="users who sign in to the review page (a team)")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    where = "default: $SEGCOPY_REVIEW_USERS_FILE or $SEGCOPY_HOME/review_users.toml"
    add = user_sub.add_parser("add", help="add a user, or set their password and role")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="reviewer", help="viewers cannot decide")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from one line of stdin"
    )
    add.set_defaults(func=cmd_user_add)
    remove = user_sub.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    remove.set_defaults(func=cmd_user_remove)
    listing = user_sub.add_parser("list", help="user names and roles")
    listing.set_defaults(func=cmd_user_list)
    for p in (add, remove, listing):
        p.add_argument("--users-file", help=where)
