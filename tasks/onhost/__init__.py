"""What is shipped to the hosts and run there: standard library only.

``hostrun.py`` (the on-host step loop) with ``policy.py`` beside it (the failure rules both
executors share) is uploaded per run; ``roothelper.py`` is installed by ``fab setup`` as the
fixed root helper. Nothing here imports from the rest of ``tasks``: a unit test holds that.
"""
