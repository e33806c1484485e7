"""Cal.com → askpro: webhook handlers and the periodic reconciliation that repairs drops."""
