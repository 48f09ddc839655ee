"""Run by Python at start-up in the processes tests start (see ``training_probe.py``)."""

import os

from training_probe import LOG_ENV, install

if os.environ.get(LOG_ENV):
    install()
