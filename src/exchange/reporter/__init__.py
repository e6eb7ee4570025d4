"""The reporter: consolidated orders, executions, movements and statements in SQL, exactly once."""
