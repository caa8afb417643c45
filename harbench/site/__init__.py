"""``harbench site -o DIR``: a multi-page static leaderboard site (no server, no network)."""
