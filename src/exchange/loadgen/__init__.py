"""`exchange bench`: an open-loop load generator for the whole exchange (issue 7).

The plan (plan.py) is fixed before anything is sent, so a slow server cannot
slow the load down; the drivers (rest_driver.py, fix_driver.py,
engine_driver.py) send it over REST, FIX 4.4 or the engine's own wire and
time every request from its scheduled arrival; every user holds its own
WebSocket stream (streams.py) and counts its fills; several generator
processes (workers.py) each drive a share and their histograms merge; the
summary (summary.py) ends in one JSON line and a PNG plot.
"""
