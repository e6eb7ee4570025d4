"""`exchange bench`: an open-loop load generator for the whole exchange (issue 7).

The plan (plan.py) is fixed before anything is sent, so a slow server cannot
slow the load down; the drivers (rest_driver.py, fix_driver.py) send it over
REST or FIX 4.4 and time every request from its scheduled arrival; every user
holds its own WebSocket stream (streams.py) and counts its fills; the summary
(summary.py) ends in one JSON line and a PNG plot.
"""
