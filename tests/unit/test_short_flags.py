"""Short flags: a task declared with flags.OneMeaning gets only -d --dry-run, -y --yes and
-m --message; every task is declared so, and no short flag means two things."""

from __future__ import annotations

from collections import defaultdict

from invoke import Collection, task

from tasks import flags, ns


def short_flags(collection: Collection) -> dict[str, dict[str, set[str]]]:
    """letter -> long option -> the tasks where the letter means it."""
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for ctx in collection.to_contexts():
        for arg in ctx.args.values():
            long = next(n for n in arg.names if len(n) > 1)
            for name in arg.names:
                if len(name) == 1:
                    out[name][long].add(ctx.name)
    return out


def test_one_meaning_gives_only_the_shared_short_flags():
    @task(klass=flags.OneMeaning)
    def demo(c, strategy=None, dry_run=False, sequential=False, yes=False, message="", to=None):
        pass

    names = {a.name: set(a.names) for a in demo.get_arguments()}
    assert names == {
        "strategy": {"strategy"}, "dry_run": {"dry-run", "d"}, "sequential": {"sequential"},
        "yes": {"yes", "y"}, "message": {"message", "m"}, "to": {"to"},
    }  # fmt: skip


def test_every_task_takes_only_the_shared_short_flags():
    """-t would be --to on one task and Fabric's --connect-timeout before a task name."""
    wrong = {
        (letter, long, task)
        for letter, meanings in short_flags(ns).items()
        for long, tasks in meanings.items()
        for task in tasks
        if flags.SHORT.get(long) != letter
    }
    assert wrong == set()


def test_no_short_flag_takes_a_new_second_meaning():
    clashes = {letter for letter, meanings in short_flags(ns).items() if len(meanings) > 1}
    assert clashes == set()
    for long, letter in flags.SHORT.items():  # the shared ones mean one thing everywhere
        assert set(short_flags(ns).get(letter, {long: ()})) == {long}, letter
