"""Journal errors."""


class JournalCorruptError(Exception):
    """The journal is damaged somewhere other than a torn tail; recovery must stop."""
