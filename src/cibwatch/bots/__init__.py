"""bots stage."""
