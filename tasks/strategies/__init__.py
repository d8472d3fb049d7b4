"""How a deploy and a rollback happen: ``manual`` (the manual's steps, in place) and
``release`` (a new directory per release, switched to; blue/green and the conversion of a
manual host beside it). The flows ask the app (tasks/apps/) for its plans."""
