"""Multi-agent text games on PettingZoo's APIs."""
