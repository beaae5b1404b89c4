"""coord stage."""
