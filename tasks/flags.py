"""One meaning per short flag across every task.

invoke gives each option of a task the first letter of its name that is still free in that
task (``auto_shortflags``), so the same letter means different things in different tasks
(``-s``: ``--strategy`` on a deploy, ``--sequential`` on full-deploy, whose ``--strategy``
became ``-t``, which is ``--to`` on a rollback). A task declared with ``klass=OneMeaning``
gets no automatic short flags: only the ones in :data:`SHORT`, which mean the same in every
task that takes them.
"""

from __future__ import annotations

from invoke import Task

#: the only short flags: each long option's one letter, the same in every task
SHORT = {"dry-run": "d", "yes": "y", "message": "m", "lines": "n"}


class OneMeaning(Task):
    """A task whose short flags are :data:`SHORT`'s, none assigned by letter."""

    def __init__(self, *args, **kwargs):
        kwargs["auto_shortflags"] = False
        super().__init__(*args, **kwargs)

    def arg_opts(self, name, default, taken_names):
        opts = super().arg_opts(name, default, taken_names)
        short = SHORT.get(opts["names"][0])
        if short and short not in taken_names:
            opts["names"].append(short)
        return opts
