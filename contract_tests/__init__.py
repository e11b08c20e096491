"""Contract tests: check any server or client against the spec in specs/."""
