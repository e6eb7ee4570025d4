"""The read side: projections of the journal and the per-account report fan-out.

Below the services (gateway, FIX, market data, reporter) that serve what
these fold, beside the engine (neither imports the other): projections read
sealed batches only, never the engine's state.
"""
